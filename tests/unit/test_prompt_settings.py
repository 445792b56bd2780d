"""The ``prompts`` settings section: a preset or a variable changes what the model receives and what a refusal says."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.answer.citations import resolve_citations
from rag.pipeline import Pipeline
from rag.settings import BUNDLED_CORPUS, PromptSettings, Settings
from rag.types import Citation, Message
from tests.conftest import SENTINEL, SENTINEL_QUESTION
from tests.fakes import REWRITE_SYSTEM_PROMPT, SYSTEM_PROMPT, FakeEmbedder, FakeLLM

TERSE = {"answer_system": "Answer in one sentence, citing [n]. Otherwise reply: {refusal}",
         "refusal": "Not in the reports.", "refusal_with_closest": "{refusal} Nearest: {quote} [1]."}


def _preset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: object) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = tmp_path / "config" / "rag" / "presets" / "terse.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


def _pipeline(index_dir: Path, llm: FakeLLM, **sections: object) -> Pipeline:
    settings = Settings(index={"corpus_dir": BUNDLED_CORPUS, "index_dir": index_dir}, **sections)
    return Pipeline(settings, embedder=FakeEmbedder(), llm=llm)


def test_the_defaults_are_the_measured_texts() -> None:
    """The eval figures were measured with these texts: a change must be re-measured, then this hash updated."""
    prompts = PromptSettings().model_dump()
    assert hashlib.sha256(json.dumps(prompts, sort_keys=True).encode()).hexdigest() == (
        "cc20a8f3e44f12b12815bac716ed5bbcf38b31bff64ebf891271acaf0a6e7c46")
    assert SYSTEM_PROMPT.splitlines()[3] == "If none of the sources contains the answer, reply only: " + prompts["refusal"]


def test_a_preset_changes_what_the_llm_receives_and_the_refusal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                               fake_index_dir: Path) -> None:
    _preset(monkeypatch, tmp_path, {"description": "Terse.", "prompts": TERSE, "citations": {"mode": "write-first"}})
    llm = FakeLLM()
    pipeline = _pipeline(fake_index_dir, llm, preset="terse")
    pipeline.ask(SENTINEL_QUESTION)
    system = "Answer in one sentence, citing [n]. Otherwise reply: Not in the reports."
    assert llm.calls[0].system == system != SYSTEM_PROMPT
    assert pipeline.prompt_builder.warm_up()[0]["content"] == system  # what the embedded model keeps warm

    refusing = FakeLLM(refuse=True, prompts=pipeline.settings.prompts)  # replies with the preset's refusal
    nothing = _pipeline(fake_index_dir, refusing, preset="terse").ask("What is the capital of Australia?")
    assert nothing.refused and nothing.text == "Not in the reports." and nothing.citations == []
    related = _pipeline(fake_index_dir, refusing, preset="terse").ask(SENTINEL_QUESTION)
    assert related.refused and related.text.startswith("Not in the reports. Nearest: ")
    assert [c.key for c in related.citations] == [SENTINEL]
    torn = FakeLLM(preference=0.9, prompts=pipeline.settings.prompts)
    _pipeline(fake_index_dir, torn, preset="terse").ask(SENTINEL_QUESTION)
    assert torn.prefer_calls[0].first == "Not in the reports."  # the refusal probability weighs the same sentence


def test_variables_change_the_rewrite_and_the_user_message(monkeypatch: pytest.MonkeyPatch,
                                                           fake_index_dir: Path) -> None:
    monkeypatch.setenv("RAG_CITATIONS__MODE", "write-first")
    monkeypatch.setenv("RAG_PROMPTS__REWRITE_SYSTEM", "Make the last question stand alone.")
    monkeypatch.setenv("RAG_PROMPTS__ANSWER_USER", "Question: {question}\n\nNumbered reports:\n\n{sources}")
    llm = FakeLLM(lambda messages: SENTINEL_QUESTION if messages[0]["content"].startswith("Make") else None)
    pipeline = _pipeline(fake_index_dir, llm)
    history: list[Message] = [{"role": "user", "content": SENTINEL_QUESTION},
                              {"role": "assistant", "content": "Seizures [1]."}]
    pipeline.ask("And when?", history=history)
    rewrite, answering = llm.calls
    assert rewrite.system == "Make the last question stand alone." != REWRITE_SYSTEM_PROMPT
    assert answering.system == SYSTEM_PROMPT
    assert answering.user.startswith(f"Question: {SENTINEL_QUESTION}\n\nNumbered reports:\n\n[1] (from ")
    assert pipeline.prompt_builder.warm_up()[1]["content"] == "Question:"  # what every answer's prompt starts with


def test_the_extract_prompts_are_what_the_model_receives_in_both_steps(monkeypatch: pytest.MonkeyPatch,
                                                                       fake_index_dir: Path) -> None:
    monkeypatch.setenv("RAG_PROMPTS__EXTRACT_SYSTEM", "Pick the sentences that answer.")
    monkeypatch.setenv("RAG_PROMPTS__EXTRACT_WRITE", "You picked:\n{evidence}\n\nNow answer briefly.")
    llm = FakeLLM(prompts=PromptSettings(extract_write="You picked:\n{evidence}\n\nNow answer briefly."))  # copies
    pipeline = _pipeline(fake_index_dir, llm, citations={"write_answer": True, "add_best_sentence": "off"})
    answer = pipeline.ask(SENTINEL_QUESTION)
    [(choosing, options, most)] = llm.choose_calls
    assert choosing[0]["content"] == "Pick the sentences that answer." and most == 3
    assert pipeline.prompt_builder.warm_up()[0]["content"] == "Pick the sentences that answer."
    [writing] = llm.calls
    chosen = writing.messages[2]["content"]  # the model's choice, as the writing step sees it
    assert writing.messages[:2] == choosing and chosen.startswith("[") and chosen.strip("[]") in options
    assert writing.user.startswith(f"You picked:\n{chosen} ") and writing.user.endswith("Now answer briefly.")
    quote = answer.citations[0].quote
    assert not answer.refused and answer.text.startswith(f"{quote.rstrip('.')} [1]") and answer.evidence_first
    assert writing.user == f"You picked:\n{chosen} {quote}\n\nNow answer briefly."


def test_the_configured_refusal_is_recognised_in_any_language() -> None:
    source = Citation("002.txt", 9, "The Operation resulted in over 100 seizures of drugs.", 0.6)
    german = "Das steht nicht in den Berichten."
    resolved = resolve_citations("Das steht nicht in den Berichten [1].", [source], refusal=german)
    assert resolved.refused and resolved.text == german and resolved.citations == []
    assert not resolve_citations("Das steht nicht in den Berichten [1].", [source], refusal="Not found.").refused


@pytest.mark.parametrize(("prompts", "expected"), [
    ({"answer_user": "Sources: {sources}"}, "prompts.answer_user: Value error, must contain {question}"),
    ({"refusal": "Not in {reports}."}, "prompts.refusal: Value error, unknown placeholder {reports} (allowed: none)"),
    ({"answer_system": "Reply {refusal"}, "prompts.answer_system: Value error, not a template"),
    ({"refusl": "x"}, "unknown key 'prompts.refusl' (did you mean 'prompts.refusal'?)"),
])
def test_a_bad_prompt_in_a_preset_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             prompts: dict[str, str], expected: str) -> None:
    path = _preset(monkeypatch, tmp_path, {"prompts": prompts})
    with pytest.raises(ValidationError) as error:
        Settings(preset="terse")
    message = error.value.errors()[0]["msg"]
    assert "\n" not in message and message.startswith(f"preset file {path}: {expected}")

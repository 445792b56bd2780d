"""The pipeline's wiring and decisions in milliseconds: ``FakeEmbedder`` and ``FakeLLM`` over a real FAISS index.

Question -> (rewrite, translation) -> retrieval -> prompt -> model -> citations -> verification -> ``Answer``,
with every prompt the model received on record. What the real models make of it is tested in tests/integration.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from rag.errors import IndexNotFound, InvalidQuestion, LLMUnavailable
from rag.pipeline import Pipeline
from rag.settings import BUNDLED_CORPUS, Settings
from rag.types import Message
from tests.conftest import SENTINEL, SENTINEL_QUESTION, sections_over
from tests.fakes import (
    PROMPTS,
    REFUSAL,
    REWRITE_SYSTEM_PROMPT,
    SYSTEM_PROMPT,
    TRANSLATE_SYSTEM_PROMPT,
    FakeEmbedder,
    FakeLLM,
    answer_citing,
    first_sentence,
    prompt_sources,
)

SEIZURES = "over 100 seizures"  # in the Sentinel paragraph only
CLAIM = "Operation Sentinel resulted in over 100 seizures of drugs"
FOLLOW_UP = "And when did it take place?"
HISTORY: list[Message] = [{"role": "user", "content": SENTINEL_QUESTION},
                          {"role": "assistant", "content": f"{CLAIM} [1]."}]


def paragraph(doc_id: str, number: int) -> str:
    """Paragraph ``number`` of a bundled report as a reader counts it (every non-empty block), read directly."""
    text = (BUNDLED_CORPUS / doc_id).read_text(encoding="utf-8")
    return [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()][number - 1]


def fake_pipeline(index_dir: Path, llm: FakeLLM, corpus: Path = BUNDLED_CORPUS, **sections: Any) -> Pipeline:
    """The pipeline over fakes; ``sections`` as ``Settings`` takes them (``questions={"followup_turns": 0}``).

    This file pins the write-first path (the model writes [n] markers, which are then checked), which the
    ``write-first`` preset keeps; ``tests/unit/test_extract_pipeline.py`` covers the default extract path.
    """
    base = {"index": {"corpus_dir": corpus, "index_dir": index_dir}}
    settings = Settings(**sections_over(base, sections), preset="write-first")
    return Pipeline(settings, embedder=FakeEmbedder(), llm=llm)


def files(directory: Path) -> dict[str, tuple[int, int]]:
    """Every index file under ``directory`` with its size and modification time: a write changes this.

    The writers' lock file is left out: taking the lock to find that nothing changed is no write.
    """
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != ".lock"}


def test_an_answer_cites_the_paragraph_its_marker_points_at(fake_index_dir: Path) -> None:
    llm = FakeLLM(answer_citing(SEIZURES, CLAIM))
    answer = fake_pipeline(fake_index_dir, llm).ask(SENTINEL_QUESTION)

    [call] = llm.calls
    assert call.system == SYSTEM_PROMPT and call.user.endswith(f"Question: {SENTINEL_QUESTION}")
    shown = prompt_sources(call.user)
    assert list(shown) == list(range(1, len(answer.sources) + 1))  # the prompt numbers every source, in order
    number = next(n for n, text in shown.items() if SEIZURES in text)
    assert number > 1, "the Sentinel paragraph should not be source [1] here, so that renumbering is checked"
    assert answer.sources[number - 1].key == SENTINEL  # prompt [n] is sources[n - 1]
    assert answer.raw_text == f"{CLAIM} [{number}]."

    assert not answer.refused and answer.text == f"{CLAIM} [1]."  # renumbered: [1] is citations[0]
    [citation] = answer.citations
    assert citation.key == SENTINEL and citation.text == paragraph(*SENTINEL)
    assert SEIZURES in citation.quote and citation.quote in citation.text and not citation.attributed
    assert [(c.kind, c.supported) for c in answer.claims] == [("claim", True)]
    assert (answer.backend, answer.model, answer.rewritten_question, answer.search_question) == (
        "fake", "fake-llm", None, None)


def test_streaming_yields_the_models_words_then_the_verified_answer(fake_index_dir: Path) -> None:
    llm = FakeLLM()  # quotes the first sentence of source [1]
    stream = fake_pipeline(fake_index_dir, llm).stream("Who is Andrei Belyaninov?")
    deltas = list(stream)
    answer = stream.result

    assert answer is not None and len(deltas) > 5  # word by word, not one block at the end
    assert "".join(deltas) == answer.raw_text == answer.text
    quoted = first_sentence(prompt_sources(llm.calls[0].user)[1])
    assert answer.text == f"{quoted.rstrip('.')} [1]." and "Belyaninov" in quoted
    assert [c.key for c in answer.citations] == [answer.sources[0].key] and answer.citations[0].quote == quoted
    assert answer.completion_tokens == len(deltas)
    assert answer.prompt_tokens == sum(len(m["content"].split()) for m in llm.calls[0].messages)
    assert {"embed", "search", "llm_first_token", "llm_total", "total"} <= set(answer.timings)


def test_a_follow_up_is_rewritten_by_the_model_then_retrieved_and_answered(fake_index_dir: Path) -> None:
    rewritten = "When did Operation Sentinel take place?"
    cite = answer_citing("August and September 2009", "Operation Sentinel took place in August and September 2009")
    llm = FakeLLM(lambda messages: rewritten if messages[0]["content"] == REWRITE_SYSTEM_PROMPT else cite(messages))
    answer = fake_pipeline(fake_index_dir, llm, questions={"followup_max_tokens": 32}).ask(FOLLOW_UP, history=HISTORY)

    rewrite, answering = llm.calls
    assert rewrite.system == REWRITE_SYSTEM_PROMPT and rewrite.max_tokens == 32
    assert f"User: {SENTINEL_QUESTION}" in rewrite.user and f"Last question: {FOLLOW_UP}" in rewrite.user
    assert f"Assistant: {CLAIM}" in rewrite.user and "[1]" not in rewrite.user  # the earlier answer, no markers
    assert answering.system == SYSTEM_PROMPT and answering.user.endswith(f"Question: {rewritten}")
    assert answer.question == FOLLOW_UP and answer.rewritten_question == rewritten and "rewrite" in answer.timings
    assert not answer.refused and [c.key for c in answer.citations] == [SENTINEL]  # "it" found Operation Sentinel

    plain = FakeLLM()
    assert fake_pipeline(fake_index_dir, plain).ask(FOLLOW_UP).rewritten_question is None
    assert [c.system for c in plain.calls] == [SYSTEM_PROMPT]  # no history: no rewrite call
    off = FakeLLM()
    fake_pipeline(fake_index_dir, off, questions={"followup_turns": 0}).ask(FOLLOW_UP, history=HISTORY)
    assert [c.system for c in off.calls] == [SYSTEM_PROMPT]


def test_a_question_in_another_language_is_searched_and_answered_in_english(fake_index_dir: Path) -> None:
    russian = "Что было изъято в ходе операции «Sentinel»?"
    cite = answer_citing(SEIZURES, CLAIM)
    llm = FakeLLM(lambda messages: SENTINEL_QUESTION if messages[0]["content"] == TRANSLATE_SYSTEM_PROMPT
                  else cite(messages))
    pipeline = fake_pipeline(fake_index_dir, llm, questions={"translation_max_tokens": 40})
    answer = pipeline.ask(russian)

    translation, again, answering = llm.calls  # two prompts translate (the second's reply here is no English)
    assert translation.system == TRANSLATE_SYSTEM_PROMPT and translation.user == russian
    assert again.system == PROMPTS.translate_again_system and again.user == russian
    assert translation.max_tokens == again.max_tokens == 40
    assert answering.user.endswith(f"Question: {SENTINEL_QUESTION}")  # the model answers the English question
    assert answer.question == russian and answer.search_question == SENTINEL_QUESTION
    assert "translate" in answer.timings and [c.key for c in answer.citations] == [SENTINEL]

    english = FakeLLM(answer_citing(SEIZURES, CLAIM))
    assert fake_pipeline(fake_index_dir, english).ask(SENTINEL_QUESTION).search_question is None
    assert [c.system for c in english.calls] == [SYSTEM_PROMPT]  # English questions cost no extra call
    untranslated = FakeLLM()
    fake_pipeline(fake_index_dir, untranslated, questions={"translate": False}).ask(russian)
    assert [c.system for c in untranslated.calls] == [SYSTEM_PROMPT]


@pytest.mark.parametrize("question", ["", "   ", "\u200b\u200b", "\n\t"])
def test_an_empty_question_is_one_line_and_reaches_neither_model(question: str, tmp_path: Path) -> None:
    llm = FakeLLM()
    pipeline = fake_pipeline(tmp_path / "no-index", llm)  # not even an index is needed to refuse it
    for call in (pipeline.ask, pipeline.stream, pipeline.retrieve):
        with pytest.raises(InvalidQuestion) as refused:
            call(question)
        assert str(refused.value) == "the question is empty; ask something about the reports"
    assert llm.calls == [] and not (tmp_path / "no-index").exists()


def test_an_unavailable_model_is_one_line_and_a_missing_probability_is_not(
        fake_index_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    down = "Ollama is not reachable at http://127.0.0.1:9; start it with `ollama serve`"
    pipeline = fake_pipeline(fake_index_dir, FakeLLM(unavailable=down))
    with pytest.raises(LLMUnavailable) as failed:
        pipeline.ask(SENTINEL_QUESTION)
    assert str(failed.value) == down
    with pytest.raises(LLMUnavailable, match="^Ollama is not reachable"):
        list(pipeline.stream(SENTINEL_QUESTION))

    # Only the refusal probability is unavailable: the answer is kept, with a warning.
    llm = FakeLLM(answer_citing(SEIZURES, CLAIM), preference=LLMUnavailable("the embedded model stopped"))
    with caplog.at_level(logging.WARNING):  # whichever rag module decides it
        answer = fake_pipeline(fake_index_dir, llm).ask(SENTINEL_QUESTION)
    assert not answer.refused and [c.key for c in answer.citations] == [SENTINEL]
    assert "refusal_probability" not in answer.abstention
    assert "no refusal probability for this answer: the embedded model stopped" in caplog.text


def test_the_models_own_refusal_probability_decides_a_torn_answer(fake_index_dir: Path) -> None:
    confident = FakeLLM(answer_citing(SEIZURES, CLAIM), preference=0.05)
    answer = fake_pipeline(fake_index_dir, confident).ask(SENTINEL_QUESTION)
    [asked] = confident.prefer_calls
    assert asked.messages == confident.calls[0].messages  # weighed on the answer prompt itself
    assert (asked.first, asked.second) == (REFUSAL, answer.raw_text)
    assert not answer.refused and answer.abstention["refusal_probability"] == 0.05

    torn = fake_pipeline(fake_index_dir, FakeLLM(answer_citing(SEIZURES, CLAIM), preference=0.9))
    refused = torn.ask(SENTINEL_QUESTION)
    assert refused.refused and refused.abstention["refusal_probability"] == 0.9
    assert [c.key for c in refused.citations] == [SENTINEL]  # the closest passage, as a refusal shows it


def test_a_refusal_keeps_no_wrong_citation(fake_index_dir: Path) -> None:
    # Nothing related in the reports: the model's refusal stands alone.
    nothing = fake_pipeline(fake_index_dir, FakeLLM(refuse=True)).ask("What is the capital of Australia?")
    assert nothing.refused and nothing.text == REFUSAL and nothing.citations == [] and nothing.sources

    # The model refuses although a passage is related: the refusal points to that passage, with its quote.
    related = fake_pipeline(fake_index_dir, FakeLLM(refuse=True)).ask(SENTINEL_QUESTION)
    assert related.refused and related.text.startswith(f"{REFUSAL} The closest passage says: ")
    assert [c.key for c in related.citations] == [SENTINEL] and related.sources[0].key != SENTINEL
    assert related.text.endswith(f'"{related.citations[0].quote.rstrip(".")}" [1].')

    # The model answers a question the reports do not answer, citing a report about Japan: the evidence
    # check refuses it, and the refusal cites the passage closest to the question, not the model's choice.
    def about_japan(messages: list[Message]) -> str | None:
        sources = prompt_sources(messages[-1]["content"])
        number = next(n for n, text in sources.items() if "Japan" in text)
        return f"{first_sentence(sources[number]).rstrip('.')} [{number}]."

    llm = FakeLLM(about_japan)
    trap = fake_pipeline(fake_index_dir, llm).ask("What did Operation Sentinel seize in Japan?")
    japan = next(s.key for s in trap.sources if "Japan" in s.text)
    assert trap.refused and "do not mention" in trap.text and japan in [s.key for s in trap.sources]
    assert [c.key for c in trap.citations] == [SENTINEL] and trap.claims[0].kind == "refusal"
    assert f"[{[s.key for s in trap.sources].index(japan) + 1}]" in trap.raw_text  # the model did cite Japan


def test_reads_never_build_or_rewrite_an_index(fake_index_dir: Path, tmp_path: Path) -> None:
    before = files(fake_index_dir)
    pipeline = fake_pipeline(fake_index_dir, FakeLLM())
    index = pipeline.index
    pipeline.ask(SENTINEL_QUESTION)
    list(pipeline.stream("Who is Andrei Belyaninov?"))
    pipeline.retrieve("Who opened the supply-chain seminar?", k=3)
    assert pipeline.index is index and files(fake_index_dir) == before

    empty = tmp_path / "empty-index"
    empty.mkdir()
    llm = FakeLLM()
    with pytest.raises(IndexNotFound) as missing:
        fake_pipeline(empty, llm).ask(SENTINEL_QUESTION)
    assert "\n" not in str(missing.value) and list(empty.iterdir()) == [] and llm.calls == []


def test_only_the_first_run_of_the_bundled_sample_is_indexed_by_its_first_question(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    default = Settings()
    assert default.is_first_run_default()
    first = Pipeline(default, embedder=FakeEmbedder(), llm=FakeLLM(answer_citing(SEIZURES, CLAIM)))
    assert first.ask(SENTINEL_QUESTION).citations[0].key == SENTINEL  # built it (ensure_index), then answered
    built = files(default.resolved_index_dir())
    assert built

    again = Pipeline(Settings(), embedder=FakeEmbedder(), llm=FakeLLM())
    again.ask(SENTINEL_QUESTION)
    assert files(default.resolved_index_dir()) == built  # the second run reads what the first built


def test_reindex_adds_a_new_report_and_the_next_answer_cites_it(tmp_path: Path) -> None:
    corpus = tmp_path / "reports"
    shutil.copytree(BUNDLED_CORPUS, corpus)
    llm = FakeLLM()
    pipeline = fake_pipeline(tmp_path / "index", llm, corpus=corpus)
    assert len(pipeline.reindex().added) == 5
    unchanged = files(tmp_path / "index")
    assert not pipeline.reindex().changed and files(tmp_path / "index") == unchanged  # nothing to write

    (corpus / "harbour.md").write_text("Harbour inspection in Port Aldeney\n\n"
                                       "The inspection found 740 kg of undeclared saffron in Port Aldeney.\n")
    report = pipeline.reindex()
    assert report.added == ["harbour.md"] and len(report.unchanged) == 5
    answer = pipeline.ask("How much saffron was found in Port Aldeney?")
    assert answer.text == "The inspection found 740 kg of undeclared saffron in Port Aldeney [1]."
    assert [c.key for c in answer.citations] == [("harbour.md", 2)]

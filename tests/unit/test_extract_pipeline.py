"""The default answer path, extract then answer, over the fakes: the model chooses numbered sentences, the
evidence streams first, the answer is written from it and cites it, and a choice of none is a refusal that
still shows the closest passage. ``tests/unit/test_fast_pipeline.py`` pins the write-first path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rag.errors import LLMUnavailable
from rag.pipeline import Pipeline
from rag.settings import BUNDLED_CORPUS, Settings
from rag.types import Message
from tests.conftest import SENTINEL, SENTINEL_QUESTION, sections_over
from tests.fakes import EXTRACT_SYSTEM, REFUSAL, FakeEmbedder, FakeLLM, answer_citing

SEIZURES = "over 100 seizures"
CLAIM = "Operation Sentinel resulted in over 100 seizures of drugs"
IDS = re.compile(r"^\[(\d+\.\d+)\] ", re.MULTILINE)
IDS_AND_TEXT = re.compile(r"^\[(\d+\.\d+)\] (.*)$", re.MULTILINE)


def pipeline_over(index_dir: Path, llm: FakeLLM, **sections: Any) -> Pipeline:
    settings = Settings(**sections_over({"index": {"corpus_dir": BUNDLED_CORPUS, "index_dir": index_dir}}, sections))
    assert settings.citations.mode == "extract"  # the default
    return Pipeline(settings, embedder=FakeEmbedder(), llm=llm)


def test_the_chosen_sentences_are_the_answer_each_citing_itself(fake_index_dir: Path) -> None:
    llm = FakeLLM(choices=[["3.1", "1.1"]])  # the model's choice, best first
    pipeline = pipeline_over(fake_index_dir, llm, citations={"add_best_sentence": "off"})
    stream = pipeline.stream(SENTINEL_QUESTION)
    deltas = list(stream)
    answer = stream.result
    assert answer is not None and llm.calls == []  # nothing is written: the evidence is the answer
    [(choosing, _, _)] = llm.choose_calls
    sentences = dict(IDS_AND_TEXT.findall(choosing[1]["content"]))
    quotes = [c.quote for c in answer.citations]
    assert quotes == [sentences["3.1"], sentences["1.1"]]
    assert deltas == [f"> {sentences['3.1']} [3.1]\n> {sentences['1.1']} [1.1]\n\n"]  # the evidence, streamed first
    assert answer.text == " ".join(c.text for c in answer.claims)
    assert all(c.supported and c.quote == quotes[n] and c.text.startswith(quotes[n].rstrip("."))
               and c.markers == (n + 1,) for n, c in enumerate(answer.claims))
    assert answer.raw_text == "[3.1] [1.1]\n" and answer.evidence_first and not answer.refused


def test_the_ranker_adds_the_sentence_closest_to_the_question(fake_index_dir: Path) -> None:
    probe = FakeLLM(choices=[["1.1"]])
    pipeline_over(fake_index_dir, probe, citations={"add_best_sentence": "off"}).ask(SENTINEL_QUESTION)
    sentences = dict(IDS_AND_TEXT.findall(probe.choose_calls[0][0][1]["content"]))
    unrelated = next(i for i, text in sentences.items() if "Operation" not in text)  # a choice the ranker would not make
    llm = FakeLLM(choices=[[unrelated]])
    answer = pipeline_over(fake_index_dir, llm).ask(SENTINEL_QUESTION)
    assert answer.chosen[0].quote == sentences[unrelated] and len(answer.chosen) == 2
    assert "Operation" in answer.chosen[1].quote  # the closest sentence under the (fake) embedder and key terms
    only = pipeline_over(fake_index_dir, FakeLLM(choices=[[unrelated]]), citations={"add_best_sentence": "off"})
    assert len(only.ask(SENTINEL_QUESTION).chosen) == 1


def test_the_model_chooses_numbered_sentences_then_writes_from_them(fake_index_dir: Path) -> None:
    llm = FakeLLM(answer_citing(SEIZURES, CLAIM))
    stream = pipeline_over(fake_index_dir, llm, citations={"write_answer": True, "add_best_sentence": "off"}).stream(
        SENTINEL_QUESTION)
    deltas = list(stream)
    answer = stream.result
    assert answer is not None

    [(choosing, options, most)] = llm.choose_calls
    assert choosing[0]["content"] == EXTRACT_SYSTEM and choosing[1]["content"].endswith(SENTINEL_QUESTION)
    assert options == IDS.findall(choosing[1]["content"]) and most == 3  # every shown sentence, and only those
    assert "Source 1 (from " in choosing[1]["content"]
    chosen = next(o for o in options if re.search(rf"^\[{re.escape(o)}\] .*{SEIZURES}", choosing[1]["content"], re.MULTILINE))

    [writing] = llm.calls  # the same prompt, the model's choice, then the request to write from it
    assert writing.messages[:2] == choosing and writing.messages[2] == {"role": "assistant", "content": f"[{chosen}]"}
    assert writing.user.startswith(f"The sentences you chose:\n[{chosen}] The Operation resulted in {SEIZURES}")

    quote = answer.citations[0].quote
    assert deltas[0] == f"> {quote} [{chosen}]\n\n"  # the evidence streams first, before a word is written
    assert "".join(deltas[1:]) == f"{CLAIM}."
    assert answer.raw_text == f"[{chosen}]\n{CLAIM}."
    assert not answer.refused and answer.evidence_first and answer.text == f"{CLAIM} [1]."
    assert [c.key for c in answer.citations] == [SENTINEL] and quote.startswith(f"The Operation resulted in {SEIZURES}")
    assert [(c.kind, c.supported, c.quote) for c in answer.claims] == [("claim", True, quote)]
    assert answer.to_dict()["evidence"] == [{"doc_id": SENTINEL[0], "paragraph": SENTINEL[1], "page": None,
                                            "quote": quote}]
    assert {"llm_choice", "llm_first_token", "llm_total", "total"} <= set(answer.timings)


def test_a_choice_of_none_is_a_refusal_that_shows_the_closest_passage(fake_index_dir: Path) -> None:
    related = pipeline_over(fake_index_dir, FakeLLM(refuse=True)).ask(SENTINEL_QUESTION)
    assert related.refused and related.text.startswith(f"{REFUSAL} The closest passage says: ")
    assert [c.key for c in related.citations] == [SENTINEL] and related.raw_text == "[none]"

    llm = FakeLLM(choices=[[]])
    nothing = pipeline_over(fake_index_dir, llm).ask("What is the capital of Australia?")
    assert nothing.refused and nothing.text == REFUSAL and nothing.citations == [] and llm.calls == []


def test_an_answer_that_adds_a_number_is_replaced_by_the_exact_quote(fake_index_dir: Path) -> None:
    def writer(messages: list[Message]) -> str | None:
        return "Operation Sentinel seized 900 kg of heroin." if messages[-1]["role"] == "user" else None

    llm = FakeLLM(writer, choices=[["2.3", "1.1"]])
    answer = pipeline_over(fake_index_dir, llm, citations={"write_answer": True, "add_best_sentence": "off"}).ask(
        SENTINEL_QUESTION)
    assert "900" not in answer.text and answer.unsupported_sentences == 1
    assert answer.text == " ".join(c.text for c in answer.claims) and len(answer.claims) == len(answer.citations) == 2
    assert all(c.text.startswith(q.quote.rstrip(".")) for c, q in zip(answer.claims, answer.citations))


def test_the_evidence_check_refuses_a_trap_and_names_what_is_missing(fake_index_dir: Path) -> None:
    strict = {"min_window_coverage": 0.8, "window_sentences": 0}  # the chosen sentence must hold 4 terms in 5
    trap = pipeline_over(fake_index_dir, FakeLLM(answer_citing(SEIZURES, CLAIM)), abstention=strict).ask(
        "What did Operation Sentinel seize in Japan?")
    assert trap.refused and "do not mention" in trap.text and '"Japan"' in trap.text
    assert trap.citations and trap.claims[0].kind == "refusal"


def test_a_model_down_while_choosing_is_one_line(fake_index_dir: Path) -> None:
    down = "Ollama is not reachable at http://127.0.0.1:9; start it with `ollama serve`"
    with pytest.raises(LLMUnavailable) as failed:
        pipeline_over(fake_index_dir, FakeLLM(unavailable=down)).ask(SENTINEL_QUESTION)
    assert str(failed.value) == down

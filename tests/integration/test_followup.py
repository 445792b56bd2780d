"""Follow-up questions are rewritten to stand alone before retrieval, only when there is history."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import SENTINEL, SENTINEL_QUESTION
from tests.fake_ollama import FakeOllama, free_port
from tests.fakes import REWRITE_SYSTEM_PROMPT
from tests.unit.test_followup import FOLLOW_UP, HISTORY


def test_no_history_means_no_rewrite_and_no_llm_call(bundled_index_dir: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # any LLM call would fail
    llm, index = {"backend": "ollama", "ollama_host": nowhere}, {"index_dir": bundled_index_dir}
    pipeline = Pipeline(Settings(llm=llm, index=index))
    assert pipeline.rewriter.standalone(FOLLOW_UP, []) == FOLLOW_UP
    off = Pipeline(Settings(llm=llm, index=index, questions={"followup_turns": 0}))
    assert off.rewriter.standalone(FOLLOW_UP, HISTORY) == FOLLOW_UP


def test_the_rewritten_question_is_what_is_retrieved_and_answered(bundled_index_dir: Path) -> None:
    rewritten = "When did Operation Sentinel take place?"
    with FakeOllama(reply=rewritten) as ollama:
        pipeline = Pipeline(Settings(llm={"backend": "ollama", "ollama_host": ollama.host},
                                     index={"index_dir": bundled_index_dir}, questions={"followup_max_tokens": 32},
                                     citations={"mode": "write-first"}))  # one answer call, its cap checked
        answer = pipeline.ask(FOLLOW_UP, history=HISTORY)
        plain = pipeline.ask(SENTINEL_QUESTION)
    chats = [body for path, body in ollama.requests if path == "/api/chat"]
    assert len(chats) == 3  # rewrite + answer, then a question without history: answer only
    rewrite, answering = chats[0], chats[1]
    assert rewrite["messages"][0]["content"] == REWRITE_SYSTEM_PROMPT
    assert rewrite["options"]["num_predict"] == 32  # the rewrite is capped short
    assert SENTINEL_QUESTION in rewrite["messages"][1]["content"]
    assert answering["messages"][-1]["content"].endswith(f"Question: {rewritten}")
    assert answering["options"]["num_predict"] == pipeline.settings.llm.max_answer_tokens
    assert answer.question == FOLLOW_UP and answer.rewritten_question == rewritten
    assert SENTINEL in [(s.doc_id, s.paragraph) for s in answer.sources]  # "it" found Operation Sentinel
    assert plain.rewritten_question is None and "rewrite" not in plain.timings


@pytest.mark.llm
def test_the_embedded_model_resolves_it_to_operation_sentinel(bundled_index_dir: Path, model_cache_dir: Path) -> None:
    pipeline = Pipeline(Settings(llm={"backend": "embedded", "model_cache_dir": model_cache_dir},
                                 index={"index_dir": bundled_index_dir}))
    rewritten = pipeline.rewriter.standalone(FOLLOW_UP, HISTORY)
    assert "Sentinel" in rewritten and rewritten.endswith("?"), rewritten
    assert pipeline.rewriter.standalone("Who is Andrei Belyaninov?", HISTORY) == "Who is Andrei Belyaninov?"

"""The Ollama backend in the pipeline over the real index of the bundled reports, and `auto` falling back to the
embedded model. The client itself: tests/unit/test_ollama_backend.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import LLMUnavailable
from rag.llm.factory import make_llm
from rag.pipeline import Pipeline
from rag.settings import BUNDLED_CORPUS, Settings
from tests.conftest import SENTINEL, SENTINEL_QUESTION
from tests.fake_ollama import FakeOllama, free_port


def test_auto_falls_back_to_embedded_and_says_why(model_cache_dir: Path) -> None:
    with FakeOllama(models=["other:7b"]) as server:
        choice = make_llm(Settings(llm={"backend": "auto", "ollama_host": server.host,
                                          "model_cache_dir": model_cache_dir}).llm)
    assert choice.llm.backend == "embedded"
    assert "fell back to embedded" in choice.reason and "ollama pull qwen2.5:3b" in choice.reason
    down = make_llm(Settings(llm={"backend": "auto", "ollama_host": f"http://127.0.0.1:{free_port()}",
                                  "model_cache_dir": model_cache_dir}).llm)
    assert down.llm.backend == "embedded" and "not reachable" in down.reason


def test_explicit_ollama_never_falls_back(bundled_index_dir: Path) -> None:
    settings = Settings(llm={"backend": "ollama", "ollama_host": f"http://127.0.0.1:{free_port()}"},
                        index={"corpus_dir": BUNDLED_CORPUS, "index_dir": bundled_index_dir})
    pipeline = Pipeline(settings)
    assert pipeline.llm.llm.backend == "ollama"
    with pytest.raises(LLMUnavailable, match="not reachable"):
        pipeline.ask(SENTINEL_QUESTION)


def test_pipeline_through_ollama_wire_format(bundled_index_dir: Path) -> None:
    """Retrieval, prompt, streaming and citation resolution, with Ollama's protocol at the boundary."""
    reply = "Operation Sentinel resulted in over 100 seizures of drugs [2] and more than 160 kg [2][9]."
    with FakeOllama(reply=reply) as server:
        pipeline = Pipeline(Settings(llm={"backend": "ollama", "ollama_host": server.host},
                                     index={"index_dir": bundled_index_dir}, retrieval={"k": 5}, preset="write-first"))
        answer = pipeline.ask(SENTINEL_QUESTION)
        prompt = server.requests[-1][1]["messages"][-1]["content"]
    hits = pipeline.retrieve(SENTINEL_QUESTION)
    sentinel_number = [h.key for h in hits].index(SENTINEL) + 1
    assert f'[{sentinel_number}] (from "10th International Exhibition' in prompt and SENTINEL_QUESTION in prompt
    assert "Whilst in Russia" in prompt
    assert answer.backend == "ollama" and answer.model == "qwen2.5:3b"
    assert answer.dropped_markers == 1  # [9] points at no shown source
    assert answer.text == "Operation Sentinel resulted in over 100 seizures of drugs [1] and more than 160 kg [1]."
    cited = hits[1]
    assert [(c.doc_id, c.paragraph) for c in answer.citations] == [cited.key]
    assert answer.completion_tokens == len(reply.split()) and answer.prompt_tokens == 321
    assert set(answer.timings) >= {"embed", "search", "llm_first_token", "llm_total", "total"}

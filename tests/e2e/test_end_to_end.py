"""End to end with real models: the embedded llama.cpp default, the CLI, and a real Ollama-API server.

These run the packaged Qwen2.5-Coder-1.5B GGUF on the CPU (tens of seconds per answer).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rag.api
from rag import Settings, ask
from rag.llm.gguf import PACKAGED_MODEL_SHA256, assemble_packaged_model
from rag.pipeline import Pipeline
from rag.store.index import SegmentedIndex
from tests.conftest import SENTINEL, SENTINEL_ANSWER_TERMS, SENTINEL_QUESTION
from tests.ollama_stack import OLLAMA_MODEL, ollama_api_server

pytestmark = pytest.mark.llm


def _assert_sentinel_answer(text: str, refused: bool, cited: list[tuple[str, int]]) -> None:
    assert not refused, text
    assert all(term in text.lower() for term in SENTINEL_ANSWER_TERMS), text
    assert SENTINEL in cited, cited


@pytest.fixture(scope="module")
def gguf(model_cache_dir: Path) -> Path:
    return assemble_packaged_model(model_cache_dir, progress=False)


def test_packaged_model_is_assembled_and_verified(gguf: Path) -> None:
    marker = gguf.with_name(gguf.name + ".sha256").read_text().split()
    assert marker == [PACKAGED_MODEL_SHA256, str(gguf.stat().st_size)]
    assert gguf.read_bytes()[:4] == b"GGUF"


def test_ask_builds_the_default_index_and_answers_with_citations(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache_dir: Path) -> None:
    """The public contract: `from rag import ask` with no setup but the environment."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))  # the default index location, empty
    index_dir = tmp_path / "data-home" / "rag" / "index"
    monkeypatch.setenv("RAG_LLM__BACKEND", "embedded")
    monkeypatch.setenv("RAG_LLM__MODEL_CACHE_DIR", str(model_cache_dir))
    monkeypatch.setattr(rag.api, "_default", None)
    answer = ask(SENTINEL_QUESTION)
    assert SegmentedIndex.exists(index_dir)  # the first run of the bundled sample builds its index (the one exception)
    assert isinstance(answer.text, str) and isinstance(answer.refused, bool)
    _assert_sentinel_answer(answer.text, answer.refused, [(c.doc_id, c.paragraph) for c in answer.citations])
    sentinel = next(c for c in answer.citations if (c.doc_id, c.paragraph) == SENTINEL)
    assert sentinel.text.startswith("Whilst in Russia") and isinstance(sentinel.score, float)
    assert "[1]" in answer.text  # markers resolve into answer.citations
    assert answer.backend == "embedded" and answer.model.endswith(".gguf")
    assert answer.timings["llm_first_token"] > 0 and answer.timings["llm_choice"] > 0
    assert answer.evidence_first and answer.raw_text.startswith("[")  # the model's choice of sentences

    # The same process-wide pipeline (and loaded models) serves the next question; it refuses what is not there.
    assert rag.api.default_pipeline() is rag.api._default
    unanswerable = ask("What is the population of Mars?")
    assert unanswerable.refused and unanswerable.citations == []


def test_streaming_yields_the_answer_as_it_is_generated(bundled_index_dir: Path, model_cache_dir: Path) -> None:
    pipeline = Pipeline(Settings(llm={"backend": "embedded", "model_cache_dir": model_cache_dir},
                                 index={"index_dir": bundled_index_dir}))
    stream = pipeline.stream(SENTINEL_QUESTION)
    deltas = list(stream)
    assert deltas[0].startswith("> ") and "100" in deltas[0]  # the evidence arrives first, as quotes
    answer = stream.result
    written = Pipeline(pipeline.settings.model_copy(update={"citations": pipeline.settings.citations.model_copy(
        update={"write_answer": True})}), embedder=pipeline.embedder).stream(SENTINEL_QUESTION)
    assert len(list(written)) > 5  # an answer the model writes streams token by token, after the evidence
    _assert_sentinel_answer(answer.text, answer.refused, [(c.doc_id, c.paragraph) for c in answer.citations])


def test_cli_ask_json(bundled_index_dir: Path, model_cache_dir: Path) -> None:
    env = {**os.environ, "RAG_LLM__MODEL_CACHE_DIR": str(model_cache_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "rag.app.cli", "ask", "--json", "--llm", "embedded", "--index-dir", str(bundled_index_dir),
         SENTINEL_QUESTION], capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"text", "refused", "citations", "claims", "backend", "model", "evidence"}
    assert any("160 kg" in e["quote"] and (e["doc_id"], e["paragraph"]) == SENTINEL for e in data["evidence"])
    assert set(data["citations"][0]) == {"doc_id", "paragraph", "page", "text", "score"}
    assert any(c["supported"] and "160 kg" in c["quote"] for c in data["claims"])  # verified, with its quote
    _assert_sentinel_answer(data["text"], data["refused"], [(c["doc_id"], c["paragraph"]) for c in data["citations"]])
    assert data["backend"] == "embedded"
    assert "embedded" in result.stderr  # the log says which backend answered


def test_answers_through_a_real_ollama_api_server(tmp_path: Path, gguf: Path, bundled_index_dir: Path) -> None:
    """The unmodified `ollama` client against Ollama's HTTP API, with a real model behind it.

    The server here is an Ollama-compatible proxy in front of llama.cpp's server, which refuses Ollama's JSON
    schema (``format``): the evidence step then reads the ids the model writes unconstrained, as it would from
    any server without structured outputs. The written path is checked for the whole Sentinel answer."""
    with ollama_api_server(gguf, tmp_path) as host:
        settings = Settings(llm={"backend": "auto", "ollama_host": host, "ollama_model": OLLAMA_MODEL},
                            index={"index_dir": bundled_index_dir})
        pipeline = Pipeline(settings)
        assert pipeline.llm.llm.backend == "ollama"  # auto picks Ollama when it answers and has the model
        answer = pipeline.ask(SENTINEL_QUESTION)
        written = Pipeline(settings.model_copy(update={"citations": settings.citations.model_copy(
            update={"mode": "write-first"})})).ask(SENTINEL_QUESTION)
    assert answer.backend == "ollama" and answer.model == OLLAMA_MODEL
    assert not answer.refused and answer.evidence_first and answer.raw_text.startswith("[")  # ids it wrote
    assert SENTINEL in [(c.doc_id, c.paragraph) for c in answer.citations], answer.text
    assert all(c.quote in c.text for c in answer.citations)  # each citation quotes its paragraph word for word
    assert written.backend == "ollama"
    _assert_sentinel_answer(written.text, written.refused, [(c.doc_id, c.paragraph) for c in written.citations])

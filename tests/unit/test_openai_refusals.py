"""The OpenAI-compatible backend does without an option only when the server refuses that option, sends its key
only where the user said, and never shows the credentials an address may carry. The rest of the backend:
tests/unit/test_openai_backend.py; against llama_cpp.server: tests/e2e/test_openai_backend.py."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from rag.llm.base import json_choice_tokens, shown_url
from rag.llm.factory import make_llm
from rag.llm.openai_llm import OpenAILLM
from rag.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.fake_openai import FakeOpenAI
from tests.unit.test_openai_backend import MESSAGES, SOURCES, _error, _no_key, _openai  # noqa: F401 - the fixture

TOO_LONG = (400, ("This model's maximum context length is 4096 tokens. However, you requested 5034 tokens (5030 in "
                  "the messages, 4 in the completion). Please reduce the length of the messages or completion."))
CRASH = (500, "llama_decode returned -3")


def test_an_error_that_names_no_format_is_one_line_and_the_next_choice_asks_in_full_again() -> None:
    with FakeOpenAI(formats=("json_object",)) as llama_cpp:
        llm = _openai(llama_cpp.url)
        llm.check()
        llama_cpp.fail_with.append(TOO_LONG)
        line = _error(lambda: llm.choose(SOURCES, ["1.1", "1.2"], 3))
        assert line == f"the server at {llama_cpp.url} answered 400: Error code: 400 - {TOO_LONG[1]}"
        assert llm.choose(SOURCES, ["1.1", "1.2"], 3).chosen == ["1.2"]  # json_schema refused, json_object taken
        llama_cpp.fail_with.append(CRASH)  # a one-off crash while asking in the remembered dialect
        assert "answered 500: " in _error(lambda: llm.choose(SOURCES, ["1.1", "1.2"], 3))
        assert llm.choose(SOURCES, ["1.1", "1.2"], 3).chosen == ["1.2"]
    kinds = [body["response_format"]["type"] for body in llama_cpp.bodies()]
    assert kinds == ["json_schema", "json_schema", "json_object", "json_object", "json_object"]
    with FakeOpenAI() as full:
        llm = _openai(full.url)
        full.fail_with.append(CRASH)  # a 500 that does not name the format: no step down to json_object
        assert "answered 500: " in _error(lambda: llm.choose(SOURCES, ["1.1", "1.2"], 3))
        assert llm.choose(SOURCES, ["1.1", "1.2"], 3).chosen == ["1.2"]
    assert [body["response_format"]["type"] for body in full.bodies()] == ["json_schema", "json_schema"]


def test_logprobs_and_stream_usage_stay_on_after_an_error_about_something_else(
        caplog: pytest.LogCaptureFixture) -> None:
    with FakeOpenAI() as server, caplog.at_level(logging.INFO, logger="rag.llm.openai_llm"):
        llm = _openai(server.url)
        server.fail_with.append(CRASH)
        assert "answered 500: " in _error(lambda: llm.prefer(MESSAGES, "Yes", "No"))
        assert llm.prefer(MESSAGES, "Yes", "No") == pytest.approx(0.832, abs=1e-3)  # still asked, still read
        server.fail_with.append(TOO_LONG)
        assert "maximum context length" in _error(lambda: llm.stream(MESSAGES).drain())
        assert llm.stream(MESSAGES).drain().prompt_tokens == 321  # the counts are still asked for
    assert all(body.get("stream_options") for body in server.bodies() if body.get("stream"))
    assert "gives no log-probabilities" not in caplog.text and "refused stream_options" not in caplog.text


def test_the_key_is_only_rag_llm_api_key_never_the_hosted_openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-hosted")
    assert Settings().llm.api_key.get_secret_value() == ""
    with FakeOpenAI() as lan_server:
        _openai(lan_server.url).check()
    assert lan_server.requests[-1][2]["authorization"] == "Bearer no-key"  # the hosted key stays home
    monkeypatch.setenv("RAG_LLM__API_KEY", "sk-right")
    with FakeOpenAI(api_key="sk-right") as server:
        assert _openai(server.url).stream(MESSAGES).drain().prompt_tokens == 321


def test_an_address_with_credentials_is_shown_without_them(caplog: pytest.LogCaptureFixture) -> None:
    assert shown_url("http://bob:s3cret@10.0.0.5:1234/v1") == "http://10.0.0.5:1234/v1"
    assert shown_url("https://token@llm.example.org/v1") == "https://llm.example.org/v1"
    assert shown_url("http://localhost:8080/v1") == "http://localhost:8080/v1"
    with FakeOpenAI() as server, caplog.at_level(logging.INFO):
        secret = server.url.replace("http://", "http://bob:s3cret@")
        choice = make_llm(Settings(llm={"backend": "openai", "base_url": secret}).llm)
        status = choice.llm.check()
        server.models[:] = ["another-model"]
        missing = _error(lambda: choice.llm.stream(MESSAGES).drain())
    assert choice.reason == f"configured: openai-compatible server at {server.url}"
    assert status == f"the OpenAI-compatible server at {server.url} is up and has local-model"
    assert missing.startswith(f"model 'local-model' is not on the server at {server.url}")
    assert "s3cret" not in caplog.text and server.url in caplog.text
    assert {headers["authorization"] for _, _, headers in server.requests} == {"Basic Ym9iOnMzY3JldA=="}  # still sent


def test_both_json_backends_cap_a_choice_alike_and_the_openai_settings_are_always_passed() -> None:
    assert json_choice_tokens(3) == 64
    with FakeOpenAI() as server:
        _openai(server.url).choose(SOURCES, ["1.1", "1.2"], 3)
    assert server.bodies()[-1]["max_tokens"] == json_choice_tokens(3)
    with FakeOllama() as ollama:
        from rag.llm.factory import make_ollama

        make_ollama(Settings(llm={"ollama_host": ollama.host}).llm).choose(SOURCES, ["1.1", "1.2"], 3)
    assert ollama.requests[-1][1]["options"]["num_predict"] == json_choice_tokens(3)
    loose: Any = OpenAILLM  # called as code without type checks would
    with pytest.raises(TypeError):
        loose("http://127.0.0.1:1/v1", "model", "", 120.0)  # the settings by keyword, as make_openai passes them
    with pytest.raises(TypeError):
        loose("http://127.0.0.1:1/v1")  # no defaults that could drift from the settings' own

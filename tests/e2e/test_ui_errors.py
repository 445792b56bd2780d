"""In the browser: Ollama errors are readable chat messages, refusals look different, and the app keeps working.

Ollama cannot run here, so a loopback server speaking Ollama's HTTP API stands in for
it (tests/fake_ollama.py); retrieval, the index, citations and the UI are all real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.pipeline import Pipeline
from tests.conftest import SENTINEL, SENTINEL_QUESTION
from tests.fake_ollama import FakeOllama, free_port
from tests.ui_harness import ask, chromium, open_app, running_app, ui_settings

MODEL = "qwen2.5:3b"


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama(models=[]) as fake:  # up, but the model was never pulled
        yield fake


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, bundled_index_dir: Path, ollama: FakeOllama
        ) -> Iterator[tuple[str, Pipeline]]:
    settings = ui_settings(tmp_path_factory.mktemp("ui-errors"), bundled_index_dir,
                           llm={"backend": "ollama", "ollama_host": ollama.host, "ollama_model": MODEL},
                           questions={"followup_turns": 0})
    pipeline = Pipeline(settings)
    with running_app(pipeline) as address:
        yield address, pipeline


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def page(app: tuple[str, Pipeline], browser: Any) -> Any:
    return open_app(browser, app[0])[0]


def test_a_missing_model_is_a_readable_message_in_the_chat(page: Any) -> None:
    page.wait_for_selector("#rag-llm .rag-dot-down", timeout=30_000)
    assert f"ollama pull {MODEL}" in page.inner_text("#rag-llm")
    error = ask(page, example=SENTINEL_QUESTION)
    assert "Could not answer" in error["text"]
    assert f"model '{MODEL}' is not on the Ollama server" in error["text"] and f"ollama pull {MODEL}" in error["text"]
    assert "Traceback" not in page.content() and "LLMUnavailable" not in page.content()


def test_the_app_keeps_working_once_the_model_is_there(page: Any, ollama: FakeOllama,
                                                       app: tuple[str, Pipeline]) -> None:
    ollama.models.append(MODEL)
    shown = [hit.key for hit in app[1].retrieve(SENTINEL_QUESTION)]
    ollama.reply = f"Operation Sentinel resulted in over 100 seizures of drugs [{shown.index(SENTINEL) + 1}]."
    answer = ask(page, SENTINEL_QUESTION)
    assert "over 100 seizures of drugs" in answer["text"] and "[1]" in answer["text"]
    message = page.locator("#rag-chat .rag-answer").last  # the chosen sentence is quoted first, as [1]
    assert message.locator(".rag-card").first.locator(".rag-loc").inner_text() == f"{SENTINEL[0]} ¶{SENTINEL[1]}"
    page.wait_for_selector("#rag-llm .rag-dot-ok", timeout=30_000)  # health is checked again after each answer


def test_a_refusal_is_shown_distinctly(page: Any, ollama: FakeOllama) -> None:
    ollama.reply = "I cannot find the answer in the reports."
    refusal = ask(page, "What is the population of Mars?")
    assert "Not found in the reports" in refusal["text"]
    last = page.locator("#rag-chat .rag-refusal").last
    assert last.is_visible() and last.locator(".rag-card").count() == 0
    assert last.evaluate("e => getComputedStyle(e).borderStyle") == "dashed"  # not the look of an answer


def test_ollama_down_is_a_readable_message_and_the_page_stays_usable(
        tmp_path_factory: pytest.TempPathFactory, bundled_index_dir: Path, browser: Any) -> None:
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = ui_settings(tmp_path_factory.mktemp("ui-down"), bundled_index_dir,
                           llm={"backend": "ollama", "ollama_host": host, "ollama_model": MODEL})
    with running_app(Pipeline(settings)) as url:
        page, _ = open_app(browser, url)
        page.wait_for_selector("#rag-llm .rag-dot-down", timeout=30_000)
        for question in ("Who is Andrei Belyaninov?", "Who opened the supply-chain seminar?"):
            error = ask(page, question)
            assert f"Ollama is not reachable at {host}" in error["text"], error["text"]
        assert page.locator("#rag-chat .rag-error").count() == 2  # the app answered the second question too
        page.click("#rag-recheck")
        page.wait_for_selector("#rag-llm .rag-dot-down", timeout=30_000)
        assert "Traceback" not in page.content()

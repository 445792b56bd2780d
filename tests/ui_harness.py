"""Running the web UI in tests: the app on a free loopback port, and Debian's chromium through Playwright.

Chromium cannot be downloaded here (no ``playwright install``): ``.ci/run`` installs the
Debian package. Without it a browser test fails in CI (``CI=true``) and is skipped locally.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rag.pipeline import Pipeline
from rag.settings import BUNDLED_CORPUS, Settings
from tests.conftest import sections_over
from tests.fake_ollama import free_port
from ui.app import build_app
from ui.serve import launch

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags chromium keeps calling out, which a closed network does not answer.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).parent / "artifacts"
ANSWER_SECONDS = 180  # one answer from the embedded model on 2 busy cores, with margin
FINISHED = ".rag-sources, .rag-refusal, .rag-error"  # what replaces the streaming text
STREAMING_TEXT = "() => [...document.querySelectorAll('#rag-chat .rag-streaming')].pop()?.innerText ?? null"


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI must run the browser test: .ci/run installs chromium)")
    pytest.skip(f"{reason}; install it with `apt-get install chromium` and the test extra")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian chromium driven by Playwright; fails in CI and skips locally when missing."""
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def ui_settings(tmp: Path, index_dir: Path | None = None, **sections: Any) -> Settings:
    """Settings free of the user's RAG_* environment, over private folders in ``tmp``.

    Without ``index_dir``: a writable copy of the bundled reports and a new index (for uploads).
    With it (the session's read-only index of the bundled reports): no indexing at all. ``sections`` as
    ``Settings`` takes them (``llm={"backend": "ollama"}``).
    """
    if index_dir is None:
        corpus = tmp / "reports"
        if not corpus.exists():
            shutil.copytree(BUNDLED_CORPUS, corpus)
        index_dir = tmp / "index"
    else:
        corpus = BUNDLED_CORPUS
    with pytest.MonkeyPatch.context() as env:  # module fixtures run before the autouse env isolation
        for key in [k for k in os.environ if k.startswith("RAG_")]:
            env.delenv(key)
        env.delenv("OLLAMA_HOST", raising=False)
        env.setenv("XDG_DATA_HOME", str(tmp / "xdg-data"))
        env.setenv("XDG_CONFIG_HOME", str(tmp / "xdg-config"))
        return Settings(**sections_over({"index": {"corpus_dir": corpus, "index_dir": index_dir},
                                         "ui": {"workspace_corpus_dir": tmp / "workspace"}}, sections))


@contextmanager
def running_app(pipeline: Pipeline) -> Iterator[str]:
    """The app over ``pipeline`` on a free port, in this process; yields its URL."""
    if pipeline.settings.index.corpus_dir != BUNDLED_CORPUS:
        pipeline.reindex()  # what `rag serve` does first (the bundled index is already up to date)
    demo = build_app(pipeline)
    url = launch(demo, pipeline.settings, host="127.0.0.1", port=free_port(), block=False)
    try:
        yield url
    finally:
        demo.close()


def open_app(browser: Any, url: str) -> tuple[Any, float]:
    """A fresh page (a new chat session) once the corpus list is shown; returns it and the load seconds."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("#rag-corpus table", timeout=60_000)
    return page, time.perf_counter() - started


def ask(page: Any, question: str | None = None, example: str | None = None) -> dict[str, Any]:
    """Ask by typing (or by clicking an example) and follow the answer as it streams.

    Returns the finished message's text and HTML, the distinct partial texts seen while
    streaming, and the seconds to the first streamed text and to the end.
    """
    answers = page.locator("#rag-chat .rag-answer, #rag-chat .rag-refusal, #rag-chat .rag-error")
    done_before = page.locator(f"#rag-chat :is({FINISHED})").count()
    started = time.perf_counter()
    if example is not None:
        page.get_by_role("button", name=example).click()
    else:
        page.fill("#rag-question textarea", question or "")
        page.click("#rag-ask")
    partials: list[str] = []
    first_token = None
    deadline = started + ANSWER_SECONDS
    while page.locator(f"#rag-chat :is({FINISHED})").count() <= done_before:
        if time.perf_counter() > deadline:
            raise AssertionError(f"no answer after {ANSWER_SECONDS}s; partial texts: {partials[-3:]}")
        text = page.evaluate(STREAMING_TEXT)  # read in one step: the element is replaced as tokens arrive
        if text and text.strip() and (not partials or partials[-1] != text):
            first_token = first_token or time.perf_counter() - started
            partials.append(text)
        page.wait_for_timeout(100)
    last = answers.last
    return {"text": last.inner_text(), "html": last.inner_html(), "partials": partials,
            "first_token": first_token, "seconds": time.perf_counter() - started}

"""Long work never blocks the page: uploads are indexed in the background with progress while questions are
answered, and a page waiting for the busy model shows its place in the queue."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from embeddings import Embedder
from rag.pipeline import Pipeline
from tests.conftest import SENTINEL_QUESTION
from tests.fake_ollama import FakeOllama
from tests.ui_harness import chromium, open_app, running_app, ui_settings
from ui.app import ChatApp

REPORT = """Harbour inspection in Port Aldeney

12 March 2024

Customs officers in Port Aldeney inspected 31 containers during Operation Bluefin.

The inspection found 740 kg of undeclared saffron hidden in shipments of frozen fish.
"""
QUESTION = "How much saffron was found in Port Aldeney?"


class Held:
    """An embedder that waits for ``release`` before embedding: a large upload, made as slow as we like."""

    def __init__(self, inner: Embedder, release: threading.Event) -> None:
        self.inner, self.release = inner, release
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        assert self.release.wait(120), "the test never released the embedder"
        return self.inner.encode(texts)


def _until(condition: Callable[[], object], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_an_upload_returns_at_once_and_is_indexed_in_the_background_while_questions_are_answered(
        tmp_path: Path, embedder: Embedder) -> None:
    pipeline = Pipeline(ui_settings(tmp_path))
    pipeline.reindex()  # what `rag serve` does first
    release = threading.Event()
    chat = ChatApp(pipeline)
    chat.indexer = pipeline.resources.background_indexer(chat.upload_dir, make=lambda: Held(embedder, release))  # type: ignore
    report = tmp_path / "harbour.md"
    report.write_text(REPORT)

    started = time.monotonic()
    status, _, _, pending, _ = chat.upload([str(report)])
    assert time.monotonic() - started < 10  # saved and handed over, not embedded
    assert "… saved <b>harbour.md</b>" in status and "✓ added" not in status
    assert "Indexing in the background" in status and pending is not None
    _until(lambda: chat.indexer.status().total > 0)  # the worker is embedding now, held
    status, corpus, still, _ = chat.index_progress(pending)
    assert re.search(r"0 of \d+ passages embedded \(0%\)", status) and still == pending

    answered: list[list[str]] = []
    asking = threading.Thread(target=lambda: answered.append([h.doc_id for h in pipeline.retrieve(QUESTION)]))
    asking.start()
    asking.join(60)
    assert answered and "harbour.md" not in answered[0]  # answered meanwhile, from the index as it was

    release.set()
    _until(lambda: chat.index_progress(pending)[2] is None)
    status, corpus, done, _ = chat.index_progress(pending)
    assert "✓ added <b>harbour.md</b>" in status and "new chunks embedded" in status and done is None
    assert "Harbour inspection in Port Aldeney" in corpus
    assert pipeline.retrieve(QUESTION)[0].doc_id == "harbour.md"  # the pipeline uses the new index


def test_a_failed_background_indexing_is_reported_on_the_page(tmp_path: Path) -> None:
    pipeline = Pipeline(ui_settings(tmp_path))
    pipeline.reindex()
    chat = ChatApp(pipeline)

    def broken() -> Embedder:
        raise RuntimeError("no memory left for the model")

    chat.indexer = pipeline.resources.background_indexer(chat.upload_dir, make=broken)
    report = tmp_path / "harbour.md"
    report.write_text(REPORT)
    _, _, _, pending, _ = chat.upload([str(report)])
    _until(lambda: chat.index_progress(pending)[2] is None)
    status = chat.index_progress(pending)[0]
    assert "indexing failed: unexpected RuntimeError: no memory left for the model" in status
    assert "✓ added" not in status


def test_a_page_waiting_for_the_busy_model_shows_its_place_in_the_queue(tmp_path: Path,
                                                                        bundled_index_dir: Path) -> None:
    with FakeOllama(stall_seconds=8) as ollama:  # every answer takes 8 s: the first page keeps the model busy
        settings = ui_settings(tmp_path, bundled_index_dir,
                               llm={"backend": "ollama", "ollama_host": ollama.host, "ollama_model": "qwen2.5:3b"},
                               questions={"followup_turns": 0, "translate": False})
        with running_app(Pipeline(settings)) as url, chromium() as browser:
            first, _ = open_app(browser, url)
            second, _ = open_app(browser, url)
            for page in (first, second):
                page.fill("#rag-question textarea", SENTINEL_QUESTION)
                page.click("#rag-ask")
            second.locator("#rag-chat").get_by_text("queue: 1/1").wait_for(timeout=5_000)
            assert "queue" not in first.inner_text("#rag-chat")  # the page being answered shows its answer
            second.wait_for_selector("#rag-chat .rag-answer", timeout=60_000)
            assert "queue" not in second.inner_text("#rag-chat")

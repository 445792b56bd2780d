"""The core owns who writes the index and when: a read never writes, the first-run build and the background
update of uploads are explicit calls of ``Resources``, and ``rag`` imports neither ``ui`` nor ``eval``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from embeddings import Embedder
from rag.errors import IndexNotFound
from rag.pipeline import Pipeline
from rag.resources import Resources, check_index_target
from rag.settings import BUNDLED_CORPUS, Settings
from tests.fakes import FakeEmbedder, FakeLLM

RAG = Path(__file__).resolve().parents[2] / "rag"
REPORT = ("Harbour inspection in Port Aldeney\n\n"
          "The inspection found 740 kg of undeclared saffron in Port Aldeney.\n")


def _until(condition: Callable[[], object], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _copy(tmp_path: Path) -> tuple[Path, Settings]:
    corpus = tmp_path / "reports"
    shutil.copytree(BUNDLED_CORPUS, corpus)
    return corpus, Settings(index={"corpus_dir": corpus, "index_dir": tmp_path / "index"})


def test_reading_the_index_never_builds_it_even_on_the_first_run(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    default = Settings()
    assert default.is_first_run_default()
    index_dir = default.resolved_index_dir()
    for reader in (Resources(default, embedder=FakeEmbedder()), Pipeline(default, embedder=FakeEmbedder())):
        with pytest.raises(IndexNotFound) as missing:
            reader.index  # noqa: B018 - the read is the test
        assert str(missing.value).startswith(f"no index at {index_dir}; ") and "\n" not in str(missing.value)
        assert not index_dir.exists() or not any(index_dir.iterdir())  # nothing written

    resources = Resources(default, embedder=FakeEmbedder())
    built = resources.ensure_index()  # the explicit first-run build
    assert built is resources.index and "002_50d104ffb6a67dba.txt" in built.manifest.documents
    assert Resources(default, embedder=FakeEmbedder()).index.manifest.documents.keys() == \
        built.manifest.documents.keys()  # the next process only reads it


def test_rag_ask_builds_the_first_run_index_explicitly_then_answers(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.api

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(rag.api, "_default", Pipeline(Settings(), embedder=FakeEmbedder(), llm=FakeLLM()))
    assert not rag.api.ask("What did Operation Sentinel seize?").refused
    assert (Settings().resolved_index_dir() / "CURRENT").exists()


def test_ensure_index_builds_only_the_bundled_sample_in_the_default_location(tmp_path: Path) -> None:
    _, settings = _copy(tmp_path)
    with pytest.raises(IndexNotFound):
        Pipeline(settings, embedder=FakeEmbedder()).ensure_index()  # a corpus of the user's: `rag index` builds it
    assert not (tmp_path / "index").exists()


def test_the_pipeline_holds_its_resources_and_answers_from_them(tmp_path: Path) -> None:
    _, settings = _copy(tmp_path)
    llm = FakeLLM()
    pipeline = Pipeline(settings, embedder=FakeEmbedder(), llm=llm)
    assert not isinstance(pipeline, Resources) and isinstance(pipeline.resources, Resources)
    assert len(pipeline.reindex().added) == 5
    assert pipeline.index is pipeline.resources.index and pipeline.settings is pipeline.resources.settings
    assert pipeline.embedder is pipeline.resources.embedder and pipeline.llm.llm is llm
    assert pipeline.retrieve("What did Operation Sentinel seize?", k=1)[0].doc_id == "002_50d104ffb6a67dba.txt"


class Held:
    """An embedder that waits for ``release`` before embedding: a large upload, as slow as the test likes."""

    def __init__(self, release: threading.Event) -> None:
        self.inner, self.release, self.calls = FakeEmbedder(), release, 0
        self.name, self.dim, self.max_tokens = self.inner.name, self.inner.dim, self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.calls += 1
        assert self.release.wait(30), "the test never released the embedder"
        return self.inner.encode(texts)


def test_background_reindex_runs_outside_the_lock_then_switches_to_the_new_index(tmp_path: Path) -> None:
    corpus, settings = _copy(tmp_path)
    resources = Resources(settings, embedder=FakeEmbedder())
    resources.reindex()
    before = resources.index
    release = threading.Event()
    held = Held(release)
    indexer = resources.background_indexer(corpus, make=lambda: held)
    (corpus / "harbour.md").write_text(REPORT)

    ticket = indexer.submit()
    _until(lambda: indexer.status().total > 0)  # embedding the new file now, held
    status = indexer.status()
    assert status.running and status.embedded == 0 and status.finished < ticket
    reader = threading.Thread(target=lambda: resources.index)
    reader.start()
    reader.join(5)
    assert not reader.is_alive()  # a question reaches the index while the upload is embedded
    assert resources.index is before and "harbour.md" not in before.manifest.documents

    release.set()
    _until(lambda: indexer.status().finished >= ticket)
    status = indexer.status()
    assert status.error is None and status.report is not None and status.report.added == ["harbour.md"]
    assert status.embedded == status.total > 0 and not status.running
    assert "harbour.md" in resources.index.manifest.documents  # adopted: no reload needed
    assert held.calls >= 1


def test_a_failed_background_reindex_is_reported_not_raised(tmp_path: Path) -> None:
    corpus, settings = _copy(tmp_path)
    resources = Resources(settings, embedder=FakeEmbedder())
    resources.reindex()

    def broken() -> Embedder:
        raise RuntimeError("no memory left for the model")

    indexer = resources.background_indexer(corpus, make=broken)
    ticket = indexer.submit()
    _until(lambda: indexer.status().finished >= ticket)
    assert indexer.status().error == "unexpected RuntimeError: no memory left for the model"
    assert indexer.status().report is None


def test_serve_may_not_create_an_index_at_a_mistyped_folder(tmp_path: Path) -> None:
    typo = tmp_path / "idnex"
    with pytest.raises(IndexNotFound, match=f"no index at {typo}"):
        check_index_target(Settings(index={"index_dir": typo}))
    check_index_target(Settings(index={"index_dir": typo, "corpus_dir": tmp_path}))  # a corpus the user named
    assert not typo.exists()


def test_importing_the_cli_loads_no_ui_or_eval_module() -> None:
    """What the process loads; that no module of ``rag`` names one is checked in test_layers.py."""
    script = ("import sys, rag, rag.api, rag.app.cli, rag.app.status, rag.app.uploads\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ui', 'eval')))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            check=False, cwd=RAG.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

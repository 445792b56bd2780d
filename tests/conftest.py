"""Shared fixtures: the real embedding model and a real on-disk index, built once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embeddings import Embedder, make_embedder
from rag.ingest.index import FaissIndex
from rag.ingest.indexer import update_index
from rag.settings import BUNDLED_CORPUS, Settings

SENTINEL = ("002_50d104ffb6a67dba.txt", 9)
SENTINEL_QUESTION = "What did Operation Sentinel seize?"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the developer's RAG_* settings or presets, or writes to their home index."""
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.getbasetemp() / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "xdg-config"))


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return make_embedder()


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    """Where the packaged GGUF is assembled: the user cache, so CI and developers assemble it once."""
    return Settings().llm.model_cache_dir


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """A private, writable copy of the bundled reports."""
    target = tmp_path / "reports"
    shutil.copytree(BUNDLED_CORPUS, target)
    return target


def settings_for(corpus: Path, index_dir: Path, **overrides: object) -> Settings:
    return Settings(corpus_dir=corpus, index_dir=index_dir, **overrides)


@pytest.fixture(scope="session")
def bundled_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A real FAISS index of the bundled reports on disk (read-only for tests)."""
    directory = tmp_path_factory.mktemp("bundled-index")
    update_index(BUNDLED_CORPUS, directory, embedder, settings_for(BUNDLED_CORPUS, directory).index)
    return directory


@pytest.fixture(scope="session")
def bundled_index(bundled_index_dir: Path) -> FaissIndex:
    return FaissIndex.load(bundled_index_dir)


@pytest.fixture(scope="session")
def squad_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A real FAISS index of the bundled SQuAD 2.0 article ("Normans"), the second eval set's corpus."""
    from eval.evalset import BUNDLED_SETS

    corpus = BUNDLED_SETS["squad2-normans"][1]
    directory = tmp_path_factory.mktemp("squad-index")
    update_index(corpus, directory, embedder, settings_for(corpus, directory).index)
    return directory

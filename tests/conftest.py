"""Shared fixtures (the real embedding model and a real on-disk index, built once per session; the same index
built with ``tests.fakes.FakeEmbedder``), and the tiers.

The folder is the tier: ``tests/unit`` (fakes only: no real model, no subprocess, no server; runs first),
``tests/integration`` (the real embedder and models, real indexes on disk, the embedded LLM, CLI subprocesses,
Milvus Lite) and ``tests/e2e`` (servers on loopback, the browser, ``rag serve`` under strace). Everything outside
``tests/unit`` is marked ``slow`` here, so ``pytest -m "not slow"`` is the unit tier too. A test in ``tests/unit``
that is marked ``llm``, asks for a fixture that loads a real model (``REAL_MODEL_FIXTURES``), loads the embedder or
starts the embedded LLM fails and says to move it to ``tests/integration``.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embeddings import Embedder, make_embedder
from rag.indexing import update_index
from rag.settings import BUNDLED_CORPUS, IndexSettings, Settings
from rag.store.index import SegmentedIndex

if TYPE_CHECKING:
    from eval.evalset import EvalQuestion

SENTINEL = ("002_50d104ffb6a67dba.txt", 9)
SENTINEL_QUESTION = "What did Operation Sentinel seize?"
# What every real answer to it holds. Whether the 1.5B model also writes "160 kg" depends on the weaker
# sources shown beside the paragraph (with torch fp32 vectors it did, with int8 ones it does not); the eval,
# not one answer, scores completeness (docs/evaluation.md).
SENTINEL_ANSWER_TERMS = ("100", "drug")

# Fixtures that load the real embedding model (or build a real index with it) or assemble the packaged GGUF.
REAL_MODEL_FIXTURES = frozenset({"embedder", "bundled_index_dir", "bundled_index", "squad_index_dir",
                                 "model_cache_dir"})
UNIT = Path(__file__).resolve().parent / "unit"
MOVE = "move it to tests/integration (or use tests.fakes)"


def in_unit_tier(item: pytest.Item) -> bool:
    """Whether the test lives in tests/unit: fakes only, so not ``slow``."""
    return UNIT in Path(item.path).resolve().parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not in_unit_tier(item):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture is set up (a session fixture would load the model before ``_unit_tests_load_no_model``
    could stop it): a unit test marked ``llm`` or asking for a real model's fixture fails."""
    if not in_unit_tier(item):
        return
    if item.get_closest_marker("llm") is not None:
        pytest.fail(f"{item.nodeid} is marked llm (the real LLM) but is in tests/unit: {MOVE}", pytrace=False)
    real = sorted(REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ())))
    if real:
        pytest.fail(f"{item.nodeid} uses the real model's fixture {', '.join(real)} but is in tests/unit: {MOVE}",
                    pytrace=False)


@pytest.fixture(autouse=True)
def _unit_tests_load_no_model(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test in tests/unit that loads the real embedder or starts the embedded LLM fails, naming the cause:
    otherwise one such test would quietly cost the unit tier half a minute."""
    if not in_unit_tier(request.node):
        yield
        return
    loaded: list[str] = []

    def refuse(what: str) -> object:
        def refused(*args: object, **kwargs: object) -> None:
            if threading.current_thread() is not threading.main_thread():
                loaded.append(what)  # a worker thread may swallow the failure: reported at teardown
            pytest.fail(f"{request.node.nodeid} loads {what} but is in tests/unit: {MOVE}", pytrace=False)
        return refused

    monkeypatch.setattr("embeddings.sentence_transformer.load_sentence_transformer", refuse("the embedding model"))
    monkeypatch.setattr("embeddings.onnx_backend.load_onnx_export", refuse("the ONNX embedding model"))
    monkeypatch.setattr("rag.llm.worker_process.LlamaWorker.start", refuse("the embedded LLM"))
    yield
    if loaded:
        pytest.fail(f"{request.node.nodeid} loads {loaded[0]} but is in tests/unit: {MOVE}", pytrace=False)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the developer's RAG_* settings or presets, or writes to their home index."""
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.getbasetemp() / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "xdg-config"))


BACKENDS = {"faiss": {}, "milvus": {"index_type": "milvus"}}  # index settings of each index backend


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each index backend in turn: FAISS files, and Milvus (Milvus Lite, a real engine, in the index folder).

    ``BACKENDS[backend]`` holds its index settings. Milvus Lite servers are stopped after the test, which
    releases their locks and threads.
    """
    yield request.param
    if request.param == "milvus":
        from rag.store.milvus_client import release_all

        release_all()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The configured default (``index.embedder``, OpenVINO int8): what `rag` itself loads, so a CLI test can
    read an index built here. (``IndexSettings()`` reads no environment variables.)"""
    index = IndexSettings()
    return make_embedder(index.embedder, index.embed_batch_size)


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


def sections_over(base: dict[str, dict[str, Any]], given: dict[str, Any]) -> dict[str, Any]:
    """Settings arguments: the ``base`` sections with the ``given`` ones laid over them, field by field."""
    merged: dict[str, Any] = {**base, **given}
    for name in base.keys() & given.keys():
        merged[name] = {**base[name], **given[name]}
    return merged


def settings_for(corpus: Path, index_dir: Path, **sections: Any) -> Settings:
    """Settings over ``corpus`` and ``index_dir``; ``sections`` as ``Settings`` takes them (``ui={...}``)."""
    return Settings(**sections_over({"index": {"corpus_dir": corpus, "index_dir": index_dir}}, sections))


def segment_dir(index_dir: Path) -> Path:
    """The folder of the live index's largest segment (where its vectors, FAISS and records files are)."""
    manifest = SegmentedIndex.read_manifest(index_dir)
    return index_dir / max(manifest.segments, key=lambda s: s.chunks).name


@pytest.fixture(scope="session")
def bundled_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A real FAISS index of the bundled reports on disk (read-only for tests)."""
    directory = tmp_path_factory.mktemp("bundled-index")
    update_index(BUNDLED_CORPUS, directory, embedder, settings_for(BUNDLED_CORPUS, directory).index)
    return directory


@pytest.fixture(scope="session")
def bundled_index(bundled_index_dir: Path) -> SegmentedIndex:
    return SegmentedIndex.load(bundled_index_dir)


@pytest.fixture(scope="session")
def fake_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled reports indexed on disk with ``FakeEmbedder`` (read-only for tests): real FAISS, no model."""
    from tests.fakes import FakeEmbedder

    directory = tmp_path_factory.mktemp("fake-index")
    update_index(BUNDLED_CORPUS, directory, FakeEmbedder(), settings_for(BUNDLED_CORPUS, directory).index)
    return directory


@pytest.fixture(scope="session")
def squad_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A real FAISS index of the bundled SQuAD 2.0 article ("Normans"), the second eval set's corpus."""
    from eval.evalset import BUNDLED_SETS

    corpus = BUNDLED_SETS["squad2-normans"][1]
    directory = tmp_path_factory.mktemp("squad-index")
    update_index(corpus, directory, embedder, settings_for(corpus, directory).index)
    return directory


@pytest.fixture(scope="module")
def questions() -> list[EvalQuestion]:
    """The bundled eval set's questions (tests/unit and tests/integration test_eval_set.py)."""
    from eval.evalset import BUNDLED_SET, load_eval_set

    return load_eval_set(BUNDLED_SET)

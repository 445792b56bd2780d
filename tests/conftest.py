"""Shared fixtures (the real embedding model and a real on-disk index, built once per session; the same index
built with ``tests.fakes.FakeEmbedder``), and the split into a fast tier and the ``slow`` tests.

``slow`` is assigned here, not by hand: a test is slow when it is marked ``llm``, uses a fixture that loads
a real model (``REAL_MODEL_FIXTURES``), or is listed in ``SLOW_BY_NAME`` (it starts a subprocess, a server
or a browser, or loads a model itself). ``pytest -m "not slow"`` runs the rest in well under a minute; a
test outside ``slow`` that loads a real model anyway fails and says so (``_fast_tests_load_no_model``).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embeddings import Embedder, make_embedder
from rag.indexing import update_index
from rag.settings import BUNDLED_CORPUS, IndexSettings, Settings
from rag.store.index import FaissIndex

SENTINEL = ("002_50d104ffb6a67dba.txt", 9)
SENTINEL_QUESTION = "What did Operation Sentinel seize?"
# What every real answer to it holds. Whether the 1.5B model also writes "160 kg" depends on the weaker
# sources shown beside the paragraph (with torch fp32 vectors it did, with int8 ones it does not); the eval,
# not one answer, scores completeness (docs/evaluation.md).
SENTINEL_ANSWER_TERMS = ("100", "drug")

# Fixtures that load the real embedding model (or build a real index with it) or assemble the packaged GGUF.
REAL_MODEL_FIXTURES = frozenset({"embedder", "bundled_index_dir", "bundled_index", "squad_index_dir",
                                 "model_cache_dir"})
# Slow tests that no fixture gives away: they start a subprocess, a server or a browser, or load a model
# themselves. A file, or file::test (without parameters).
SLOW_BY_NAME = (
    "test_cli.py", "test_eval_run.py",  # every test runs `python -m rag.app.cli`
    "test_end_to_end.py", "test_llm_runtime.py",  # the embedded model, the CLI, the llama.cpp + proxy Ollama stack
    "test_ui_browser.py", "test_ui_errors.py", "test_ui_background.py", "test_ui_pages.py",  # chromium, a served app
    "test_ui_gate.py", "test_ui_load.py",  # a served app (and `python -m ui`, bench/load.py)
    "test_ui_api.py::test_serve_refuses_bad_options_in_one_line_before_any_work",  # `rag serve` in a subprocess
    "test_embeddings.py",  # the real embedder with its own batch size
    "test_privacy.py",  # every command under strace
    "test_torch_cpu.py::test_it_runs_before_any_dependency_is_installed",  # a bare interpreter
    "test_onnx_embedder.py::test_the_export_is_reused_on_the_second_load",  # exports the real model to ONNX
    "test_onnx_embedder.py::test_vectors_are_unit_float32_and_close_to_torch",
    "test_onnx_embedder.py::test_building_the_int8_export_sends_no_telemetry",  # imports nncf in a subprocess
)


def is_slow(item: pytest.Item) -> bool:
    """Uses a real model or starts a process: minutes for the suite, so kept out of ``-m "not slow"``."""
    if item.get_closest_marker("llm") is not None:
        return True
    if REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    file = item.path.name
    test = f"{file}::{getattr(item, 'originalname', item.name)}"
    return file in SLOW_BY_NAME or test in SLOW_BY_NAME


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if is_slow(item):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _fast_tests_load_no_model(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test outside ``slow`` that loads the real embedder or starts the embedded LLM fails, naming the cause:
    otherwise one such test would quietly cost the fast tier half a minute."""
    if request.node.get_closest_marker("slow") is not None:
        yield
        return
    loaded: list[str] = []

    def refuse(what: str) -> object:
        def refused(*args: object, **kwargs: object) -> None:
            if threading.current_thread() is not threading.main_thread():
                loaded.append(what)  # a worker thread may swallow the failure: reported at teardown
            pytest.fail(f"{request.node.nodeid} loads {what} but is not marked slow: use tests.fakes, or make it "
                        "slow in tests/conftest.py", pytrace=False)
        return refused

    monkeypatch.setattr("embeddings.sentence_transformer.load_sentence_transformer", refuse("the embedding model"))
    monkeypatch.setattr("embeddings.onnx_backend.load_onnx_export", refuse("the ONNX embedding model"))
    monkeypatch.setattr("rag.llm.worker_process.LlamaWorker.start", refuse("the embedded LLM"))
    yield
    if loaded:
        pytest.fail(f"{request.node.nodeid} loads {loaded[0]} but is not marked slow", pytrace=False)


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
    manifest = FaissIndex.read_manifest(index_dir)
    return index_dir / max(manifest.segments, key=lambda s: s.chunks).name


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

"""The OpenVINO and ONNX Runtime backends (``model@openvino-int8``, the default, and ``model@onnx-int8``): chosen by
the embedder string, built once into the model cache, vectors close to torch fp32's. Here the real export; the
name, the factory, the settings and the cache are tests/unit/test_onnx_embedder.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings import (
    PACKAGED_MODEL,
    Embedder,
    OnnxEmbedder,
    make_embedder,
    onnx_backend,
    onnx_export,
)
from embeddings.onnx_backend import load_onnx_export
from embeddings.onnx_export import RECIPES
from rag.settings import Settings

SENTENCES = [
    "What did Operation Sentinel seize?",
    "The Secretary General met the head of the Russian Federal Customs Service in Moscow.",
    "Customs officers seized more than 160 kg of narcotics at the border post in Central Asia.",
    "The Normans gave their name to Normandy, a region in France.",
    "Rollo agreed to swear fealty to King Charles III of West Francia.",
    "Normandy",
]


def test_building_the_int8_export_sends_no_telemetry(tmp_path: Path) -> None:
    """nncf reports to Google Analytics unless told not to; the export imports it after `import embeddings`."""
    code = ("import embeddings.onnx_export; import nncf; "
            "from nncf.telemetry import wrapper; print(type(wrapper.telemetry).__name__)")
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(Path(__file__).parents[2])}
    env.pop("NNCF_CI", None)
    result = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() != "NNCFTelemetry" and not (tmp_path / "intel").exists()  # its client id file


@pytest.fixture(scope="module")
def torch_fp32() -> Embedder:
    return make_embedder(PACKAGED_MODEL)


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


def _runtime_installed(backend: str) -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino" if backend.startswith("openvino") else "onnxruntime") is not None


@pytest.mark.parametrize("backend", ["openvino-int8", "openvino", "onnx-int8", "onnx"])
def test_vectors_are_unit_float32_and_close_to_torch(backend: str, onnx_cache: Path, torch_fp32: Embedder,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    if not _runtime_installed(backend):
        pytest.skip(f"{backend} needs its runtime: pip install -e '.[onnx]'")
    onnx = OnnxEmbedder(PACKAGED_MODEL, backend, batch_size=4, cache_dir=onnx_cache)
    capfd.readouterr()
    vectors = onnx.encode(SENTENCES)  # the first use builds the export: its progress must not reach stdout
    assert capfd.readouterr().out == ""
    assert vectors.shape == (len(SENTENCES), 384) == (len(SENTENCES), onnx.dim)
    assert vectors.dtype == np.float32 and vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * torch_fp32.encode(SENTENCES)).sum(axis=1)
    assert cosines.min() > (0.98 if backend.endswith("int8") else 0.9999), cosines
    assert onnx.max_tokens == torch_fp32.max_tokens
    assert [onnx.count_tokens(s) for s in SENTENCES] == [torch_fp32.count_tokens(s) for s in SENTENCES]
    long = "Customs " * 400  # past the window: truncated like the torch model, never an error
    assert onnx.count_tokens(long) == torch_fp32.count_tokens(long) > onnx.max_tokens
    one_by_one = np.vstack([onnx.encode([s]) for s in [*SENTENCES, long]])
    batched = onnx.encode([*SENTENCES, long])
    if backend == "onnx-int8":  # one activation scale per batch: a vector depends a little on its neighbours
        assert ((batched * one_by_one).sum(axis=1) > 0.98).all()
    else:  # batch order kept, and static int8 gives a text the same vector in any batch
        np.testing.assert_allclose(batched, one_by_one, atol=2e-3)
    assert onnx.encode([]).shape == (0, 384)


def test_the_export_is_reused_on_the_second_load(onnx_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().index.embedder == "all-MiniLM-L6-v2@openvino-int8"  # the default is the one tested here
    first = OnnxEmbedder(PACKAGED_MODEL, "openvino-int8", cache_dir=onnx_cache).encode(SENTENCES[:2])
    folder = onnx_cache / "all-MiniLM-L6-v2@openvino-int8"
    stamp = (folder / "model.xml").stat().st_mtime_ns
    monkeypatch.setattr(onnx_backend, "_loaded", {})  # a new process: nothing loaded yet

    def no_build(*args: object) -> None:
        raise AssertionError("the export was built again")

    monkeypatch.setattr(onnx_export, "_build", no_build)
    again = OnnxEmbedder(PACKAGED_MODEL, "openvino-int8", cache_dir=onnx_cache).encode(SENTENCES[:2])
    np.testing.assert_array_equal(first, again)
    assert (folder / "model.xml").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in folder.iterdir()) == ["compiled", "export.json", "model.bin", "model.xml",
                                                         "tokenizer.json", "tokenizer_config.json"]
    meta = json.loads((folder / "export.json").read_text())
    assert meta["backend"] == "openvino-int8" and meta["dim"] == 384 and meta["check_min_cosine"] > 0.98
    assert load_onnx_export(PACKAGED_MODEL, "unused", RECIPES["openvino-int8"], onnx_cache).meta == meta


def test_a_question_needs_neither_torch_nor_transformers(bundled_index_dir: Path) -> None:
    """The default embedder answers from its export alone: importing torch (through transformers) was 2.7 s
    of every cold `rag ask`, `rag search` and `rag serve`."""
    from tests.conftest import SENTINEL, SENTINEL_QUESTION

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "rag.app.cli", "search", SENTINEL_QUESTION,
                             "--k", "3", "--index-dir", str(bundled_index_dir)],
                            capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert SENTINEL[0] in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert {"faiss", "openvino"} <= imported  # the measurement sees the imports
    assert not {"torch", "transformers", "sentence_transformers"} & imported

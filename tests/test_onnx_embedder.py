"""The OpenVINO and ONNX Runtime backends (``model@openvino-int8``, the default, and ``model@onnx-int8``): chosen by
the embedder string, built once into the model cache, vectors close to torch fp32's. The tests that export the
real model are slow (tests/conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from embeddings import (
    PACKAGED_MODEL,
    Embedder,
    EmbedderUnavailable,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    make_embedder,
    onnx_backend,
    onnx_export,
    split_backend,
)
from embeddings.onnx_backend import load_onnx_export
from embeddings.onnx_export import RECIPES, ensure_export
from embeddings.progress import RateColumn
from rag.settings import Settings

SENTENCES = [
    "What did Operation Sentinel seize?",
    "The Secretary General met the head of the Russian Federal Customs Service in Moscow.",
    "Customs officers seized more than 160 kg of narcotics at the border post in Central Asia.",
    "The Normans gave their name to Normandy, a region in France.",
    "Rollo agreed to swear fealty to King Charles III of West Francia.",
    "Normandy",
]


# --- fast: the name, the factory, the settings, the cache (no model) ----------------------------------------


def test_backend_suffix_chooses_the_runtime_and_keeps_a_different_name() -> None:
    assert split_backend("all-MiniLM-L6-v2") == ("all-MiniLM-L6-v2", "torch")
    assert split_backend("all-MiniLM-L6-v2@onnx-int8") == ("all-MiniLM-L6-v2", "onnx-int8")
    assert split_backend("/models/v@2/minilm") == ("/models/v@2/minilm", "torch")  # an "@" inside a path
    assert split_backend("mypkg.embedders:Hashing") == ("mypkg.embedders:Hashing", "torch")
    onnx = make_embedder(f"{PACKAGED_MODEL}@onnx-int8", batch_size=8)
    assert isinstance(onnx, OnnxEmbedder) and onnx.batch_size == 8  # (isinstance(.., Embedder) would load it)
    assert all(hasattr(OnnxEmbedder, member) for member in ("name", "dim", "max_tokens", "count_tokens", "encode"))
    assert onnx.name == "all-MiniLM-L6-v2@onnx-int8" != make_embedder(PACKAGED_MODEL).name
    assert make_embedder(f"{PACKAGED_MODEL}@onnx").name == "all-MiniLM-L6-v2@onnx"
    assert isinstance(make_embedder(f"{PACKAGED_MODEL}@torch"), SentenceTransformerEmbedder)


def test_an_unknown_backend_is_one_line_naming_the_known_ones() -> None:
    with pytest.raises(EmbedderUnavailable, match="unknown embedder backend 'onx'.*onnx-int8"):
        make_embedder(f"{PACKAGED_MODEL}@onx")
    with pytest.raises(ValidationError, match="unknown embedder backend 'onx'"):
        Settings(index={"embedder": f"{PACKAGED_MODEL}@onx"})
    assert Settings(index={"embedder": f"{PACKAGED_MODEL}@onnx-int8"}).index.embedder.endswith("@onnx-int8")


def test_the_default_is_openvino_int8_and_the_env_var_chooses_another(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().index.embedder == "all-MiniLM-L6-v2@openvino-int8"
    monkeypatch.setenv("RAG_INDEX__EMBEDDER", f"{PACKAGED_MODEL}@onnx-int8")
    assert Settings().index.embedder == "all-MiniLM-L6-v2@onnx-int8"
    monkeypatch.setenv("RAG_INDEX__EMBEDDER", PACKAGED_MODEL)  # torch fp32, as before
    assert isinstance(make_embedder(Settings().index.embedder), SentenceTransformerEmbedder)
    monkeypatch.delenv("RAG_INDEX__EMBEDDER")
    monkeypatch.setenv("RAG_LLM__MODEL_CACHE_DIR", "/models")  # the export is cached beside the GGUF
    configured = Settings().make_embedder()
    assert isinstance(configured, OnnxEmbedder) and configured._cache_dir == Path("/models")


def test_a_missing_runtime_is_one_line_naming_the_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    monkeypatch.setattr(onnx_backend, "_loaded", {})
    with pytest.raises(EmbedderUnavailable, match=r"needs onnxruntime: pip install 'rag-reports\[onnx\]'"):
        load_onnx_export("m", str(tmp_path), RECIPES["onnx-int8"], tmp_path)


def test_building_the_int8_export_sends_no_telemetry(tmp_path: Path) -> None:
    """nncf reports to Google Analytics unless told not to; the export imports it after `import embeddings`."""
    code = ("import embeddings.onnx_export; import nncf; "
            "from nncf.telemetry import wrapper; print(type(wrapper.telemetry).__name__)")
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(Path(__file__).parents[1])}
    env.pop("NNCF_CI", None)
    result = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() != "NNCFTelemetry" and not (tmp_path / "intel").exists()  # its client id file


def test_the_cache_folder_is_named_after_the_model_and_backend() -> None:
    assert onnx_export.cache_name(PACKAGED_MODEL, "onnx-int8") == "all-MiniLM-L6-v2@onnx-int8"
    odd = onnx_export.cache_name("/home/me/models/my model", "onnx")
    assert "/" not in odd and " " not in odd and odd.startswith("my-model-") and odd.endswith("@onnx")


def _fake_source(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    (source / "model.safetensors").write_bytes(b"weights")
    (source / "config.json").write_text("{}")
    return source


def _counting_build(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the real export by one that writes the files the cache checks, and count the builds."""
    builds: list[str] = []

    def build(model: str, location: str, recipe: object, out: Path, fingerprint: dict, progress: bool) -> None:
        builds.append(model)
        out.mkdir(parents=True)
        (out / "model.onnx").write_bytes(b"onnx")
        (out / onnx_export.META_FILE).write_text(json.dumps({"fingerprint": fingerprint, "dim": 384}))

    monkeypatch.setattr(onnx_export, "_build", build)
    return builds


def test_the_export_is_built_once_and_rebuilt_when_its_source_changes(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    builds = _counting_build(monkeypatch)
    source, cache = _fake_source(tmp_path), tmp_path / "cache"
    first = ensure_export("m", str(source), RECIPES["onnx-int8"], cache, progress=False)
    assert ensure_export("m", str(source), RECIPES["onnx-int8"], cache, progress=False) == first
    assert builds == ["m"] and first == cache / "m@onnx-int8"
    assert sorted(p.name for p in cache.iterdir()) == [".m@onnx-int8.lock", onnx_export.DIGESTS_FILE, "m@onnx-int8"]
    weights = source / "model.safetensors"
    weights.write_bytes(b"new weights")
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert ensure_export("m", str(source), RECIPES["onnx-int8"], cache, progress=False) == first
    assert builds == ["m", "m"]
    ensure_export("m", str(source), RECIPES["onnx"], cache, progress=False)  # another recipe, another folder
    assert builds == ["m", "m", "m"] and (cache / "m@onnx").is_dir()


def test_another_copy_of_the_same_model_shares_the_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second venv holds its own copy of the packaged model: same contents, so no second build."""
    builds = _counting_build(monkeypatch)
    cache = tmp_path / "cache"
    first = _fake_source(tmp_path)
    copy = tmp_path / "venv2"
    copy.mkdir()
    shutil.copytree(first, copy / "source")
    assert ensure_export("m", str(first), RECIPES["onnx"], cache, progress=False) == \
        ensure_export("m", str(copy / "source"), RECIPES["onnx"], cache, progress=False)
    assert builds == ["m"]
    (copy / "source" / "model.safetensors").write_bytes(b"other!!")  # same size, other weights
    ensure_export("m", str(copy / "source"), RECIPES["onnx"], cache, progress=False)
    assert builds == ["m", "m"]


def test_a_damaged_export_is_one_line_naming_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _counting_build(monkeypatch)
    monkeypatch.setattr(onnx_backend, "_loaded", {})
    cache = tmp_path / "cache"
    folder = ensure_export("m", str(_fake_source(tmp_path)), RECIPES["onnx-int8"], cache, progress=False)
    meta = json.loads((folder / onnx_export.META_FILE).read_text())
    (folder / onnx_export.META_FILE).write_text(json.dumps({**meta, "max_seq_length": 256}))
    (folder / "tokenizer.json").write_text("{not json")  # a disk error, or a hand edit
    with pytest.raises(EmbedderUnavailable, match=r"cannot load embedder m@onnx-int8 from .*m@onnx-int8: .*"
                                                  r"\(delete that folder to build it again\)$") as caught:
        load_onnx_export("m", str(tmp_path / "source"), RECIPES["onnx-int8"], cache)
    assert "\n" not in str(caught.value)


def test_two_loaders_at_once_build_the_export_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds = _counting_build(monkeypatch)
    source, cache = _fake_source(tmp_path), tmp_path / "cache"
    threads = [threading.Thread(target=ensure_export, args=("m", str(source), RECIPES["onnx"], cache, False))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == ["m"]


def test_a_failed_export_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def build(model: str, location: str, recipe: object, out: Path, fingerprint: dict, progress: bool) -> None:
        out.mkdir(parents=True)
        (out / "model.onnx").write_bytes(b"half")
        raise EmbedderUnavailable("the export disagrees with torch")

    monkeypatch.setattr(onnx_export, "_build", build)
    cache = tmp_path / "cache"
    with pytest.raises(EmbedderUnavailable, match="disagrees"):
        ensure_export("m", str(_fake_source(tmp_path)), RECIPES["onnx"], cache, progress=False)
    assert sorted(p.name for p in cache.iterdir()) == [".m@onnx.lock", onnx_export.DIGESTS_FILE]  # no temporary


def test_the_progress_bar_shows_paragraphs_per_second() -> None:
    from rich.progress import Progress

    with Progress(RateColumn(), disable=True) as bar:
        task = bar.add_task("x", total=10)
        assert str(RateColumn().render(bar.tasks[task])) == ""  # no rate before any progress
        bar.tasks[task].finished_speed = 123.4
        assert str(RateColumn().render(bar.tasks[task])) == "123 paragraphs/s"


# --- slow: the real export ---------------------------------------------------------------------------------


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
    assert sorted(p.name for p in folder.iterdir()) == ["export.json", "model.bin", "model.xml", "tokenizer.json",
                                                         "tokenizer_config.json"]
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

"""The OpenVINO and ONNX Runtime backends (``model@openvino-int8``, the default, and ``model@onnx-int8``): chosen by
the embedder string, built once into the model cache, vectors close to torch fp32's. Here the name, the factory,
the settings and the cache, with no model; the real export is tests/integration/test_onnx_embedder.py."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from embeddings import (
    PACKAGED_MODEL,
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

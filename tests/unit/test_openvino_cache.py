"""OpenVINO's compiled-model cache for the embedder (embeddings.openvino_cache), over a fake OpenVINO core: a blob is
written once and imported after, one that gives other vectors than a fresh compile is dropped, and an unwritable
folder compiles without a cache. The real compiled model, cached against uncached: tests/integration/
test_cold_start_caches.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embeddings import openvino_cache
from embeddings.openvino_cache import CHECK_FILE, cache_folder, compile_cached

CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 2}


class Port:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_any_name(self) -> str:
        return self.name

    def get_element_type(self) -> Any:
        return type("ElementType", (), {"to_dtype": staticmethod(lambda: np.dtype(np.int64))})()


class Compiled:
    """Its vector is the sum of its input ids, plus ``offset`` (what a blob from elsewhere would give)."""

    def __init__(self, loaded: bool, offset: float = 0.0) -> None:
        self.loaded, self.offset = loaded, offset
        self.inputs = [Port("input_ids"), Port("attention_mask"), Port("token_type_ids")]
        self.fed: dict[str, np.ndarray] = {}

    def get_property(self, name: str) -> bool:
        assert name == "LOADED_FROM_CACHE"
        return self.loaded

    def create_infer_request(self) -> Any:
        def infer(feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            self.fed = feed
            return {"out": np.full((1, 4), feed["input_ids"].sum() + self.offset, dtype=np.float32)}

        return type("Request", (), {"infer": staticmethod(infer)})()


class Core:
    """Writes ``model.blob`` into CACHE_DIR on a fresh compile, imports it when it is there."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []  # (fresh or imported, with a cache)
        self.blob_offset = 0.0

    def compile_model(self, path: str, device: str, config: dict[str, Any]) -> Compiled:
        assert device == "CPU" and {k: v for k, v in config.items() if k != "CACHE_DIR"} == CONFIG
        folder = Path(config["CACHE_DIR"]) if "CACHE_DIR" in config else None
        if folder is not None and (folder / "model.blob").is_file():
            self.calls.append(("imported", True))
            return Compiled(True, self.blob_offset)
        if folder is not None:
            if not folder.is_dir():
                raise RuntimeError(f"Couldn't create directory [{folder}]")
            (folder / "model.blob").write_bytes(b"blob")
        self.calls.append(("fresh", folder is not None))
        return Compiled(False)


@pytest.fixture()
def core() -> Core:
    return Core()


def test_the_compiled_model_is_written_once_then_imported(tmp_path: Path, core: Core) -> None:
    root = tmp_path / "export" / "compiled"
    first = compile_cached(core, tmp_path / "model.xml", CONFIG, root)
    second = compile_cached(core, tmp_path / "model.xml", CONFIG, root)
    assert core.calls == [("fresh", True), ("imported", True)] and second.loaded and not first.loaded
    folder = cache_folder(root, CONFIG)
    assert sorted(p.name for p in folder.iterdir()) == [CHECK_FILE, "model.blob"]
    assert list(root.iterdir()) == [folder]
    assert np.load(folder / CHECK_FILE).tolist() == [[36.0] * 4]  # ids 1..8
    assert first.fed["attention_mask"].tolist() == [[1] * 8] and first.fed["token_type_ids"].tolist() == [[0] * 8]


def test_a_blob_giving_other_vectors_is_dropped_and_compiled_afresh(tmp_path: Path, core: Core) -> None:
    root = tmp_path / "compiled"
    compile_cached(core, tmp_path / "model.xml", CONFIG, root)
    core.blob_offset = 2**-10  # e.g. written on another CPU, or by another OpenVINO
    compiled = compile_cached(core, tmp_path / "model.xml", CONFIG, root)
    assert not compiled.loaded and core.calls[-2:] == [("imported", True), ("fresh", False)]
    assert list(cache_folder(root, CONFIG).iterdir()) == []
    core.blob_offset = 0.0
    compile_cached(core, tmp_path / "model.xml", CONFIG, root)  # the next process writes a new blob
    assert core.calls[-1] == ("fresh", True) and (cache_folder(root, CONFIG) / CHECK_FILE).is_file()


def test_a_blob_without_its_check_is_not_trusted(tmp_path: Path, core: Core) -> None:
    root = tmp_path / "compiled"
    compile_cached(core, tmp_path / "model.xml", CONFIG, root)
    (cache_folder(root, CONFIG) / CHECK_FILE).unlink()
    assert not compile_cached(core, tmp_path / "model.xml", CONFIG, root).loaded


def test_an_unwritable_cache_compiles_without_one(tmp_path: Path, core: Core) -> None:
    (tmp_path / "file").write_text("not a folder")
    compiled = compile_cached(core, tmp_path / "model.xml", CONFIG, tmp_path / "file" / "compiled")
    assert not compiled.loaded and core.calls == [("fresh", False)]


def test_no_cache_folder_compiles_without_one(tmp_path: Path, core: Core) -> None:
    compile_cached(core, tmp_path / "model.xml", CONFIG, None)
    assert core.calls == [("fresh", False)] and list(tmp_path.iterdir()) == []


def test_each_cpu_and_compile_option_has_its_own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = cache_folder(tmp_path, CONFIG)
    assert folder.parent == tmp_path and cache_folder(tmp_path, dict(reversed(CONFIG.items()))) == folder
    assert cache_folder(tmp_path, {**CONFIG, "INFERENCE_NUM_THREADS": 1}) != folder
    monkeypatch.setattr(openvino_cache, "cpu_identity", lambda: "another CPU")
    assert cache_folder(tmp_path, CONFIG) != folder

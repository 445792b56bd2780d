"""Text embedders behind one small interface, chosen by a config string.

Example::

    from embeddings import make_embedder
    embedder = make_embedder("all-MiniLM-L6-v2")   # packaged, offline
    vectors = embedder.encode(["What did Operation Sentinel seize?"])  # (1, 384) float32
    custom = make_embedder("mypkg.embedders:Hashing", batch_size=16)  # your own class (see make_embedder)
    fast = make_embedder("all-MiniLM-L6-v2@openvino-int8")  # the default: OpenVINO int8, exported once
"""

from __future__ import annotations

import inspect
from pathlib import Path

from embeddings.privacy import keep_private

keep_private()  # before any backend imports a library that reports its use

from embeddings.base import Embedder, EmbedderUnavailable
from embeddings.classpath import ClassPathError, import_class, is_class_path
from embeddings.onnx_backend import OnnxEmbedder
from embeddings.onnx_export import RECIPES
from embeddings.sentence_transformer import PACKAGED_MODEL, SentenceTransformerEmbedder

BACKENDS = ("torch", *RECIPES)


def split_backend(name: str) -> tuple[str, str]:
    """``"model@backend"`` -> (model, backend); no ``@`` (or ``@torch``) is the sentence-transformers torch model.

    Raises ``ValueError`` naming the backends when the one given is unknown.
    """
    model, sep, backend = name.rpartition("@")
    if not sep or not model or is_class_path(name) or "/" in backend or "\\" in backend:
        return name, "torch"  # an "@" inside a path is part of the path
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedder backend {backend!r} in {name!r}: use one of {', '.join(BACKENDS)}")
    return model, backend


def make_embedder(name: str = PACKAGED_MODEL, batch_size: int = 32, cache_dir: Path | None = None) -> Embedder:
    """Factory: a sentence-transformers model (packaged name, local path or cached hub id), or a class.

    ``name@backend`` runs the model another way: ``@onnx`` (ONNX Runtime, fp32) or ``@onnx-int8`` (ONNX
    Runtime, dynamic int8; about 3x torch on 2 cores), exported once from the model's files into
    ``cache_dir`` (default ``~/.cache/rag/models``; ``embeddings.onnx_export``). Its ``name`` keeps the
    suffix, so an index made with another backend is rebuilt, never mixed.

    A "package.module:ClassName" name is the escape hatch for another embedder: the class is
    constructed with ``batch_size=`` when its ``__init__`` takes that keyword, else with no
    arguments, and must offer the ``Embedder`` interface (its ``name`` goes into the index manifest).
    """
    if not is_class_path(name):
        try:
            model, backend = split_backend(name)
        except ValueError as exc:
            raise EmbedderUnavailable(str(exc)) from exc
        if backend == "torch":
            return SentenceTransformerEmbedder(model, batch_size=batch_size)
        return OnnxEmbedder(model, backend, batch_size=batch_size, cache_dir=cache_dir)
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


__all__ = ["BACKENDS", "PACKAGED_MODEL", "Embedder", "EmbedderUnavailable", "OnnxEmbedder", "SentenceTransformerEmbedder",
           "make_embedder", "split_backend"]

"""The one place that maps a backend's name to its module: ``index.index_type`` and ``SegmentRecord.store``.

``index_type`` is either a FAISS type ("auto", "Flat", "HNSW32", ...), which means segment folders
(``rag.store.faiss_files``), or the name of another backend ("milvus": ``rag.store.milvus``). A backend module
is imported only when an index uses it, so pymilvus is never loaded for a folder index.

Example::

    from rag.store.factory import store_for
    store_for("auto").name     # "files"
    store_for("milvus").label  # "Milvus"
"""

from __future__ import annotations

import importlib

from rag.store.base import FILES, SegmentRecord, SegmentStore
from rag.store.integrity import Damaged

# name -> "module:class"; a new backend is one module and one line here
BACKENDS = {
    FILES: "rag.store.faiss_files:FilesStore",
    "milvus": "rag.store.milvus:MilvusStore",
}
_OPEN: dict[str, SegmentStore] = {}


def store_named(name: str) -> SegmentStore:
    """The backend a segment record names; an unknown one is a damaged (or newer) manifest."""
    if name not in _OPEN:
        if name not in BACKENDS:
            raise Damaged("manifest.json", f"names the index store {name!r}, which this program does not know "
                                           f"(it knows {', '.join(sorted(BACKENDS))})")
        module, cls = BACKENDS[name].split(":")
        _OPEN[name] = getattr(importlib.import_module(module), cls)()
    return _OPEN[name]


def store_for(index_type: str) -> SegmentStore:
    """The backend that an ``index.index_type`` setting writes new segments to."""
    return store_named(index_type if index_type in BACKENDS else FILES)


def store_of(record: SegmentRecord) -> SegmentStore:
    return store_named(record.store)


def faiss_type(index_type: str) -> str:
    """The FAISS type of an in-memory segment: a database backend's name means exact search (nothing to ask)."""
    return "Flat" if index_type in BACKENDS else index_type

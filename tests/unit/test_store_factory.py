"""The store factory: one table names the backends, and each keeps the ``SegmentStore`` protocol.

The behaviour both backends share (write, open, search, tombstones, crashes) is one suite run over each:
``tests/unit/test_segments.py`` and ``tests/integration/test_index.py`` are parametrised by backend.
"""

from __future__ import annotations

import inspect

from rag.store.base import SegmentStore
from rag.store.factory import BACKENDS, faiss_type, store_for, store_named


def test_the_factory_names_each_backend_once_and_each_keeps_the_segment_store_protocol() -> None:
    for name in BACKENDS:
        store = store_named(name)
        assert store.name == name and store is store_named(name)  # one instance per process
        for method in ("location", "write", "open", "drop_unlisted"):
            assert list(inspect.signature(getattr(store, method)).parameters) == \
                list(inspect.signature(getattr(SegmentStore, method)).parameters)[1:], (name, method)
    assert store_for("auto").name == store_for("HNSW32").name == "files" and store_for("milvus").name == "milvus"
    assert faiss_type("milvus") == "Flat" and faiss_type("auto") == "auto"

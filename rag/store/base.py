"""What every store backend provides, and what the rest of the program may ask of an index.

An index is a manifest over immutable *segments* (``rag.store.index``). Where a segment's rows live is the
backend's business, one module each, picked by ``rag.store.factory`` from the ``index.index_type`` setting
(or from a segment's recorded ``store``):

* ``rag.store.faiss_files``: a folder of files (vectors, FAISS, SQLite records, bm25s), the default;
* ``rag.store.milvus``: a partition of two Milvus collections (``index_type = milvus``).

Versions, the manifest, integrity checks and compaction sit beside them and work the same for both: a backend
only writes, opens and drops segments (``SegmentStore``), and an open segment searches itself (``Segment``).
Retrieval sees the whole index through ``rag.store.interface.IndexStore``.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.documents.paragraphs import Chunk, Paragraph
from rag.settings import IndexSettings
from rag.store.integrity import Damaged
from rag.store.records import Records

FILES = "files"  # the default backend's name: a segment is a folder of files in the index directory
SCOPES_KEPT = 16  # limited searches whose rows a segment remembers: a chat's questions reuse a few scopes


@dataclass
class SegmentRecord:
    """What the manifest knows of one segment: its files (sizes, sha256), counts and deleted documents."""

    name: str
    index_type: str
    chunks: int
    paragraphs: int
    files: dict[str, dict[str, int | str]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)  # doc_ids whose rows searches skip (tombstones)
    store: str = FILES  # the backend that holds its rows (rag.store.factory)
    uri: str = ""  # a database backend: the server, or an embedded database's path ("": in the index folder)
    collection: str = ""  # a database backend: the prefix of its collections


class Segment(ABC):
    """An open segment: its records, and searches by vector and by keywords that skip deleted documents.

    Backends subclass it (``FaissSegment``, ``MilvusSegment``); this base keeps what they share, the
    tombstoned rows and the live counts."""

    def __init__(self, record: SegmentRecord, records: Records, titles: dict[str, str] | None = None) -> None:
        self.record, self.records, self._titles = record, records, titles or {}
        self._lock = threading.Lock()
        deleted = set(record.deleted)
        self.deleted_chunks = np.asarray(records.doc_chunk_rows(deleted), dtype=np.int64)
        self.deleted_paragraphs = np.asarray(records.doc_paragraph_rows(deleted), dtype=np.int64)
        self._scoped: dict[tuple[frozenset[str], str], Any] = {}

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def live_chunks(self) -> int:
        return self.records.chunk_count - len(self.deleted_chunks)

    @property
    def live_paragraphs(self) -> int:
        return self.records.paragraph_count - len(self.deleted_paragraphs)

    @abstractmethod
    def with_record(self, record: SegmentRecord, titles: dict[str, str]) -> Segment:
        """The same open rows under a new manifest entry (new tombstones), without reading anything again."""

    @abstractmethod
    def vectors_at(self, rows: Sequence[int]) -> np.ndarray:
        """The vectors of some chunk rows, as float32."""

    @abstractmethod
    def search(self, query: np.ndarray, limit: int, efsearch: int, nprobe: int,
               allowed: frozenset[str] | None = None) -> list[tuple[int, float]]:
        """(chunk row, cosine) of the nearest live chunks, best first; with ``allowed`` (documents live in this
        segment), only theirs, and as many as they hold up to ``limit``: the limit is part of the search."""

    @abstractmethod
    def keyword_search(self, question: str, limit: int,
                       allowed: frozenset[str] | None = None) -> list[tuple[int, float]]:
        """(paragraph row, BM25 score) of the best live paragraphs for ``question``'s words, best first;
        with ``allowed``, only those documents' paragraphs."""

    def allowed_rows(self, allowed: frozenset[str], kind: str) -> np.ndarray:
        """The sorted ``kind`` ("chunks" or "paragraphs") rows of the ``allowed`` documents (read from the
        records' document index, never a scan), remembered for the next questions with the same scope."""
        read = self.records.doc_chunk_rows if kind == "chunks" else self.records.doc_paragraph_rows
        rows: np.ndarray = self.remembered(allowed, kind, lambda: np.asarray(read(set(allowed)), dtype=np.int64))
        return rows

    def remembered(self, allowed: frozenset[str], what: str, make: Callable[[], Any]) -> Any:
        """``make()`` for this scope, kept for the last ``SCOPES_KEPT`` scopes (rows, a FAISS selector)."""
        key = (allowed, what)
        found = self._scoped.get(key)
        if found is None:
            found = make()
            with self._lock:
                if len(self._scoped) >= SCOPES_KEPT:
                    self._scoped.pop(next(iter(self._scoped)))
                self._scoped[key] = found
        return found

    def exact_search(self, query: np.ndarray, rows: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """(chunk row, cosine) of the best ``limit`` of ``rows``, scored one by one: ties by row."""
        if not len(rows) or limit <= 0:
            return []
        scores = self.vectors_at(rows.tolist()) @ np.asarray(query, dtype=np.float32).reshape(-1)
        best = np.lexsort((rows, -scores))[:limit]
        return [(int(rows[i]), float(scores[i])) for i in best]

    def close(self) -> None:
        close = getattr(self.records, "close", None)
        if close is not None:
            close()


class SegmentStore(Protocol):
    """One backend: where segments' rows live. ``rag.store.factory`` picks it; tests share one suite over both."""

    name: str  # what ``SegmentRecord.store`` records
    label: str  # for people: "files", "Milvus"

    def location(self, directory: Path, settings: IndexSettings) -> tuple[str, str]:
        """(uri, collection) that new segments of this index get; ("", "") for files in the index folder."""
        ...

    def write(self, directory: Path, paragraphs: Sequence[Paragraph], chunks: Sequence[Chunk], vectors: np.ndarray,
              titles: dict[str, str], index_type: str, uri: str = "", collection: str = "") -> SegmentRecord:
        """Store a new segment; nothing names it until a manifest does, so a crash leaves only litter."""
        ...

    def open(self, directory: Path, record: SegmentRecord, titles: dict[str, str], verify: bool,
             on_damage: Callable[[Damaged], Exception] | None = None, checksums: bool = False) -> Segment:
        """Open a stored segment; damage raises ``Damaged`` naming what is damaged."""
        ...

    def drop_unlisted(self, directory: Path, uri: str, collection: str, keep: set[str]) -> None:
        """Remove the rows of segments not in ``keep`` (a killed writer's, or merged away)."""
        ...

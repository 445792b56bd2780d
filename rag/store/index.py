"""Stage 3: vectors + paragraph records on disk, as segments searched with FAISS and BM25.

Layout of an index directory::

    CURRENT                 name of the live version and its manifest's sha256 (replaced atomically)
    v-<time>-<id>/          one version: manifest.json alone (segments, tombstones, documents, checksums)
    s-<time>-<id>/          one immutable segment (rag.store.faiss_files): vectors, FAISS, SQLite records, BM25
    milvus.db/              index_type milvus with Milvus Lite: segments are partitions there, not folders
                            (rag.store.milvus); with a Milvus server, in its collections

Adding a report writes one small segment and a new manifest; deleting or changing one writes
only a manifest whose segment entry lists it as deleted. Every change ends with the switch of
``CURRENT``: a crash at any point leaves the previous version live, and the next writer removes
what no live manifest names. Damaged files are found and named by ``rag.store.integrity``.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from rag.documents.paragraphs import Chunk, Paragraph
from rag.errors import IndexCorrupt, IndexMismatch, RagError
from rag.settings import IndexSettings
from rag.store.base import Segment
from rag.store.factory import faiss_type, store_for, store_of
from rag.store.faiss_files import FaissSegment
from rag.store.integrity import (
    CURRENT,
    Damaged,
    Pointer,
    index_error,
    read_pointer,
    verify_files,
)
from rag.store.legacy import read_legacy_segment
from rag.store.manifest import (
    READABLE_FORMATS,
    IndexedDocument,
    Manifest,
    check_documents,
    read_manifest,
)
from rag.store.scope import resolve_scope
from rag.store.versions import publish
from rag.types import ParagraphKey, Scope

T = TypeVar("T")
_WIDTHS = IndexSettings()  # the search widths until rag.resources sets the configured ones

__all__ = ["CURRENT", "SegmentedIndex"]


class SegmentedIndex:
    """The live documents of an index: its manifest and open segments of any backend, searched as one
    (``rag.store.interface.IndexStore``).

    ``SegmentedIndex(manifest, paragraphs, chunks, vectors)`` builds a one-segment index in memory
    (tests, benchmarks); ``load`` opens one from disk, reading records only when asked for them.
    """

    def __init__(self, manifest: Manifest, paragraphs: list[Paragraph] | None = None, chunks: list[Chunk] | None = None,
                 vectors: np.ndarray | None = None, *, segments: list[Segment] | None = None) -> None:
        self.manifest = manifest
        if segments is None:
            chunks, paragraphs = chunks or [], paragraphs or []
            vectors = vectors if vectors is not None else np.zeros((0, manifest.dim), np.float32)
            if len(chunks) != len(vectors):
                raise IndexCorrupt(f"{len(chunks)} chunk records but {len(vectors)} vectors")
            segments = [FaissSegment.in_memory(paragraphs, chunks, vectors, faiss_type(manifest.index_type),
                                                  manifest.titles())]
        self.segments = segments
        self._by_name = {s.name: s for s in segments}
        # approximate index types: how widely a search looks (rag.resources sets the configured widths)
        self.efsearch, self.nprobe = _WIDTHS.hnsw_ef_search, _WIDTHS.ivf_nprobe

    # --- queries --------------------------------------------------------------------------
    def __len__(self) -> int:
        """Live chunks (vectors) over all segments."""
        return sum(s.live_chunks for s in self.segments)

    @property
    def paragraph_count(self) -> int:
        return sum(s.live_paragraphs for s in self.segments)

    def _segment_of(self, doc_id: str) -> Segment:
        document = self.manifest.documents[doc_id]  # KeyError: not a live document
        return self._by_name[document.segment] if document.segment in self._by_name else self.segments[0]

    def paragraph(self, doc_id: str, number: int) -> Paragraph:
        found = self._segment_of(doc_id).records.paragraph(ParagraphKey(doc_id, number))
        if found is None:
            raise KeyError(ParagraphKey(doc_id, number))
        return found

    def document(self, doc_id: str) -> IndexedDocument:
        return self.manifest.documents[doc_id]

    def resolve(self, scope: Scope | None) -> frozenset[str] | None:
        """The doc_ids a question limited to ``scope`` may cite (None: all); ``NoMatchingReport`` when none."""
        return resolve_scope(scope, self.manifest.documents)

    def _scoped(self, allowed: frozenset[str] | None) -> list[tuple[Segment, frozenset[str] | None]]:
        """Each segment with the allowed documents live in it; segments holding none of them are not searched."""
        if allowed is None:
            return [(segment, None) for segment in self.segments]
        pairs = [(s, frozenset(d for d in allowed if self.manifest.lives_in(d, s.record))) for s in self.segments]
        return [(segment, docs) for segment, docs in pairs if docs]

    def search(self, query: np.ndarray, limit: int, allowed: frozenset[str] | None = None) -> list[tuple[Chunk, float]]:
        """Nearest live chunks to one normalised query vector over all segments, best first; with ``allowed``
        (``resolve``), only those documents' chunks, searched for inside each segment (not filtered after).

        Equal scores (chunks of the same text) rank by segment, then row: FAISS leaves their order to its
        heap, Milvus to its engine, and a tie at the top of the ranking moves a paragraph's rank.
        """
        order = {segment.name: position for position, segment in enumerate(self.segments)}
        found = [(score, segment, row) for segment, docs in self._scoped(allowed)
                 for row, score in segment.search(query, limit, self.efsearch, self.nprobe, docs)]
        found.sort(key=lambda item: (-item[0], order[item[1].name], item[2]))
        top = found[:max(limit, 0)]
        return list(zip(self._read(top, lambda s, rows: s.records.chunks_at(rows)), [score for score, _, _ in top]))

    @staticmethod
    def _read(found: list[tuple[float, Segment, int]], read: Callable[[Segment, list[int]], list[T]]) -> list[T]:
        """Records for (score, segment, row) triples, one read per segment, in the order given."""
        rows: dict[str, tuple[Segment, list[int]]] = {}
        for _, segment, row in found:
            rows.setdefault(segment.name, (segment, []))[1].append(row)
        records = {name: dict(zip(wanted, read(segment, wanted))) for name, (segment, wanted) in rows.items()}
        return [records[segment.name][row] for _, segment, row in found]

    def keyword_search(self, question: str, limit: int, allowed: frozenset[str] | None = None) -> list[ParagraphKey]:
        """Paragraph keys by BM25 over title + text, best first, merged over segments by score (with
        ``allowed``, only those documents' paragraphs).

        Each segment scores with its own term statistics; compaction merges small segments into
        large ones, so a new report soon shares the archive's statistics.
        """
        found = sorted(((score, segment, row) for segment, docs in self._scoped(allowed)
                        for row, score in segment.keyword_search(question, limit, docs)), key=lambda item: -item[0])
        return [p.key for p in self._read(found[:max(limit, 0)], lambda s, rows: s.records.paragraph_at(rows))]

    def best_chunk(self, key: ParagraphKey, vector: np.ndarray,
                   paragraph: Paragraph | None = None) -> tuple[float, tuple[int, int]]:
        """The paragraph's best cosine similarity, and where in the paragraph that chunk lies
        (``paragraph``: its record, when the caller has read it already)."""
        segment = self._segment_of(key.doc_id)
        rows = list(segment.records.chunk_rows(key))
        similarities = segment.vectors_at(rows) @ vector
        best = int(similarities.argmax())
        chunk = segment.records.chunks_at([rows[best]])[0]
        paragraph = paragraph or self.paragraph(*key)
        return float(similarities[best]), (chunk.start - paragraph.start, chunk.end - paragraph.start)

    def check_embedder(self, name: str, dim: int) -> None:
        if (self.manifest.embedder, self.manifest.dim) != (name, dim):
            raise IndexMismatch(
                f"the index was built with embedder {self.manifest.embedder!r} (dim {self.manifest.dim}) "
                f"but {name!r} (dim {dim}) is configured; re-index with `rag index`"
            )

    # --- whole reads: for tools and tests over small indexes, never on a question's path ------
    @property
    def paragraphs(self) -> list[Paragraph]:
        return sorted((p for s in self.segments for p in s.records.paragraphs()
                       if self.manifest.lives_in(p.doc_id, s.record)), key=lambda p: p.key)

    @property
    def chunks(self) -> list[Chunk]:
        return [chunk for chunk, _ in self.rows()]

    @property
    def vectors(self) -> np.ndarray:
        rows = self.rows()
        return np.vstack([v for _, v in rows]) if rows else np.zeros((0, self.manifest.dim), np.float32)

    def rows(self) -> list[tuple[Chunk, np.ndarray]]:
        """Every live chunk with its vector, in key order (``save``, tests)."""
        found = []
        for segment in self.segments:
            _, chunks, vectors = live_rows(self.manifest, segment)
            found += list(zip(chunks, vectors))
        return sorted(found, key=lambda item: (item[0].doc_id, item[0].paragraph, item[0].start))

    @property
    def faiss(self) -> Any:
        """The FAISS index of the largest segment (None when its rows are in a database)."""
        return getattr(max(self.segments, key=lambda s: s.records.chunk_count), "faiss", None) if self.segments else None

    # --- persistence ----------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        """Write this (in-memory) index as one new segment and make it current; returns the version folder."""
        manifest = copy.deepcopy(self.manifest)
        paragraphs, rows = self.paragraphs, self.rows()
        vectors = np.vstack([v for _, v in rows]) if rows else np.zeros((0, manifest.dim), np.float32)
        first = self.segments[0].record if self.segments else None
        index_type = first.index_type if first else manifest.index_type
        record = store_for(index_type).write(directory, paragraphs, [c for c, _ in rows], vectors, manifest.titles(),
                                             index_type, first.uri if first else "", first.collection if first else "")
        manifest.segments = [record]
        for doc_id, document in manifest.documents.items():
            manifest.documents[doc_id] = IndexedDocument(**{**document.__dict__, "segment": record.name})
        return publish(directory, manifest)

    @staticmethod
    def read_manifest(directory: Path) -> Manifest:
        """The live version's manifest alone (checksum verified), without loading vectors or records."""
        pointer = read_pointer(directory)
        try:
            return read_manifest(directory / pointer.version, pointer.manifest_sha256)
        except Damaged as damage:
            raise index_error(directory, damage, None) from None

    @staticmethod
    def exists(directory: Path) -> bool:
        return (directory / CURRENT).is_file()

    @classmethod
    def load(cls, directory: Path, verify: bool = False, reuse: SegmentedIndex | None = None,
             checksums: bool = False) -> SegmentedIndex:
        """Open the current version; raises IndexNotFound or IndexCorrupt with a one-line reason and fix.

        Sizes are always checked; ``checksums`` also checks every file's sha256 (what a reading process does
        once, when it opens the index: a flipped bit never changes an answer silently); ``verify`` does that
        and checks every row's consistency (``rag index``, ``--check``). Segments already open in ``reuse``
        (the writer's previous index) are not opened again.
        """
        for _attempt in range(3):
            pointer = read_pointer(directory)
            try:
                return cls._load_version(directory, pointer, verify, reuse, checksums or verify)
            except IndexCorrupt:
                with contextlib.suppress(RagError):
                    if read_pointer(directory) != pointer:
                        continue  # a writer switched versions while we read: read the new one
                raise
        raise IndexCorrupt(f"index at {directory} keeps changing while it is read; try again")

    @classmethod
    def _load_version(cls, directory: Path, pointer: Pointer, verify: bool, reuse: SegmentedIndex | None,
                      checksums: bool) -> SegmentedIndex:
        version = directory / pointer.version
        corpus_root: str | None = None
        try:
            manifest = read_manifest(version, pointer.manifest_sha256)
            corpus_root = manifest.corpus_root
            if manifest.format_version not in READABLE_FORMATS:
                raise IndexMismatch(
                    f"index format {manifest.format_version} at {directory} is not supported "
                    f"(this program reads formats {', '.join(map(str, READABLE_FORMATS))}); re-index with `rag index`")
            if manifest.format_version < 3:
                verify_files(version, manifest.files, checksums=checksums)
                return cls(manifest, segments=[read_legacy_segment(version, manifest)])
            opened = {s.name: s for s in reuse.segments} if reuse is not None else {}
            segments = []
            for record in manifest.segments:
                same = opened.get(record.name)
                segment = (same.with_record(record, manifest.titles()) if same is not None and same.record.files == record.files else
                           store_of(record).open(directory, record, manifest.titles(), verify,
                                                 lambda damage: index_error(directory, damage, manifest.corpus_root),
                                                 checksums=checksums))
                if verify:
                    deleted = set(record.deleted)
                    counts = segment.records.doc_counts()
                    live = {d: n for d, n in counts.items() if d not in deleted}
                    check_documents(manifest, live, f"{record.name}/records.sqlite",  # type: ignore[arg-type]
                                    [d for d, doc in manifest.documents.items() if doc.segment == record.name])
                segments.append(segment)
            listed = {d.segment for d in manifest.documents.values()} - {s.name for s in segments}
            if listed:
                raise Damaged("manifest.json", f"lists documents in segment {min(listed)!r}, which it does not hold")
            return cls(manifest, segments=segments)
        except Damaged as damage:
            raise index_error(directory, damage, corpus_root) from None


def live_rows(manifest: Manifest, segment: Segment) -> tuple[list[Paragraph], list[Chunk], np.ndarray]:
    """A segment's paragraphs, chunks and vectors, without the rows of documents no longer live there."""
    paragraphs = [p for p in segment.records.paragraphs() if manifest.lives_in(p.doc_id, segment.record)]
    rows = [(row, c) for row, c in enumerate(segment.records.chunks()) if manifest.lives_in(c.doc_id, segment.record)]
    return paragraphs, [c for _, c in rows], segment.vectors_at([row for row, _ in rows])

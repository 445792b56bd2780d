"""Stage 3: vectors + paragraph records on disk, as segments searched with FAISS and BM25.

Layout of an index directory::

    CURRENT                 name of the live version and its manifest's sha256 (replaced atomically)
    v-<time>-<id>/          one version: manifest.json alone (segments, tombstones, documents, checksums)
    s-<time>-<id>/          one immutable segment (rag.store.faiss_files): vectors, FAISS, SQLite records, BM25
    milvus.db/              index_type "milvus" with Milvus Lite: segments are partitions there, not folders
                            (rag.store.milvus); with a Milvus server, in its collections

Adding a report writes one small segment and a new manifest; deleting or changing one writes
only a manifest whose segment entry lists it as deleted. Every change ends with the switch of
``CURRENT``: a crash at any point leaves the previous version live, and the next writer removes
what no live manifest names. Damaged files are found and named by ``rag.store.integrity``.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from rag.documents.paragraphs import Chunk, Paragraph
from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound, RagError
from rag.settings import IndexSettings
from rag.store.faiss_files import MILVUS, Segment, SegmentRecord, open_segment
from rag.store.integrity import (
    CURRENT,
    LOCK,
    Damaged,
    Pointer,
    check_folder,
    index_error,
    is_own,
    read_pointer,
    verify_files,
    write_pointer,
)
from rag.store.manifest import (
    READABLE_FORMATS,
    IndexedDocument,
    Manifest,
    check_documents,
    package_versions,
    read_legacy_segment,
    read_manifest,
)
from rag.types import ParagraphKey

T = TypeVar("T")
_WIDTHS = IndexSettings()  # the search widths until rag.resources sets the configured ones

__all__ = ["CURRENT", "FaissIndex", "IndexedDocument", "Manifest", "check_writable", "index_lock"]


@contextlib.contextmanager
def index_lock(directory: Path) -> Iterator[None]:
    """One writer at a time per index directory: a second one waits, without a time limit, until the first is done.

    Readers never wait (versions and segments are immutable). filelock takes ``flock`` on Unix and
    ``LockFileEx`` on Windows, where ``fcntl`` does not exist.
    """
    from filelock import FileLock  # only writers lock; readers need not import it

    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(directory / LOCK):
        yield


class FaissIndex:
    """The live documents of an index: its manifest and open segments, searched as one.

    ``FaissIndex(manifest, paragraphs, chunks, vectors)`` builds a one-segment index in memory
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
            segments = [Segment.in_memory(paragraphs, chunks, vectors, manifest.index_type, manifest.titles())]
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

    def search(self, query: np.ndarray, limit: int) -> list[tuple[Chunk, float]]:
        """Nearest live chunks to one normalised query vector over all segments, best first.

        Equal scores (chunks of the same text) rank by segment, then row: FAISS leaves their order to its
        heap, Milvus to its engine, and a tie at the top of the ranking moves a paragraph's rank.
        """
        order = {segment.name: position for position, segment in enumerate(self.segments)}
        found = [(score, segment, row) for segment in self.segments
                 for row, score in segment.search(query, limit, self.efsearch, self.nprobe)]
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

    def keyword_search(self, question: str, limit: int) -> list[ParagraphKey]:
        """Paragraph keys by BM25 over title + text, best first, merged over segments by score.

        Each segment scores with its own term statistics; compaction merges small segments into
        large ones, so a new report soon shares the archive's statistics.
        """
        found = sorted(((score, segment, row) for segment in self.segments
                        for row, score in segment.keyword_search(question, limit)), key=lambda item: -item[0])
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
        """The FAISS index of the largest segment (what ``rag status`` reports as the index type)."""
        return max(self.segments, key=lambda s: s.records.chunk_count).faiss if self.segments else None

    # --- persistence ----------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        """Write this (in-memory) index as one new segment and make it current; returns the version folder."""
        from rag.store.faiss_files import write_segment

        manifest = copy.deepcopy(self.manifest)
        paragraphs, rows = self.paragraphs, self.rows()
        vectors = np.vstack([v for _, v in rows]) if rows else np.zeros((0, manifest.dim), np.float32)
        first = self.segments[0].record if self.segments else None
        record = write_segment(directory, paragraphs, [c for c, _ in rows], vectors, manifest.titles(),
                               first.index_type if first else manifest.index_type,
                               first.uri if first else "", first.collection if first else "")
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
    def load(cls, directory: Path, verify: bool = False, reuse: FaissIndex | None = None,
             checksums: bool = False) -> FaissIndex:
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
    def _load_version(cls, directory: Path, pointer: Pointer, verify: bool, reuse: FaissIndex | None,
                      checksums: bool) -> FaissIndex:
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
                           open_segment(directory, record, manifest.titles(), verify,
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


def publish(directory: Path, manifest: Manifest, replaced: list[SegmentRecord] | None = None) -> Path:
    """Write ``manifest`` as a new version and switch ``CURRENT`` to it atomically; returns the version folder.

    Its segments must already be in place. Versions and segments no live manifest names are removed after;
    Milvus segments of the version it replaces (``replaced``, else read from disk) stay one version longer
    (see ``remove_stale_rows``).
    """
    replaced = _current_segments(directory) if replaced is None else replaced
    token = uuid.uuid4().hex[:8]
    tmp = directory / f".tmp-{token}"
    tmp.mkdir(parents=True)
    try:
        manifest.versions = package_versions()
        manifest.created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        manifest.files = {}
        path = tmp / "manifest.json"
        path.write_text(manifest.to_json(), encoding="utf-8")
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
        version = directory / f"v-{time.strftime('%Y%m%dT%H%M%S')}-{token}"
        tmp.rename(version)
        if (directory / CURRENT).is_dir():  # only reached with --force: an empty folder where the pointer belongs
            (directory / CURRENT).rmdir()  # (one with files in it is refused before any work: check_writable)
        os.replace(write_pointer(directory, version, token), directory / CURRENT)  # the atomic switch
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    remove_stale(directory, {s.name for s in manifest.segments})
    remove_stale_rows(directory, manifest.segments, replaced)
    return version


def _current_segments(directory: Path) -> list[SegmentRecord]:
    """The segments of the live version, if there is a readable one (before a switch)."""
    try:
        pointer = read_pointer(directory)
        return read_manifest(directory / pointer.version, pointer.manifest_sha256).segments
    except (RagError, Damaged):
        return []


def remove_stale_rows(directory: Path, live: list[SegmentRecord], replaced: list[SegmentRecord]) -> None:
    """Drop the Milvus rows of segments neither the live version nor the one it replaced names.

    Rows a killed writer left, and those of segments merged away one version ago, go. Those of the
    replaced version stay until the next write: unlike an open file, rows vanish under a reader (another
    process on a Milvus server) that still searches that version.
    """
    keep = {s.name for s in live + replaced}
    stores = {(s.uri, s.collection) for s in live + replaced if s.store == MILVUS}
    if stores:
        from rag.store.milvus_client import drop_unlisted

        for uri, collection in sorted(stores):
            drop_unlisted(directory, uri, collection, keep)


def remove_stale(directory: Path, live_segments: set[str]) -> None:
    """Delete versions other than the live one, segments it does not name, and leftovers of crashed writes.

    Only what the index wrote (``is_own``: its names, holding only its files) is ever deleted; the caller
    holds the writer lock. A reader that opened an older version just before the switch retries (see
    ``FaissIndex.load``); one that already holds a segment keeps reading it (open files outlive their names
    on POSIX).
    """
    keep = {read_pointer(directory).version} | live_segments
    for path in directory.iterdir():
        if path.name not in keep and is_own(path):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)  # a pointer staged by a writer that died before the switch


def check_writable(directory: Path, force: bool) -> None:
    """Refuse, before the lock file or any work, a folder the index may not write into: a file, one that holds
    files but no valid index (unless ``force``), or one whose ``CURRENT`` is a folder with something in it."""
    check_folder(directory)
    pointer = directory / CURRENT
    if pointer.is_dir() and not pointer.is_symlink() and any(pointer.iterdir()):
        raise IndexCorrupt(f"{pointer} is a folder with files in it, where the index keeps its pointer; "
                           "move it elsewhere, then run `rag index` again")
    if not force and not (directory / LOCK).exists():  # a lock file: an index writer has worked here before
        with contextlib.suppress(IndexNotFound):
            read_pointer(directory)  # IndexCorrupt: files but no valid index, refused with the --force hint

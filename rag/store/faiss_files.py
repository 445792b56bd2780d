"""The default store backend (``FilesStore``): each segment a folder of vectors, FAISS index, records and BM25.

An index is a list of segments (see ``rag.store.index``); this backend keeps each in a folder of the index
directory (the other, ``rag.store.milvus``, in Milvus collections). Adding a report writes one small
segment; deleting or changing one only marks its documents deleted ("tombstones") in the
manifest, and searches skip their rows; compaction later merges segments into one. A segment is
written once, in a temporary folder that is renamed into place, and never changed afterwards.

Files of a segment folder::

    vectors.npy       chunk vectors (read by memory map: a search reads only the rows it scores)
    index.faiss       the FAISS index over them (type chosen by ``choose_index_type``)
    records.sqlite    paragraph and chunk records (``rag.store.records``)
    *.index.*         the bm25s keyword model over title + paragraph text
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.documents.paragraphs import Chunk, Paragraph
from rag.settings import IndexSettings
from rag.store.base import FILES, Segment, SegmentRecord
from rag.store.faiss_types import build_faiss, choose_index_type
from rag.store.integrity import Damaged, file_records, read_file, verify_files
from rag.store.records import RECORDS, MemoryRecords, Records, SqliteRecords, sort_records, write_records
from rag.text import search_tokens

BM25_PARAMS = "params.index.json"  # one of the files bm25s writes; the others sit beside it


def build_bm25(paragraphs: Sequence[Paragraph], titles: dict[str, str]) -> Any:
    import bm25s

    model = bm25s.BM25()
    model.index(search_tokens([f"{titles.get(p.doc_id, '')}\n{p.text}" for p in paragraphs]), show_progress=False)
    return model


def write_segment(directory: Path, paragraphs: Sequence[Paragraph], chunks: Sequence[Chunk], vectors: np.ndarray,
                  titles: dict[str, str], index_type: str) -> SegmentRecord:
    """Write a new segment folder under ``directory`` atomically (temp folder, fsync, rename)."""
    import faiss

    ordered, order = sort_records(paragraphs, chunks)
    chunks = [chunks[i] for i in order]
    vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[order])
    token = uuid.uuid4().hex[:8]
    tmp = directory / f".tmp-{token}"
    tmp.mkdir(parents=True)
    try:
        np.save(tmp / "vectors.npy", vectors)
        write_records(tmp / RECORDS, ordered, chunks)
        if len(vectors):
            faiss.write_index(build_faiss(index_type, vectors), str(tmp / "index.faiss"))
        build_bm25(ordered, titles).save(str(tmp))
        for path in tmp.iterdir():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        name = f"s-{time.strftime('%Y%m%dT%H%M%S')}-{token}"
        record = SegmentRecord(name, index_type, len(chunks), len(ordered), file_records(tmp))
        tmp.rename(directory / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return record


class FaissSegment(Segment):
    """A segment folder: FAISS searches its vectors, bm25s its paragraphs, skipping the rows of deleted documents."""

    def __init__(self, record: SegmentRecord, records: Records, vectors: np.ndarray, faiss_index: Any,
                 bm25: Any = None, titles: dict[str, str] | None = None,
                 loaders: tuple[Callable[[], Any], Callable[[], Any]] | None = None) -> None:
        """``loaders`` read the FAISS index and the BM25 model on first use: `rag index` adding one report
        to a 1M-paragraph archive never reads the archive's 1.5 GB HNSW graph, and a question reads it once."""
        super().__init__(record, records, titles)
        self.vectors, self._faiss, self._bm25, self._loaders = vectors, faiss_index, bm25, loaders

    @classmethod
    def in_memory(cls, paragraphs: Sequence[Paragraph], chunks: Sequence[Chunk], vectors: np.ndarray,
                  index_type: str, titles: dict[str, str], name: str = "memory") -> FaissSegment:
        """A segment that exists only in memory (tests, benchmarks), or one read from JSONL (formats 1-2);
        ``index_type`` is a FAISS type or "auto" (``rag.store.factory.faiss_type``)."""
        ordered, order = sort_records(paragraphs, chunks)
        vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[order])
        defaults = IndexSettings()
        index_type = choose_index_type(index_type, len(vectors), defaults.flat_max_vectors, defaults.large_index_type)
        record = SegmentRecord(name, index_type, len(chunks), len(ordered))
        faiss_index = build_faiss(index_type, vectors) if len(vectors) else None
        return cls(record, MemoryRecords(ordered, [chunks[i] for i in order]), vectors, faiss_index, None, titles)

    def with_record(self, record: SegmentRecord, titles: dict[str, str]) -> FaissSegment:
        return FaissSegment(record, self.records, self.vectors, self._faiss, self._bm25, titles, self._loaders)

    @property
    def faiss(self) -> Any:
        if self._faiss is None and self._loaders is not None and self.record.chunks:
            with self._lock:
                if self._faiss is None:
                    self._faiss = self._loaders[0]()
        return self._faiss

    @faiss.setter
    def faiss(self, index: Any) -> None:
        self._faiss = index

    def vectors_at(self, rows: Sequence[int]) -> np.ndarray:
        """A memory-mapped read of just those rows."""
        return np.asarray(self.vectors[list(rows)], dtype=np.float32).reshape(len(rows), -1)

    @property
    def bm25(self) -> Any:
        """The keyword model: the saved one, or built once from the records (in-memory segments)."""
        if self._bm25 is None:
            with self._lock:
                if self._bm25 is None:
                    self._bm25 = (self._loaders[1]() if self._loaders is not None else
                                  build_bm25(list(self.records.paragraphs()), self._titles))
        return self._bm25

    def _search_parameters(self, efsearch: int, nprobe: int, allowed: frozenset[str] | None = None) -> Any:
        """FAISS parameters, of the kind this index type reads, that skip deleted rows or (``allowed``: documents
        live here) search only those documents' rows: Flat, HNSW and IVF all take a selector."""
        import faiss

        kind = type(faiss.downcast_index(self.faiss)).__name__
        params: Any = (faiss.SearchParametersHNSW() if "HNSW" in kind else  # type: ignore[attr-defined]
                  faiss.SearchParametersIVF() if "IVF" in kind else faiss.SearchParameters())
        if "HNSW" in kind:
            params.efSearch = efsearch
        elif "IVF" in kind:
            params.nprobe = nprobe
        selector: Any
        if allowed is not None:
            rows = self.allowed_rows(allowed, "chunks")
            selector = self.remembered(allowed, "selector", lambda: faiss.IDSelectorBatch(rows))
        elif len(self.deleted_chunks):
            selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(self.deleted_chunks))
        else:
            return params
        params.sel, params.keep = selector, selector  # keep a reference: FAISS does not own it
        return params

    def search(self, query: np.ndarray, limit: int, efsearch: int, nprobe: int,
               allowed: frozenset[str] | None = None) -> list[tuple[int, float]]:
        """With ``allowed``, FAISS searches through a selector of their rows. An approximate index may come back
        short (HNSW's walk and IVF's probed lists reach few allowed rows when they are a small share): then
        the allowed rows are scored exactly, so a limited question gets as many chunks as an unlimited one."""
        rows = self.allowed_rows(allowed, "chunks") if allowed is not None else None
        limit = min(limit, self.live_chunks if rows is None else len(rows))
        if self.faiss is None or limit <= 0:
            return []
        params = self._search_parameters(efsearch, nprobe, allowed)
        scores, found = self.faiss.search(np.asarray(query, dtype=np.float32).reshape(1, -1), limit, params=params)
        hits = [(int(r), float(s)) for r, s in zip(found[0], scores[0]) if r >= 0]
        if rows is not None and len(hits) < limit:
            return self.exact_search(query, rows, limit)
        return hits

    def keyword_search(self, question: str, limit: int,
                       allowed: frozenset[str] | None = None) -> list[tuple[int, float]]:
        """bm25s scores every paragraph, then its ``retrieve`` partitions all of them; at 1M paragraphs
        that partition was 12 of a question's 18 ms, so only the paragraphs that hold a question word
        (a non-zero score) are ranked here: the same order, at the cost of the posting lists. With
        ``allowed``, only their rows keep their scores (what bm25s' ``weight_mask`` does in ``retrieve``).
        """
        tokens = search_tokens([question])
        rows = self.allowed_rows(allowed, "paragraphs") if allowed is not None else None
        limit = min(limit, self.live_paragraphs if rows is None else len(rows))
        if limit <= 0 or not tokens.vocab:
            return []
        words = {index: word for word, index in tokens.vocab.items()}
        ids = self.bm25.get_tokens_ids([words[i] for i in tokens.ids[0]])
        if not ids:
            return []
        scores = self.bm25.get_scores_from_ids(ids)
        if rows is not None:
            kept = np.zeros_like(scores)
            kept[rows] = scores[rows]
            scores = kept
        elif len(self.deleted_paragraphs):
            scores[self.deleted_paragraphs] = 0
        found = np.flatnonzero(scores > 0)
        if len(found) > limit:
            found = found[np.argpartition(-scores[found], limit - 1)[:limit]]
        found = found[np.lexsort((found, -scores[found]))]  # best first; ties by row, so the order is stable
        return [(int(r), float(scores[r])) for r in found]


def _load_bm25(folder: Path) -> Any:
    import bm25s

    return bm25s.BM25.load(str(folder))  # read whole (no mmap): compaction may delete the folder later


def _read_faiss(path: Path) -> Any:
    import faiss

    return faiss.read_index(str(path))


def open_segment(directory: Path, record: SegmentRecord, titles: dict[str, str], verify: bool,
                 on_damage: Callable[[Damaged], Exception] | None = None, checksums: bool = False) -> FaissSegment:
    """Open a segment folder; any damage raises ``Damaged`` naming ``<segment>/<file>``.

    Sizes are always checked; ``checksums`` or ``verify`` also checks every file's sha256. The FAISS index and the
    BM25 model are read on first use; damage found then raises ``on_damage(damage)`` (the caller's
    one-line IndexCorrupt).
    """
    folder, label = directory / record.name, f"{record.name}/"
    verify_files(folder, record.files, checksums=verify or checksums, label=label)
    vectors = read_file(folder, "vectors.npy", lambda p: np.load(p, mmap_mode="r", allow_pickle=False), label)
    records = read_file(folder, RECORDS, SqliteRecords, label)
    if vectors.ndim != 2 or len(vectors) != record.chunks:
        raise Damaged(f"{label}vectors.npy", f"has shape {vectors.shape}, the manifest says {record.chunks} rows")
    if (records.chunk_count, records.paragraph_count) != (record.chunks, record.paragraphs):
        raise Damaged(f"{label}{RECORDS}", f"holds {records.chunk_count} chunks and {records.paragraph_count} "
                                           f"paragraphs, the manifest says {record.chunks} and {record.paragraphs}")
    if verify:
        orphan = records.orphan_chunk()
        if orphan is not None:
            raise Damaged(f"{label}{RECORDS}", f"has a chunk of {orphan.doc_id!r} ¶{orphan.paragraph}, "
                                               "a paragraph it does not hold")

    def damaged(read: Callable[[], Any]) -> Callable[[], Any]:
        def load() -> Any:
            try:
                return read()
            except Damaged as damage:
                raise (on_damage(damage) if on_damage is not None else damage) from None
        return load

    def read_faiss() -> Any:
        index = read_file(folder, "index.faiss", _read_faiss, label)
        if index.ntotal != len(vectors) or index.d != vectors.shape[1]:
            raise Damaged(f"{label}index.faiss", f"holds {index.ntotal}x{index.d}, "
                                                 f"the records say {len(vectors)}x{vectors.shape[1]}")
        return index

    loaders = (damaged(read_faiss), damaged(lambda: read_file(folder, BM25_PARAMS, lambda _: _load_bm25(folder), label)))
    return FaissSegment(record, records, vectors, None, None, titles, loaders)


class FilesStore:
    """The default backend: each segment a folder in the index directory (``SegmentStore``)."""

    name, label = FILES, "files"

    def location(self, directory: Path, settings: IndexSettings) -> tuple[str, str]:
        return "", ""

    def write(self, directory: Path, paragraphs: Sequence[Paragraph], chunks: Sequence[Chunk], vectors: np.ndarray,
              titles: dict[str, str], index_type: str, uri: str = "", collection: str = "") -> SegmentRecord:
        return write_segment(directory, paragraphs, chunks, vectors, titles, index_type)

    def open(self, directory: Path, record: SegmentRecord, titles: dict[str, str], verify: bool,
             on_damage: Callable[[Damaged], Exception] | None = None, checksums: bool = False) -> FaissSegment:
        return open_segment(directory, record, titles, verify, on_damage, checksums)

    def drop_unlisted(self, directory: Path, uri: str, collection: str, keep: set[str]) -> None:
        """Nothing: unlisted folders go with the versions that named them (``rag.store.versions.remove_stale``)."""


"""One question reads the few records it returns, not all N (issue 13, bounded costs): no clock, counts.

FAISS and BM25 score every paragraph in their own compiled code; everything around them (fusion,
hit records, best chunk) must stay proportional to k and the candidate count. bench/scale.py
gives the times at 1k/10k/100k paragraphs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.documents.paragraphs import Chunk, Paragraph
from rag.query.retrieval import Retriever
from rag.store.index import SegmentedIndex
from rag.store.manifest import IndexedDocument, Manifest

DIM = 16


class _CountedRecords:
    """A segment's records, counting the rows read and any whole-table scan."""

    reads = 0
    scans = 0

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.paragraph_count, self.chunk_count = inner.paragraph_count, inner.chunk_count

    def paragraph(self, key: Any) -> Any:
        _CountedRecords.reads += 1
        return self.inner.paragraph(key)

    def chunk_rows(self, key: Any) -> range:
        rows = self.inner.chunk_rows(key)
        _CountedRecords.reads += 1
        return rows

    def paragraph_at(self, rows: list[int]) -> list:
        _CountedRecords.reads += len(rows)
        return self.inner.paragraph_at(rows)

    def chunks_at(self, rows: list[int]) -> list:
        _CountedRecords.reads += len(rows)
        return self.inner.chunks_at(rows)

    def __getattr__(self, name: str) -> Any:  # paragraphs(), chunks(), doc_counts(), ...: whole-table work
        _CountedRecords.scans += 1
        return getattr(self.inner, name)


class _CountedRows(np.ndarray):
    """Vectors that count the rows read, and a use of the whole matrix as all of them."""

    def __getitem__(self, item: Any) -> Any:
        found = np.asarray(self)[item]
        _CountedRecords.reads += len(found) if np.ndim(found) == 2 else 1
        return found

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        _CountedRecords.reads += len(self)
        return getattr(ufunc, method)(*(np.asarray(x) for x in inputs), **kwargs)


class _NoEmbedder:
    name, dim, max_tokens = "synthetic", DIM, 256


def _records(paragraphs: int) -> tuple[Manifest, list[Paragraph], list[Chunk], np.ndarray]:
    """One document of short paragraphs, two chunks each (a whole paragraph and a window), random vectors."""
    rng = np.random.default_rng(paragraphs)
    words = [f"term{i}" for i in range(300)]
    records, chunks = [], []
    for number in range(1, paragraphs + 1):
        text = " ".join(rng.choice(words, 4))
        start = 100 * number
        records.append(Paragraph("big.txt", number, text, start, start + len(text)))
        chunks += [Chunk("big.txt", number, start, start + len(text), text),
                   Chunk("big.txt", number, start, start + 10, text[:10])]
    vectors = rng.standard_normal((len(chunks), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    manifest = Manifest("synthetic", DIM, "Flat", "/synthetic", "",
                        {"big.txt": IndexedDocument("big.txt", "Big", None, "0" * 64, paragraphs)})
    return manifest, records, chunks, vectors


def _saved(paragraphs: int, directory: Path) -> SegmentedIndex:
    SegmentedIndex(*_records(paragraphs)).save(directory)
    return SegmentedIndex.load(directory, verify=True)


def _records_read_by_one_search(paragraphs: int, directory: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    index = _saved(paragraphs, directory)
    retriever = Retriever(index, _NoEmbedder(), "hybrid", candidates=20)  # type: ignore[arg-type]
    import bm25s

    segment = index.segments[0]
    query = np.asarray(segment.vectors[7])
    segment.records = _CountedRecords(segment.records)  # type: ignore[assignment]
    segment.vectors = np.asarray(segment.vectors).view(_CountedRows)
    _CountedRecords.reads = _CountedRecords.scans = 0
    with monkeypatch.context() as patch:
        patch.setattr(bm25s.BM25, "index", lambda *a, **k: pytest.fail("BM25 rebuilt for a question"))
        hits = retriever.search_vector(query, 5, "term1 term2 term3")
    assert len(hits) == 5
    return _CountedRecords.reads, _CountedRecords.scans


def test_one_search_reads_records_in_proportion_to_k_not_to_the_index(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    small_reads, small_scans = _records_read_by_one_search(500, tmp_path / "small", monkeypatch)
    large_reads, large_scans = _records_read_by_one_search(5000, tmp_path / "large", monkeypatch)
    assert small_scans == large_scans == 0  # no loop over every chunk, paragraph or key
    # FAISS asks for max(candidates, 4k) = 20 chunks, BM25 for 20 keys, then 5 hits read their chunks.
    assert large_reads <= 100 and large_reads <= small_reads + 10


def test_a_saved_index_brings_its_bm25_and_ranks_as_a_fresh_build(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The segment's saved bm25s model is loaded, never rebuilt, and ranks exactly as one built in memory."""
    import bm25s

    built = SegmentedIndex(*_records(800))
    built.save(tmp_path / "index")
    questions = ["term1 term2", "term250", "term7 term8 term9 term10", "nothing here"]
    expected = [built.keyword_search(question, 20) for question in questions]
    assert expected[0]
    with monkeypatch.context() as patch:
        patch.setattr(bm25s.BM25, "index", lambda *a, **k: pytest.fail("BM25 rebuilt although the index brings it"))
        loaded = SegmentedIndex.load(tmp_path / "index")
        assert [loaded.keyword_search(question, 20) for question in questions] == expected


def test_an_in_memory_index_resolves_auto_to_a_faiss_type() -> None:
    """``index_type="auto"`` (the default) is a rule, not a FAISS factory string: it resolves by size."""
    manifest, paragraphs, chunks, vectors = _records(50)
    manifest.index_type = "auto"
    index = SegmentedIndex(manifest, paragraphs, chunks, vectors)
    assert [s.record.index_type for s in index.segments] == ["Flat"]
    assert [c.key for c, _ in index.search(vectors[0], 1)] == [chunks[0].key]

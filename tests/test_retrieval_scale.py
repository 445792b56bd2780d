"""One question reads the few records it returns, not all N (issue 13, bounded costs): no clock, counts.

FAISS and BM25 score every paragraph in their own compiled code; everything around them (fusion,
hit records, best chunk) must stay proportional to k and the candidate count. bench/search_scale.py
gives the times at 1k/10k/100k paragraphs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.ingest.index import FaissIndex, IndexedDocument, Manifest
from rag.ingest.paragraphs import Chunk, Paragraph
from rag.query.retrieval import KeywordIndex, Retriever

DIM = 16


class _Counted(list):
    """A list that counts the records read from it."""

    reads = 0
    scans = 0

    def __getitem__(self, item: Any) -> Any:
        found = super().__getitem__(item)
        _Counted.reads += len(found) if isinstance(item, slice) else 1
        return found

    def __iter__(self):
        _Counted.scans += 1
        return super().__iter__()


class _CountedRows(np.ndarray):
    """Vectors that count the rows read, and a use of the whole matrix as all of them."""

    def __getitem__(self, item: Any) -> Any:
        found = np.asarray(self)[item]
        _Counted.reads += len(found) if np.ndim(found) == 2 else 1
        return found

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        _Counted.reads += len(self)
        return getattr(ufunc, method)(*(np.asarray(x) for x in inputs), **kwargs)


class _NoEmbedder:
    name, dim, max_tokens = "synthetic", DIM, 256


def _index(paragraphs: int) -> FaissIndex:
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
    return FaissIndex(manifest, records, chunks, vectors)


def _records_read_by_one_search(paragraphs: int, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    index = _index(paragraphs)
    retriever = Retriever(index, _NoEmbedder(), "hybrid", candidates=20)  # type: ignore[arg-type]
    import bm25s

    index.chunks, index.paragraphs = _Counted(index.chunks), _Counted(index.paragraphs)
    assert retriever.keywords is not None
    retriever.keywords.keys = _Counted(retriever.keywords.keys)
    index.vectors = index.vectors.view(_CountedRows)
    _Counted.reads = _Counted.scans = 0
    with monkeypatch.context() as patch:
        patch.setattr(bm25s.BM25, "index", lambda *a, **k: pytest.fail("BM25 rebuilt for a question"))
        hits = retriever.search_vector(np.asarray(index.vectors)[7], 5, "term1 term2 term3")
    assert len(hits) == 5
    return _Counted.reads, _Counted.scans


def test_one_search_reads_records_in_proportion_to_k_not_to_the_index(monkeypatch: pytest.MonkeyPatch) -> None:
    small_reads, small_scans = _records_read_by_one_search(500, monkeypatch)
    large_reads, large_scans = _records_read_by_one_search(5000, monkeypatch)
    assert small_scans == large_scans == 0  # no loop over every chunk, paragraph or key
    # FAISS asks for max(candidates, 4k) = 20 chunks, BM25 for 20 keys, then 5 hits read their chunks.
    assert large_reads <= 100 and large_reads <= small_reads + 10


def test_an_index_that_brings_its_saved_bm25_is_not_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The persisted-BM25 path (index.bm25 = bm25s.BM25.load(...)) ranks exactly as a fresh build."""
    import bm25s

    index = _index(800)
    built = KeywordIndex(index)
    built.save(tmp_path / "bm25")
    index.bm25 = bm25s.BM25.load(str(tmp_path / "bm25"))  # type: ignore[attr-defined]
    with monkeypatch.context() as patch:
        patch.setattr(bm25s.BM25, "index", lambda *a, **k: pytest.fail("BM25 rebuilt although the index brings it"))
        loaded = KeywordIndex(index)
    assert loaded.model is index.bm25  # type: ignore[attr-defined]
    for question in ["term1 term2", "term250", "term7 term8 term9 term10", "nothing here"]:
        assert loaded.search(question, 20) == built.search(question, 20)
    index.paragraphs = index.paragraphs[:-1]  # a model saved for other records is not used
    assert KeywordIndex(index).model is not index.bm25  # type: ignore[attr-defined]

"""Formats 1-2 of the index: one version folder with vectors, FAISS, JSONL records and BM25, opened as one segment.

Such an index still loads (``SegmentedIndex.load``); the next ``rag index`` rewrites it as a segment of the
current format without re-embedding (``rag.store.compaction``). Only the files backend ever wrote these.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from rag.documents.paragraphs import Chunk, Paragraph
from rag.store.base import Segment
from rag.store.factory import faiss_type
from rag.store.faiss_files import BM25_PARAMS, FaissSegment
from rag.store.integrity import Damaged, read_file
from rag.store.manifest import Manifest, check_documents, read_jsonl


def read_legacy_segment(version: Path, manifest: Manifest) -> Segment:
    """A format 1-2 version (vectors, FAISS, JSONL records, BM25 in the version folder) as one segment."""
    import bm25s
    import faiss

    vectors = read_file(version, "vectors.npy", lambda path: np.load(path, allow_pickle=False))
    chunks = read_file(version, "chunks.jsonl", lambda path: [Chunk(**row) for row in read_jsonl(path)])
    paragraphs = read_file(version, "paragraphs.jsonl", lambda path: [Paragraph(**row) for row in read_jsonl(path)])
    faiss_index = read_file(version, "index.faiss", lambda path: faiss.read_index(str(path))) if len(vectors) else None
    check_legacy(manifest, vectors, chunks, paragraphs, faiss_index)
    bm25 = (read_file(version, BM25_PARAMS, lambda _: bm25s.BM25.load(str(version)))
            if (version / BM25_PARAMS).is_file() else None)
    segment = FaissSegment.in_memory(paragraphs, chunks, vectors, faiss_type(manifest.index_type), manifest.titles(), version.name)
    if faiss_index is not None:
        segment.faiss = faiss_index
    if bm25 is not None and bm25.scores.get("num_docs") == len(paragraphs):
        segment._bm25 = bm25
    return segment


def check_legacy(manifest: Manifest, vectors: np.ndarray, chunks: list[Chunk], paragraphs: list[Paragraph],
                 faiss_index) -> None:
    """Records of a format 1-2 version that load but do not fit together name the file that is wrong."""
    if vectors.ndim != 2 or (len(vectors) and vectors.shape[1] != manifest.dim):
        raise Damaged("vectors.npy", f"has shape {vectors.shape}, the manifest says dim {manifest.dim}")
    if len(chunks) != len(vectors):
        raise Damaged("chunks.jsonl", f"holds {len(chunks)} chunks for {len(vectors)} vectors")
    if faiss_index is not None and (faiss_index.ntotal != len(vectors) or faiss_index.d != manifest.dim):
        raise Damaged("index.faiss", f"holds {faiss_index.ntotal}x{faiss_index.d}, "
                                     f"the records say {len(vectors)}x{manifest.dim}")
    check_documents(manifest, Counter(p.doc_id for p in paragraphs), "paragraphs.jsonl", list(manifest.documents))
    keys = {p.key for p in paragraphs}
    orphan = next((c for c in chunks if c.key not in keys), None)
    if orphan is not None:
        raise Damaged("chunks.jsonl", f"points at {orphan.doc_id!r} ¶{orphan.paragraph}, "
                                      "which paragraphs.jsonl does not hold")

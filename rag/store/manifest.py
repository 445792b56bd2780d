"""One version of the index on disk: its manifest, read so that any failure names the file.

A version (format 3) is a folder holding only ``manifest.json``: the live segments with their
files' sizes and sha256, their deleted documents, and every document with the segment that holds
it. ``rag.store.index`` writes and opens versions. A version of format 1-2 held its records
itself (JSONL beside the vectors); ``read_legacy_segment`` still opens one as a single segment.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from rag.documents.paragraphs import Chunk, Paragraph
from rag.errors import one_line
from rag.store.base import Segment, SegmentRecord
from rag.store.faiss_files import BM25_PARAMS, FaissSegment
from rag.store.integrity import Damaged, read_file

# 2: paragraph records carry ``page`` and documents their ``reader``. 3: segments, records in SQLite,
# tombstones. An older program refuses a newer index by its format number instead of calling it damaged.
# Versions 1-2 still load (as one segment; missing fields read as None / ""), and `rag index` rewrites them.
FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)


@dataclass(frozen=True)
class IndexedDocument:
    doc_id: str
    title: str
    date: str | None
    sha256: str
    paragraphs: int
    reader: str = ""  # the reader version that made its paragraphs (rag.documents.readers.reader_version)
    segment: str = ""  # the segment that holds its records (empty in formats 1-2: the version itself)
    bytes: int = 0  # size and modification time when read: a file whose stat still matches is not hashed again
    mtime_ns: int = 0  # (0: unknown, or modified too close to its reading to be trusted; see indexer._unchanged)


@dataclass
class Manifest:
    embedder: str
    dim: int
    index_type: str
    corpus_root: str
    chunking: str = ""  # chunking parameters: a change means re-embedding everything
    documents: dict[str, IndexedDocument] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    files: dict[str, dict[str, int | str]] = field(default_factory=dict)  # formats 1-2: the version's own files
    segments: list[SegmentRecord] = field(default_factory=list)  # format 3: the live segments, oldest first

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        data["documents"] = {k: IndexedDocument(**v) for k, v in data["documents"].items()}
        data["segments"] = [SegmentRecord(**v) for v in data.get("segments", [])]
        return cls(**data)

    def lives_in(self, doc_id: str, segment: SegmentRecord) -> bool:
        """Whether ``segment``'s rows of ``doc_id`` are live: a listed document, held there, not deleted there."""
        document = self.documents.get(doc_id)
        return (document is not None and doc_id not in segment.deleted
                and document.segment in ("", segment.name))

    def titles(self) -> dict[str, str]:
        return {doc_id: document.title for doc_id, document in self.documents.items()}


def package_versions() -> dict[str, str]:
    versions = {}
    for name in ("rag-reports", "faiss-cpu", "sentence-transformers", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_manifest(version: Path, sha256: str | None) -> Manifest:
    raw = read_file(version, "manifest.json", Path.read_bytes)
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise Damaged("manifest.json", "does not match its checksum in CURRENT")
    try:
        return Manifest.from_json(raw.decode("utf-8"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Damaged("manifest.json", f"cannot be read ({one_line(exc)})") from None


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
    segment = FaissSegment.in_memory(paragraphs, chunks, vectors, manifest.index_type, manifest.titles(), version.name)
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


def check_documents(manifest: Manifest, counts: Counter[str], where: str, listed: list[str]) -> None:
    """The paragraph counts a segment holds per document agree with the manifest's documents ``listed`` there."""
    unlisted = sorted(set(counts) - set(manifest.documents))
    if unlisted:
        raise Damaged("manifest.json", f"does not list {unlisted[0]!r}, which {where} holds")
    for doc_id in listed:
        if counts[doc_id] != manifest.documents[doc_id].paragraphs:
            raise Damaged(where, f"holds {counts[doc_id]} paragraphs of {doc_id!r}, "
                                 f"the manifest says {manifest.documents[doc_id].paragraphs}")

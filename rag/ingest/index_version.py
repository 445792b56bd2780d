"""One version of the index on disk: its manifest and records, read so that any failure names the file.

``rag.ingest.index`` writes and opens versions; this module holds what a version is made of
(``Manifest``, ``IndexedDocument``), how its record files are read, and the checks that
records which load but do not fit together (rows, keys, counts) are caught and named.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from rag.errors import one_line
from rag.ingest.integrity import Damaged
from rag.ingest.paragraphs import Chunk, Paragraph

# 2: paragraph records carry ``page`` and documents their ``reader``; an older program refuses such an index
# by its format number instead of calling it damaged. Version 1 still loads: missing fields read as None / "".
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
BM25_PARAMS = "params.index.json"  # one of the files bm25s writes; the others sit beside it


@dataclass(frozen=True)
class IndexedDocument:
    doc_id: str
    title: str
    date: str | None
    sha256: str
    paragraphs: int
    reader: str = ""  # the reader version that made its paragraphs (rag.ingest.documents.reader_version)


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
    files: dict[str, dict[str, int | str]] = field(default_factory=dict)  # name -> bytes, sha256 (rag.ingest.integrity)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        data["documents"] = {k: IndexedDocument(**v) for k, v in data["documents"].items()}
        return cls(**data)


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


def read_file(version: Path, name: str, reader):
    """Read one file of a version; any failure names that file."""
    try:
        return reader(version / name)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError, AttributeError) as exc:
        raise Damaged(name, f"cannot be read ({one_line(exc)})") from None


def read_manifest(version: Path, sha256: str | None) -> Manifest:
    raw = read_file(version, "manifest.json", Path.read_bytes)
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise Damaged("manifest.json", "does not match its checksum in CURRENT")
    try:
        return Manifest.from_json(raw.decode("utf-8"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Damaged("manifest.json", f"cannot be read ({one_line(exc)})") from None


def read_bm25(version: Path):
    import bm25s

    return bm25s.BM25.load(str(version))  # read whole (no mmap): a writer may delete the version later


def read_faiss(path: Path):
    import faiss

    return faiss.read_index(str(path))


def check_consistency(manifest: Manifest, vectors: np.ndarray, chunks: list[Chunk], paragraphs: list[Paragraph],
                       faiss_index) -> None:
    """Records that load but do not fit together (rows, keys, counts) name the file that is wrong."""
    if vectors.ndim != 2 or (len(vectors) and vectors.shape[1] != manifest.dim):
        raise Damaged("vectors.npy", f"has shape {vectors.shape}, the manifest says dim {manifest.dim}")
    if len(chunks) != len(vectors):
        raise Damaged("chunks.jsonl", f"holds {len(chunks)} chunks for {len(vectors)} vectors")
    if faiss_index is not None and (faiss_index.ntotal != len(vectors) or faiss_index.d != manifest.dim):
        raise Damaged("index.faiss", f"holds {faiss_index.ntotal}x{faiss_index.d}, "
                                     f"the records say {len(vectors)}x{manifest.dim}")
    counts = Counter(p.doc_id for p in paragraphs)
    unlisted = sorted(set(counts) - set(manifest.documents))
    if unlisted:
        raise Damaged("manifest.json", f"does not list {unlisted[0]!r}, which paragraphs.jsonl holds")
    for doc_id, document in manifest.documents.items():
        if counts[doc_id] != document.paragraphs:
            raise Damaged("paragraphs.jsonl", f"holds {counts[doc_id]} paragraphs of {doc_id!r}, "
                                              f"the manifest says {document.paragraphs}")
    keys = {p.key for p in paragraphs}
    orphan = next((c for c in chunks if c.key not in keys), None)
    if orphan is not None:
        raise Damaged("chunks.jsonl", f"points at {orphan.doc_id!r} ¶{orphan.paragraph}, "
                                      "which paragraphs.jsonl does not hold")

"""One version of the index on disk: its manifest, read so that any failure names the file.

A version (format 3) is a folder holding only ``manifest.json``: the live segments with their
files' sizes and sha256, their deleted documents, and every document with the segment that holds
it. ``rag.store.index`` writes and opens versions. A version of format 1-2 held its records
itself (JSONL beside the vectors); ``rag.store.legacy`` still opens one as a single segment.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from rag.errors import one_line
from rag.store.base import SegmentRecord
from rag.store.integrity import Damaged, read_file

# 2: paragraph records carry ``page`` and documents their ``reader``. 3: segments, records in SQLite,
# tombstones. 4: documents carry their ``pages``, the manifest the reports ``excluded`` from the index.
# An older program refuses a newer index by its format number instead of calling it damaged.
# Versions 1-3 still load (1-2 as one segment; missing fields read as None / "" / 0), and `rag index` rewrites them.
FORMAT_VERSION = 4
READABLE_FORMATS = (1, 2, 3, 4)


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
    mtime_ns: int = 0  # (0: unknown, or modified too close to its reading to be trusted; see rag.indexing._unchanged)
    pages: int = 0  # pages of a paged document (PDF); 0: not paged, or indexed before pages were counted


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
    # reports left out of the index although their files are in the corpus folder (rag.index_changes): kept
    # with the version, so a later update does not bring them back
    excluded: list[str] = field(default_factory=list)

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


def check_documents(manifest: Manifest, counts: Counter[str], where: str, listed: list[str]) -> None:
    """The paragraph counts a segment holds per document agree with the manifest's documents ``listed`` there."""
    unlisted = sorted(set(counts) - set(manifest.documents))
    if unlisted:
        raise Damaged("manifest.json", f"does not list {unlisted[0]!r}, which {where} holds")
    for doc_id in listed:
        if counts[doc_id] != manifest.documents[doc_id].paragraphs:
            raise Damaged(where, f"holds {counts[doc_id]} paragraphs of {doc_id!r}, "
                                 f"the manifest says {manifest.documents[doc_id].paragraphs}")

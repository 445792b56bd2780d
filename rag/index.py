"""Stage 3: vectors + paragraph records on disk, searched with FAISS.

Layout of an index directory::

    CURRENT                 name of the live version and its manifest's sha256 (replaced atomically)
    v-<time>-<id>/          one complete version
        manifest.json       embedder name/dim, index type, per-report and per-file sha256, versions
        index.faiss         the FAISS index (any faiss.index_factory string)
        vectors.npy         the raw vectors, so unchanged files are never re-embedded
        chunks.jsonl        row i of the index <-> chunk i (doc_id, paragraph, span)
        paragraphs.jsonl    the whole paragraphs that citations show

A save writes a new version in a temporary directory, renames it into place and
only then swaps ``CURRENT``; a crash at any point leaves the previous version live.
Damaged files are found and named by ``rag.integrity``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from rag.errors import IndexCorrupt, IndexMismatch, RagError, one_line
from rag.integrity import (
    CURRENT,
    LOCK,
    Damaged,
    Pointer,
    file_records,
    index_error,
    read_pointer,
    verify_files,
    write_pointer,
)
from rag.paragraphs import Chunk, Paragraph

FORMAT_VERSION = 1
__all__ = ["CURRENT", "FaissIndex", "IndexedDocument", "Manifest", "index_lock"]


@contextlib.contextmanager
def index_lock(directory: Path) -> Iterator[None]:
    """One writer at a time per index directory (readers never wait: versions are immutable)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / LOCK).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class IndexedDocument:
    doc_id: str
    title: str
    date: str | None
    sha256: str
    paragraphs: int


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
    files: dict[str, dict[str, int | str]] = field(default_factory=dict)  # name -> bytes, sha256 (rag.integrity)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        data["documents"] = {k: IndexedDocument(**v) for k, v in data["documents"].items()}
        return cls(**data)


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in ("rag-reports", "faiss-cpu", "sentence-transformers", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _faiss_index(index_type: str, vectors: np.ndarray):
    """Build any faiss.index_factory index over normalised vectors (inner product = cosine)."""
    import faiss

    dim = vectors.shape[1]
    try:
        index = faiss.index_factory(dim, index_type, faiss.METRIC_INNER_PRODUCT)
        if not index.is_trained:
            index.train(vectors)
    except RuntimeError as exc:
        raise RagError(f"cannot build FAISS index type {index_type!r} over {len(vectors)} vectors: "
                       f"{one_line(exc, last=True)}") from None
    index.add(vectors)
    return index


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class FaissIndex:
    """Paragraphs, their chunk vectors and a FAISS index over them; saved and loaded as one unit."""

    def __init__(self, manifest: Manifest, paragraphs: list[Paragraph], chunks: list[Chunk],
                 vectors: np.ndarray, faiss_index=None) -> None:
        if len(chunks) != len(vectors):
            raise IndexCorrupt(f"{len(chunks)} chunk records but {len(vectors)} vectors")
        self.manifest = manifest
        self.paragraphs = paragraphs
        self.chunks = chunks
        self.vectors = vectors
        self._by_key = {p.key: p for p in paragraphs}
        self.faiss = faiss_index if faiss_index is not None else (
            _faiss_index(manifest.index_type, vectors) if len(vectors) else None)

    # --- queries --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.chunks)

    def paragraph(self, doc_id: str, number: int) -> Paragraph:
        return self._by_key[(doc_id, number)]

    def document(self, doc_id: str) -> IndexedDocument:
        return self.manifest.documents[doc_id]

    def search(self, query: np.ndarray, limit: int) -> list[tuple[Chunk, float]]:
        """Nearest chunks to one normalised query vector, best first."""
        if self.faiss is None or limit <= 0:
            return []
        scores, rows = self.faiss.search(np.asarray(query, dtype=np.float32).reshape(1, -1), min(limit, len(self)))
        return [(self.chunks[r], float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def check_embedder(self, name: str, dim: int) -> None:
        if (self.manifest.embedder, self.manifest.dim) != (name, dim):
            raise IndexMismatch(
                f"the index was built with embedder {self.manifest.embedder!r} (dim {self.manifest.dim}) "
                f"but {name!r} (dim {dim}) is configured; re-index with `rag index`"
            )

    # --- persistence ----------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        """Write a new version atomically and make it current; returns the version directory."""
        directory.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:8]
        tmp = directory / f".tmp-{token}"
        tmp.mkdir()
        try:
            np.save(tmp / "vectors.npy", self.vectors)
            _write_jsonl(tmp / "chunks.jsonl", [asdict(c) for c in self.chunks])
            _write_jsonl(tmp / "paragraphs.jsonl", [asdict(p) for p in self.paragraphs])
            if self.faiss is not None:
                import faiss

                faiss.write_index(self.faiss, str(tmp / "index.faiss"))
            self.manifest.versions = _package_versions()
            self.manifest.created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            self.manifest.files = file_records(tmp)
            (tmp / "manifest.json").write_text(self.manifest.to_json(), encoding="utf-8")
            for path in tmp.iterdir():
                with path.open("rb") as handle:
                    os.fsync(handle.fileno())
            version = directory / f"v-{time.strftime('%Y%m%dT%H%M%S')}-{token}"
            tmp.rename(version)
            if (directory / CURRENT).is_dir():  # only reached with --force: a folder where the pointer belongs
                shutil.rmtree(directory / CURRENT)
            os.replace(write_pointer(directory, version, token), directory / CURRENT)  # the atomic switch
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._remove_stale(directory)
        return version

    @staticmethod
    def _remove_stale(directory: Path) -> None:
        """Delete versions other than the live one, and leftovers of crashed builds.

        A reader that opened an older version just before the switch retries (see ``load``).
        """
        keep = read_pointer(directory).version
        for path in directory.iterdir():
            if path.name != keep and (path.name.startswith("v-") or path.name.startswith(".tmp-")):
                shutil.rmtree(path, ignore_errors=True)

    @staticmethod
    def exists(directory: Path) -> bool:
        return (directory / CURRENT).is_file()

    @classmethod
    def load(cls, directory: Path, verify: bool = False) -> FaissIndex:
        """Open the current version; raises IndexNotFound or IndexCorrupt with a one-line reason and fix.

        Sizes are always checked; ``verify`` also checks every file's sha256 (``rag index``, ``--check``).
        """
        for _attempt in range(3):
            pointer = read_pointer(directory)
            try:
                return cls._load_version(directory, pointer, verify)
            except IndexCorrupt:
                with contextlib.suppress(RagError):
                    if read_pointer(directory) != pointer:
                        continue  # a writer switched versions while we read: read the new one
                raise
        raise IndexCorrupt(f"index at {directory} keeps changing while it is read; try again")

    @classmethod
    def _load_version(cls, directory: Path, pointer: Pointer, verify: bool) -> FaissIndex:
        version = directory / pointer.version
        corpus_root: str | None = None
        try:
            manifest = _read_manifest(version, pointer.manifest_sha256)
            corpus_root = manifest.corpus_root
            if manifest.format_version != FORMAT_VERSION:
                raise IndexMismatch(
                    f"index format {manifest.format_version} at {directory} is not supported "
                    f"(expected {FORMAT_VERSION}); re-index with `rag index`")
            verify_files(version, manifest.files, checksums=verify)
            vectors = _read(version, "vectors.npy", lambda path: np.load(path, allow_pickle=False))
            chunks = _read(version, "chunks.jsonl", lambda path: [Chunk(**row) for row in _read_jsonl(path)])
            paragraphs = _read(version, "paragraphs.jsonl",
                               lambda path: [Paragraph(**row) for row in _read_jsonl(path)])
            faiss_index = _read(version, "index.faiss", _read_faiss) if len(vectors) else None
            _check_consistency(manifest, vectors, chunks, paragraphs, faiss_index)
            return cls(manifest, paragraphs, chunks, vectors, faiss_index)
        except Damaged as damage:
            raise index_error(directory, damage, corpus_root) from None


def _read(version: Path, name: str, reader):
    """Read one file of a version; any failure names that file."""
    try:
        return reader(version / name)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError, AttributeError) as exc:
        raise Damaged(name, f"cannot be read ({one_line(exc)})") from None


def _read_manifest(version: Path, sha256: str | None) -> Manifest:
    raw = _read(version, "manifest.json", Path.read_bytes)
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise Damaged("manifest.json", "does not match its checksum in CURRENT")
    try:
        return Manifest.from_json(raw.decode("utf-8"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Damaged("manifest.json", f"cannot be read ({one_line(exc)})") from None


def _read_faiss(path: Path):
    import faiss

    return faiss.read_index(str(path))


def _check_consistency(manifest: Manifest, vectors: np.ndarray, chunks: list[Chunk], paragraphs: list[Paragraph],
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

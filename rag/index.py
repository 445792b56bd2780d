"""Stage 3: vectors + paragraph records on disk, searched with FAISS.

Layout of an index directory::

    CURRENT                 name of the live version (replaced atomically)
    v-<time>-<id>/          one complete version
        manifest.json       embedder name/dim, index type, per-file sha256, versions
        index.faiss         the FAISS index (any faiss.index_factory string)
        vectors.npy         the raw vectors, so unchanged files are never re-embedded
        chunks.jsonl        row i of the index <-> chunk i (doc_id, paragraph, span)
        paragraphs.jsonl    the whole paragraphs that citations show

A save writes a new version in a temporary directory, renames it into place and
only then swaps ``CURRENT``; a crash at any point leaves the previous version live.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound, RagError, one_line
from rag.paragraphs import Chunk, Paragraph

FORMAT_VERSION = 1
CURRENT = "CURRENT"
LOCK = ".lock"


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
            self.manifest.versions = _package_versions()
            self.manifest.created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            (tmp / "manifest.json").write_text(self.manifest.to_json(), encoding="utf-8")
            np.save(tmp / "vectors.npy", self.vectors)
            _write_jsonl(tmp / "chunks.jsonl", [asdict(c) for c in self.chunks])
            _write_jsonl(tmp / "paragraphs.jsonl", [asdict(p) for p in self.paragraphs])
            if self.faiss is not None:
                import faiss

                faiss.write_index(self.faiss, str(tmp / "index.faiss"))
            for path in tmp.iterdir():
                with path.open("rb") as handle:
                    os.fsync(handle.fileno())
            version = directory / f"v-{time.strftime('%Y%m%dT%H%M%S')}-{token}"
            tmp.rename(version)
            pointer = directory / f".{CURRENT}.{token}"
            pointer.write_text(version.name + "\n", encoding="utf-8")
            os.replace(pointer, directory / CURRENT)  # the atomic switch
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
        keep = (directory / CURRENT).read_text(encoding="utf-8").strip()
        for path in directory.iterdir():
            if path.name != keep and (path.name.startswith("v-") or path.name.startswith(".tmp-")):
                shutil.rmtree(path, ignore_errors=True)

    @staticmethod
    def exists(directory: Path) -> bool:
        return (directory / CURRENT).is_file()

    @classmethod
    def load(cls, directory: Path) -> FaissIndex:
        """Open the current version; raises IndexNotFound or IndexCorrupt with a one-line reason."""
        pointer = directory / CURRENT
        for _attempt in range(3):
            if not pointer.is_file():
                raise IndexNotFound(f"no index at {directory}; build one with `rag index [PATH]`")
            name = pointer.read_text(encoding="utf-8").strip()
            try:
                return cls._load_version(directory, directory / name)
            except IndexCorrupt:
                if pointer.read_text(encoding="utf-8").strip() == name:
                    raise
                # A writer switched versions while we read: read the new one.
        raise IndexCorrupt(f"index at {directory} keeps changing while it is read; try again")

    @classmethod
    def _load_version(cls, directory: Path, version: Path) -> FaissIndex:
        try:
            manifest = Manifest.from_json((version / "manifest.json").read_text(encoding="utf-8"))
            if manifest.format_version != FORMAT_VERSION:
                raise IndexMismatch(
                    f"index format {manifest.format_version} at {directory} is not supported "
                    f"(expected {FORMAT_VERSION}); re-index with `rag index`")
            vectors = np.load(version / "vectors.npy", allow_pickle=False)
            chunks = [Chunk(**row) for row in _read_jsonl(version / "chunks.jsonl")]
            paragraphs = [Paragraph(**row) for row in _read_jsonl(version / "paragraphs.jsonl")]
            faiss_index = None
            if len(vectors):
                import faiss

                faiss_index = faiss.read_index(str(version / "index.faiss"))
                if faiss_index.ntotal != len(vectors) or faiss_index.d != manifest.dim:
                    raise IndexCorrupt(f"FAISS holds {faiss_index.ntotal}x{faiss_index.d}, "
                                       f"records say {len(vectors)}x{manifest.dim}")
            if vectors.ndim != 2 or (len(vectors) and vectors.shape[1] != manifest.dim):
                raise IndexCorrupt(f"vectors have shape {vectors.shape}, manifest says dim {manifest.dim}")
            return cls(manifest, paragraphs, chunks, vectors, faiss_index)
        except IndexMismatch:
            raise
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, IndexCorrupt) as exc:
            raise IndexCorrupt(f"index at {directory} is corrupt ({one_line(exc)}); rebuild it with `rag index`") from None

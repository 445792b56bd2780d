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
Damaged files are found and named by ``rag.ingest.integrity``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from rag.errors import IndexCorrupt, IndexMismatch, RagError, one_line
from rag.ingest.index_version import (
    BM25_PARAMS,
    READABLE_FORMATS,
    IndexedDocument,
    Manifest,
    check_consistency,
    package_versions,
    read_bm25,
    read_faiss,
    read_file,
    read_jsonl,
    read_manifest,
    write_jsonl,
)
from rag.ingest.integrity import (
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
from rag.ingest.paragraphs import Chunk, Paragraph
from rag.types import ParagraphKey

__all__ = ["CURRENT", "FaissIndex", "IndexedDocument", "Manifest", "index_lock"]


@contextlib.contextmanager
def index_lock(directory: Path) -> Iterator[None]:
    """One writer at a time per index directory: a second one waits, without a time limit, until the first is done.

    Readers never wait (versions are immutable). filelock takes ``flock`` on Unix, as the hand-written
    lock did, and ``LockFileEx`` on Windows, where ``fcntl`` does not exist.
    """
    from filelock import FileLock  # only writers lock; readers need not import it

    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(directory / LOCK):
        yield


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
        self.bm25 = None  # the saved keyword model, when this version has one (rag.ingest.keyword_index)
        self.faiss = faiss_index if faiss_index is not None else (
            _faiss_index(manifest.index_type, vectors) if len(vectors) else None)

    # --- queries --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.chunks)

    def paragraph(self, doc_id: str, number: int) -> Paragraph:
        return self._by_key[ParagraphKey(doc_id, number)]

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
    def save(self, directory: Path, extras: Callable[[Path], None] | None = None) -> Path:
        """Write a new version atomically and make it current; returns the version directory.

        ``extras`` writes more files into the version before its checksums are taken (the BM25 model).
        """
        directory.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:8]
        tmp = directory / f".tmp-{token}"
        tmp.mkdir()
        try:
            np.save(tmp / "vectors.npy", self.vectors)
            write_jsonl(tmp / "chunks.jsonl", [asdict(c) for c in self.chunks])
            write_jsonl(tmp / "paragraphs.jsonl", [asdict(p) for p in self.paragraphs])
            if self.faiss is not None:
                import faiss

                faiss.write_index(self.faiss, str(tmp / "index.faiss"))
            if extras is not None:
                extras(tmp)
            self.manifest.versions = package_versions()
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
            manifest = read_manifest(version, pointer.manifest_sha256)
            corpus_root = manifest.corpus_root
            if manifest.format_version not in READABLE_FORMATS:
                raise IndexMismatch(
                    f"index format {manifest.format_version} at {directory} is not supported "
                    f"(this program reads formats {', '.join(map(str, READABLE_FORMATS))}); re-index with `rag index`")
            verify_files(version, manifest.files, checksums=verify)
            vectors = read_file(version, "vectors.npy", lambda path: np.load(path, allow_pickle=False))
            chunks = read_file(version, "chunks.jsonl", lambda path: [Chunk(**row) for row in read_jsonl(path)])
            paragraphs = read_file(version, "paragraphs.jsonl",
                               lambda path: [Paragraph(**row) for row in read_jsonl(path)])
            faiss_index = read_file(version, "index.faiss", read_faiss) if len(vectors) else None
            check_consistency(manifest, vectors, chunks, paragraphs, faiss_index)
            index = cls(manifest, paragraphs, chunks, vectors, faiss_index)
            if (version / BM25_PARAMS).is_file():
                index.bm25 = read_file(version, BM25_PARAMS, lambda _: read_bm25(version))
            return index
        except Damaged as damage:
            raise index_error(directory, damage, corpus_root) from None

"""Checksums for index versions, and what to do when a file of one is damaged.

A chain of trust: ``CURRENT`` names the live version and the sha256 of its
``manifest.json``; the manifest records the size and sha256 of every other file.
Loading checks the manifest's checksum and every file's size (cheap, so an empty or
truncated file is caught before numpy or FAISS read it); ``rag index --check`` and
``rag index`` also check every file's sha256, so a flipped bit is caught before its
vectors are reused. Every problem is one line that names the file and the command
that repairs it, and ``rag index`` repairs by re-embedding only what cannot be verified
(see ``salvage_vectors``).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from rag.documents.readers import file_sha256
from rag.errors import IndexCorrupt, IndexNotFound, literal, one_line

CURRENT = "CURRENT"
LOCK = ".lock"
T = TypeVar("T")
VERSION_NAME = re.compile(r"v-[0-9T]+-[0-9a-f]{8}")
# The names this index writes in its folder, and the files it writes inside its own folders. Cleanup deletes
# only what matches both (``is_own``): a user's ``s-budget.xlsx``, ``v-2024-plan.txt`` or ``s-archive/`` is kept.
_OWN_FOLDER = re.compile(r"[vs]-[0-9]{8}T[0-9]{6}-[0-9a-f]{8}|\.tmp-[0-9a-f]{8}")
_STAGED_POINTER = re.compile(rf"\.{CURRENT}\.[0-9a-f]{{8}}")
_OWN_FILE = re.compile(r"manifest\.json|vectors\.npy|index\.faiss|records\.sqlite(-journal|-wal|-shm)?"
                       r"|chunks\.jsonl|paragraphs\.jsonl|[a-z_]+(\.[a-z]+)?\.index\.(json|npy)")
_POINTER_TEXT = re.compile(r"v-[0-9T]+-[0-9a-f]{8}( [0-9a-f]{64})?\n?")


def file_records(version: Path) -> dict[str, dict[str, int | str]]:
    """Size and sha256 of every file of a version (the manifest stores them)."""
    return {path.name: {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
            for path in sorted(version.iterdir()) if path.is_file() and path.name != "manifest.json"}


class Damaged(Exception):
    """One file of a version is damaged; ``index_error`` turns it into the user's one line."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name} {problem}")
        self.name, self.problem = name, problem


def repair_command(directory: Path, corpus_root: str | None, force: bool = False) -> str:
    return f"`rag index {corpus_root or 'FOLDER'} --index-dir {directory}{' --force' if force else ''}`"


def index_error(directory: Path, damage: Damaged, corpus_root: str | None, force: bool = False) -> IndexCorrupt:
    return IndexCorrupt(f"index at {directory} is damaged: {damage}; {repair_command(directory, corpus_root, force)} "
                        "repairs it")


def verify_files(folder: Path, records: dict[str, dict[str, int | str]], checksums: bool, label: str = "") -> None:
    """Raise ``Damaged`` for the first file whose size (and, with ``checksums``, sha256) is not the recorded one."""
    for name, record in records.items():
        path = folder / name
        if not path.is_file():
            raise Damaged(f"{label}{name}", "is missing")
        size = path.stat().st_size
        if size != record["bytes"]:
            raise Damaged(f"{label}{name}", f"is {size:,} bytes, the manifest says {int(record['bytes']):,}")
        if checksums and file_sha256(path) != record["sha256"]:
            raise Damaged(f"{label}{name}", "does not match its checksum")


def read_file(folder: Path, name: str, reader: Callable[[Path], T], label: str = "") -> T:
    """Read one file of a version or segment; any failure names that file (``label`` is its folder's name)."""
    try:
        return reader(folder / name)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError, AttributeError,
            sqlite3.DatabaseError) as exc:
        raise Damaged(f"{label}{name}", f"cannot be read ({one_line(exc)})") from None


LITE = "milvus.db"  # Milvus Lite's folder (rag.store.milvus_client): rows, but never an index without CURRENT


def is_own(path: Path) -> bool:
    """Whether the index wrote ``path``, so that cleanup may delete it: its name is one the index gives, and
    a folder holds nothing but files the index writes (a staged pointer holds a pointer). Links never are."""
    try:
        if path.is_symlink():
            return False
        if _STAGED_POINTER.fullmatch(path.name):
            return (path.is_file() and path.stat().st_size < 200
                    and _POINTER_TEXT.fullmatch(path.read_text(encoding="utf-8")) is not None)
        if not (_OWN_FOLDER.fullmatch(path.name) and path.is_dir()):
            return False
        return all(_OWN_FILE.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink()
                   for entry in path.iterdir())
    except (OSError, UnicodeDecodeError):
        return False


def _leftover(path: Path) -> bool:
    """What a writer killed before its first switch leaves: no version, so no index yet (the next writer drops it)."""
    return path.name in (LOCK, LITE) or (not path.name.startswith("v-") and is_own(path))


def check_folder(directory: Path) -> None:
    """An index folder that is a file is one line, before anything opens or creates a file under it."""
    if directory.exists() and not directory.is_dir():
        raise IndexNotFound(f"{directory} is a file, not an index folder; pass a folder to --index-dir")


def is_empty(directory: Path) -> bool:
    """No index and nothing of the user's: at most the writers' lock, Milvus Lite rows no version names and
    segments or temporary folders of a first ``rag index`` killed before its switch (the next one drops them)."""
    check_folder(directory)
    return not directory.exists() or all(_leftover(p) for p in directory.iterdir())


@dataclass(frozen=True)
class Pointer:
    """What ``CURRENT`` says: the live version and its manifest's sha256 (None in indexes from before checksums)."""

    version: str
    manifest_sha256: str | None


def read_pointer(directory: Path) -> Pointer:
    """The live version, or a one-line IndexNotFound / IndexCorrupt that says what to run."""
    pointer = directory / CURRENT
    if not pointer.exists():
        if is_empty(directory):
            raise IndexNotFound(f"no index at {directory}; build one with {repair_command(directory, None)}")
        raise IndexCorrupt(f"{directory} holds files but no index (its CURRENT file is missing); "
                           f"{repair_command(directory, None, force=True)} builds one there")
    try:
        words = ["a folder"] if pointer.is_dir() else pointer.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError) as exc:
        words = [f"unreadable: {one_line(exc)}"]
    name = words[0] if words else ""
    if not (1 <= len(words) <= 2 and VERSION_NAME.fullmatch(name) and (directory / name / "manifest.json").is_file()):
        raise IndexCorrupt(f"index at {directory} is damaged: CURRENT does not name a version of it "
                           f"({literal(name[:40]) or 'empty'}); {repair_command(directory, None, force=True)} rebuilds it")
    return Pointer(name, words[1] if len(words) == 2 else None)


def write_pointer(directory: Path, version: Path, token: str) -> Path:
    """The new ``CURRENT`` content, written beside it; the caller swaps it in with ``os.replace``."""
    staged = directory / f".{CURRENT}.{token}"
    staged.write_text(f"{version.name} {file_sha256(version / 'manifest.json')}\n", encoding="utf-8")
    return staged


def newest_version(directory: Path) -> Path | None:
    """The most recent complete version folder, for repairs when ``CURRENT`` is lost."""
    versions = sorted(p for p in directory.glob("v-*") if VERSION_NAME.fullmatch(p.name)
                      and (p / "manifest.json").is_file()) if directory.is_dir() else []
    return versions[-1] if versions else None


def salvage_vectors(version: Path, embedder: str, dim: int) -> dict[str, np.ndarray]:
    """Embedded text -> vector, from a damaged index's segments whose vectors and records verify by checksum.

    A repair re-embeds only the texts missing here, so a damaged FAISS file or BM25 model costs no
    embedding at all. Formats 1-2 keep vectors and chunk records in the version folder itself.
    Returns {} when nothing can be trusted.
    """
    try:
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
        if (manifest["embedder"], manifest["dim"]) != (embedder, dim):
            return {}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if "segments" not in manifest or not manifest["segments"]:
        return _salvage_folder(version, manifest.get("files") or {}, "chunks.jsonl", dim)
    found: dict[str, np.ndarray] = {}
    for segment in manifest["segments"]:
        found.update(_salvage_folder(version.parent / segment["name"], segment.get("files") or {},
                                     "records.sqlite", dim))
    return found


def _salvage_folder(folder: Path, records: dict, texts_file: str, dim: int) -> dict[str, np.ndarray]:
    try:
        verify_files(folder, {name: records[name] for name in ("vectors.npy", texts_file)}, checksums=True)
        vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        if texts_file == "records.sqlite":
            connection = sqlite3.connect(f"{(folder / texts_file).resolve().as_uri()}?mode=ro&immutable=1", uri=True)
            try:
                texts = [row[0] for row in connection.execute("SELECT embed_text FROM chunks ORDER BY row")]
            finally:
                connection.close()
        else:
            with (folder / texts_file).open(encoding="utf-8") as handle:
                texts = [json.loads(line)["embed_text"] for line in handle if line.strip()]
    except (Damaged, OSError, ValueError, KeyError, TypeError, EOFError, sqlite3.DatabaseError):
        return {}
    if vectors.ndim != 2 or vectors.shape != (len(texts), dim):
        return {}
    return dict(zip(texts, vectors))

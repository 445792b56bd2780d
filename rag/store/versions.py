"""Writing an index version: the writer's lock, the atomic switch of ``CURRENT``, and clearing what no version names.

Every change to an index (``rag.indexing``, ``SegmentedIndex.save``) writes its segments first, then a new
manifest, then switches ``CURRENT`` to it. A crash at any point leaves the previous version live; the next
writer removes what the live version does not name, and only what the index itself wrote.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from rag.errors import IndexCorrupt, IndexNotFound, RagError
from rag.store.base import SegmentRecord
from rag.store.factory import store_named
from rag.store.integrity import CURRENT, LOCK, Damaged, check_folder, is_own, read_pointer, write_pointer
from rag.store.manifest import Manifest, package_versions, read_manifest


@contextlib.contextmanager
def index_lock(directory: Path) -> Iterator[None]:
    """One writer at a time per index directory: a second one waits, without a time limit, until the first is done.

    Readers never wait (versions and segments are immutable). filelock takes ``flock`` on Unix and
    ``LockFileEx`` on Windows, where ``fcntl`` does not exist.
    """
    from filelock import FileLock  # only writers lock; readers need not import it

    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(directory / LOCK):
        yield


def publish(directory: Path, manifest: Manifest, replaced: list[SegmentRecord] | None = None) -> Path:
    """Write ``manifest`` as a new version and switch ``CURRENT`` to it atomically; returns the version folder.

    Its segments must already be in place. Versions and segments no live manifest names are removed after;
    Milvus segments of the version it replaces (``replaced``, else read from disk) stay one version longer
    (see ``remove_stale_rows``).
    """
    replaced = _current_segments(directory) if replaced is None else replaced
    token = uuid.uuid4().hex[:8]
    tmp = directory / f".tmp-{token}"
    tmp.mkdir(parents=True)
    try:
        manifest.versions = package_versions()
        manifest.created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        manifest.files = {}
        path = tmp / "manifest.json"
        path.write_text(manifest.to_json(), encoding="utf-8")
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
        version = directory / f"v-{time.strftime('%Y%m%dT%H%M%S')}-{token}"
        tmp.rename(version)
        if (directory / CURRENT).is_dir():  # only reached with --force: an empty folder where the pointer belongs
            (directory / CURRENT).rmdir()  # (one with files in it is refused before any work: check_writable)
        os.replace(write_pointer(directory, version, token), directory / CURRENT)  # the atomic switch
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    remove_stale(directory, {s.name for s in manifest.segments})
    remove_stale_rows(directory, manifest.segments, replaced)
    return version


def _current_segments(directory: Path) -> list[SegmentRecord]:
    """The segments of the live version, if there is a readable one (before a switch)."""
    try:
        pointer = read_pointer(directory)
        return read_manifest(directory / pointer.version, pointer.manifest_sha256).segments
    except (RagError, Damaged):
        return []


def remove_stale_rows(directory: Path, live: list[SegmentRecord], replaced: list[SegmentRecord]) -> None:
    """Drop the database rows (Milvus) of segments neither the live version nor the one it replaced names.

    Rows a killed writer left, and those of segments merged away one version ago, go. Those of the
    replaced version stay until the next write: unlike an open file, rows vanish under a reader (another
    process on a Milvus server) that still searches that version.
    """
    keep = {s.name for s in live + replaced}
    for store, uri, collection in sorted({(s.store, s.uri, s.collection) for s in live + replaced}):
        store_named(store).drop_unlisted(directory, uri, collection, keep)


def remove_stale(directory: Path, live_segments: set[str]) -> None:
    """Delete versions other than the live one, segments it does not name, and leftovers of crashed writes.

    Only what the index wrote (``is_own``: its names, holding only its files) is ever deleted; the caller
    holds the writer lock. A reader that opened an older version just before the switch retries (see
    ``SegmentedIndex.load``); one that already holds a segment keeps reading it (open files outlive their names
    on POSIX).
    """
    keep = {read_pointer(directory).version} | live_segments
    for path in directory.iterdir():
        if path.name not in keep and is_own(path):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)  # a pointer staged by a writer that died before the switch


def check_writable(directory: Path, force: bool) -> None:
    """Refuse, before the lock file or any work, a folder the index may not write into: a file, one that holds
    files but no valid index (unless ``force``), or one whose ``CURRENT`` is a folder with something in it."""
    check_folder(directory)
    pointer = directory / CURRENT
    if pointer.is_dir() and not pointer.is_symlink() and any(pointer.iterdir()):
        raise IndexCorrupt(f"{pointer} is a folder with files in it, where the index keeps its pointer; "
                           "move it elsewhere, then run `rag index` again")
    if not force and not (directory / LOCK).exists():  # a lock file: an index writer has worked here before
        with contextlib.suppress(IndexNotFound):
            read_pointer(directory)  # IndexCorrupt: files but no valid index, refused with the --force hint

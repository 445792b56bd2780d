"""Folders built once in the model cache (``llm.model_cache_dir``), and the digests that say what they were built from.

A folder is built in a temporary one beside it and renamed into place, under a file lock, so two processes never both
build it and a crash leaves no half of one; the caller says when the folder in place is current (typically: a file
written last names the digests of its sources). Used by the embedder exports (``embeddings.onnx_export``) and by
py3langid's decompressed model (``rag.query.langid_cache``).

Example::

    digests = file_digests([source], cache_dir / DIGESTS_FILE)
    folder = build_once(cache_dir / "thing", lambda: is_current(cache_dir / "thing", digests), build_into)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

DIGESTS_FILE = ".source-digests.json"  # file -> sha256, by path, size and mtime


def file_digests(files: list[Path], memo_path: Path) -> list[str]:
    """Each file's sha256, remembered by path, size and mtime: the 90 MB of weights are read once per copy
    (about 0.2 s), not on every start. A lost or damaged memo only costs reading them again."""
    try:
        memo = json.loads(memo_path.read_text())
        memo = memo if isinstance(memo, dict) else {}
    except (OSError, ValueError):
        memo = {}
    digests, changed = [], False
    for path in files:
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        if not isinstance(memo.get(key), str):
            sha = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    sha.update(block)
            memo[key], changed = sha.hexdigest(), True
        digests.append(memo[key])
    if changed:
        with contextlib.suppress(OSError):  # a read-only cache still works, it just hashes again next time
            memo_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = memo_path.with_name(f"{memo_path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(memo, indent=0))
            os.replace(tmp, memo_path)
    return digests


def build_once(target: Path, current: Callable[[], bool], build: Callable[[Path], None]) -> Path:
    """``target``, built by ``build(folder)`` into a temporary folder unless ``current()`` says it is in place.

    Under the lock ``.<name>.lock`` beside it (another process may have built it while this one waited); a stale
    ``target`` is moved aside and removed. Raises what ``build`` raises, and OSError when the cache is not writable.
    """
    if current():
        return target
    from filelock import FileLock  # only a build locks: loading a built folder needs no lock (nor this import)

    cache_dir = target.parent
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache_dir / f".{target.name}.lock")):
        if current():  # another process built it while this one waited
            return target
        tmp = cache_dir / f".{target.name}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            build(tmp)
            old = cache_dir / f".{target.name}.{os.getpid()}.old"
            if target.exists():  # a stale build (other source or recipe): moved aside, then removed
                os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target

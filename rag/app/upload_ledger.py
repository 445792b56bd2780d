"""Which files in a corpus folder the web UI put there: the only files deleting a report may remove.

Every upload the page saves is recorded, with its sha256, in a hidden file of the folder it was saved to
(``.rag-uploads.json``; hidden files are never indexed). Deleting a report removes its file only when the
record says the page wrote it and the file still holds those bytes; any other report (the user's own
file, a watched folder's, the seeded sample's, or an upload someone has since edited) is excluded from
the index instead, its file left as it is (``rag.app.reports``).

Example::

    record_upload(corpus, "harbour.md", digest)   # by rag.app.uploads.save_upload
    uploaded_files(corpus)                        # {"harbour.md": "<sha256>"}
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

LEDGER = ".rag-uploads.json"
_lock = threading.Lock()  # one writer of a ledger at a time in this process (the page's handlers are threads)


def uploaded_files(corpus_dir: Path) -> dict[str, str]:
    """The files the page saved into ``corpus_dir``: name -> sha256 of the bytes it wrote.

    An unreadable or damaged ledger counts as empty: then nothing is deleted, only excluded.
    """
    try:
        data = json.loads((corpus_dir / LEDGER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("the record of uploads in %s cannot be read (%s); deleting will exclude instead", corpus_dir, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(name): str(digest) for name, digest in data.items()}


def _write(corpus_dir: Path, entries: dict[str, str]) -> None:
    """Replace the ledger atomically: a crash leaves the old one or the new one, never half of one."""
    staged = corpus_dir / f".rag-uploads-{uuid.uuid4().hex}.tmp"
    try:
        staged.write_text(json.dumps(dict(sorted(entries.items())), indent=1, ensure_ascii=False), encoding="utf-8")
        os.replace(staged, corpus_dir / LEDGER)
    finally:
        staged.unlink(missing_ok=True)


def record_upload(corpus_dir: Path, name: str, sha256: str) -> None:
    """Note that the page wrote ``name`` (its bytes hashing to ``sha256``) into ``corpus_dir``.

    A record that cannot be written (disk full) loses nothing but the right to delete that file later:
    deleting it from the page then excludes it, so the upload itself still succeeds.
    """
    with _lock:
        entries = uploaded_files(corpus_dir)
        entries[name] = sha256
        try:
            _write(corpus_dir, entries)
        except OSError as exc:
            log.warning("could not record the upload %s in %s (%s)", name, corpus_dir, exc.strerror or exc)


def forget_upload(corpus_dir: Path, name: str) -> None:
    """Drop ``name`` from the record (its file was deleted)."""
    with _lock:
        entries = uploaded_files(corpus_dir)
        if entries.pop(name, None) is not None:
            _write(corpus_dir, entries)

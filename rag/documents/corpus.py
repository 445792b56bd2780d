"""Which files under a corpus folder are reports: before any file is read.

A folder from a zip archive or a network share holds names that are not valid
UTF-8, links that point anywhere on the machine, and subfolders nobody may read.
None of these may stop the rest of the folder from being indexed, and a link must
never pull a file from outside the folder into the index (``passwd.txt -> /etc/passwd``
would be searchable, and readable through the UI). Each such file is skipped with a
one-line reason that names it; ``follow_symlinks`` lets links out for users who want them.

Example::

    from rag.documents.corpus import scan_corpus
    found = scan_corpus(Path("~/reports").expanduser(), [".txt", ".pdf"])
    found.files      # [Path(".../a.txt"), ...] in a stable order
    found.skipped    # [SkippedFile("passwd.txt", "link to a file outside the corpus folder ...")]
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import literal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkippedFile:
    doc_id: str
    reason: str


@dataclass
class CorpusScan:
    files: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    def skip(self, doc_id: str, reason: str) -> None:
        """Record a skipped file and say so once, in one line, with its name made printable."""
        self.skipped.append(SkippedFile(doc_id, reason))
        log.warning("skipped %s: %s", literal(doc_id, lines=False), literal(reason, lines=False))


def display_name(relative: str) -> str:
    """A path as text that can always be printed and stored: undecodable bytes become ``\\xff``."""
    try:
        return os.fsencode(relative).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file system name can hold
        return relative.encode("utf-8", "backslashreplace").decode("utf-8")


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class OutsideCorpus(OSError):
    """The file opened is not the regular file inside the corpus folder that was listed."""


def _opened_path(fd: int) -> Path | None:
    """The real path of an open file, from the kernel (Linux, macOS); None where it cannot tell."""
    try:
        if sys.platform.startswith("linux"):
            return Path(os.readlink(f"/proc/self/fd/{fd}").removesuffix(" (deleted)"))
        if sys.platform == "darwin":
            import fcntl

            raw = fcntl.fcntl(fd, fcntl.F_GETPATH, bytes(1024))  # type: ignore[attr-defined]
            return Path(os.fsdecode(raw.split(b"\0", 1)[0]))
    except OSError:
        pass
    return None


def read_inside(root: Path, path: Path, follow_symlinks: bool = False, max_bytes: int | None = None) -> bytes:
    """The bytes of ``path``, read through one descriptor that is checked to be a regular file inside ``root``.

    Between listing and reading, a file can be swapped for a link (``report.txt -> /etc/passwd``), or a
    folder on its path for a link to another folder. So the file is opened without following a link in
    its last part (``O_NOFOLLOW``), the descriptor must be a regular file, and the path the kernel says
    it opened must lie inside ``root``; everything after reads that descriptor, never the name again.
    ``follow_symlinks`` lets links out, as in ``scan_corpus``. Raises ``OutsideCorpus`` (one line) or OSError.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)  # O_NONBLOCK: a FIFO swapped in must not hang the indexer
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise OutsideCorpus(errno.ELOOP, "the file was replaced by a symbolic link while it was indexed") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OutsideCorpus(errno.EINVAL, "not a regular file")
        if not follow_symlinks:
            real = _opened_path(fd) or Path(os.path.realpath(path))
            if not _inside(real, root.resolve()):
                raise OutsideCorpus(errno.EACCES, "the file leads outside the corpus folder (a folder on its path was "
                                                  "replaced by a link); set RAG_INDEX__FOLLOW_SYMLINKS=true to allow")
        limit = -1 if max_bytes is None else max_bytes + 1
        return handle.read(limit)


def _link_problem(path: Path, root: Path, follow_symlinks: bool) -> str | None:
    """Why a symlinked file may not be indexed, or None when it may."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # broken link or a loop
        return "broken symbolic link"
    if follow_symlinks or _inside(target, root):
        return None
    return (f"link to a file outside the corpus folder ({display_name(str(target))}); "
            "set RAG_INDEX__FOLLOW_SYMLINKS=true to allow")


def scan_corpus(root: Path, extensions: Iterable[str], follow_symlinks: bool = False) -> CorpusScan:
    """Every indexable file under ``root`` (hidden ones left out), sorted, plus the ones skipped and why."""
    root = root.resolve()
    wanted = {ext.lower() for ext in extensions}
    scan = CorpusScan()
    seen_dirs: set[Path] = set()

    def unreadable(error: OSError) -> None:
        name = Path(error.filename or "").relative_to(root) if error.filename else Path("?")
        scan.skip(display_name(name.as_posix()), f"folder cannot be read ({error.strerror or error})")

    for folder, dirs, names in os.walk(root, onerror=unreadable, followlinks=follow_symlinks):
        base = Path(folder)
        try:
            real = base.resolve()
        except OSError as exc:  # a path the system cannot name (over PATH_MAX): skipped, the rest goes on
            scan.skip(display_name(base.relative_to(root).as_posix()), f"folder cannot be read ({exc.strerror or exc})")
            dirs[:] = []
            continue
        if real in seen_dirs:  # a link loop: this folder was walked already
            dirs[:] = []
            continue
        seen_dirs.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if not follow_symlinks:  # os.walk does not enter linked folders; say so when they lead outside
            for name in dirs:
                try:
                    outside = (base / name).is_symlink() and not _inside((base / name).resolve(), root)
                except OSError:
                    outside = False  # the walk itself reports a folder it cannot enter
                if outside:
                    scan.skip(display_name((base / name).relative_to(root).as_posix()),
                              "link to a folder outside the corpus folder; "
                              "set RAG_INDEX__FOLLOW_SYMLINKS=true to allow")
        for name in names:
            path = base / name
            relative = path.relative_to(root).as_posix()
            if name.startswith(".") or path.suffix.lower() not in wanted:
                continue
            shown = display_name(relative)
            if shown != relative or _has_surrogate(relative):
                scan.skip(shown, "file name is not valid UTF-8; rename the file")
                continue
            try:
                problem = _link_problem(path, root, follow_symlinks) if path.is_symlink() else None
                if problem is None and not path.is_file():
                    problem = "not a regular file"
            except OSError as exc:  # e.g. a name too long for the system: one file, never the whole folder
                problem = f"cannot be read ({exc.strerror or exc})"
            if problem:
                scan.skip(relative, problem)
            else:
                scan.files.append(path)
    scan.files.sort()
    return scan


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False

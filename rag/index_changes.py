"""Changes to an index beyond following its folder: reports excluded, brought back, or read again.

Excluding a report leaves its file where it is (the user's own folder is never touched) and keeps it out of
the index. The exclusion is part of each index version (``Manifest.excluded``), written atomically with it,
so the next ``rag index`` does not bring the report back; ``include_command`` is the command that does. Reading a
report again re-embeds it even when its file is unchanged (after a reader or model fix, or to be sure). The
messages for a name a change cannot act on are all here (``check_change``, ``check_report``).

Example::

    from rag.index_changes import IndexChange
    update_index(corpus, index_dir, embedder, settings.index, change=IndexChange.of(exclude=["old.pdf"]))
    update_index(corpus, index_dir, embedder, settings.index, change=IndexChange.of(reread=["notes.md"]))
"""

from __future__ import annotations

import shlex
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from rag.documents.corpus import scan_corpus
from rag.errors import RagError, UnknownReport, literal
from rag.settings import IndexSettings, default_index_dir
from rag.store.index import SegmentedIndex

LIST_HINT = "`rag reports` lists them"


@dataclass(frozen=True)
class IndexChange:
    """What one update does besides following the folder; names are citation keys (paths in the folder)."""

    exclude: frozenset[str] = frozenset()  # leave these reports out from now on (their files stay)
    include: frozenset[str] = frozenset()  # bring these excluded reports back
    reread: frozenset[str] = frozenset()  # read and embed these again, even if their files are unchanged

    @classmethod
    def of(cls, exclude: Iterable[str] = (), include: Iterable[str] = (), reread: Iterable[str] = ()) -> IndexChange:
        return cls(frozenset(exclude), frozenset(include), frozenset(reread))

    def __bool__(self) -> bool:
        return bool(self.exclude or self.include or self.reread)

    def then(self, later: IndexChange) -> IndexChange:
        """This change followed by ``later``, as one (the later word on a name wins: excluding a report drops an
        earlier request to read it again): queued requests merge."""
        return IndexChange((self.exclude - later.include) | later.exclude,
                           (self.include - later.exclude) | later.include,
                           (self.reread - later.exclude) | later.reread)

    def excluded(self, before: Collection[str]) -> set[str]:
        """The exclusions after this change, from those ``before`` it."""
        return (set(before) - self.include) | self.exclude


@dataclass(frozen=True)
class Reports:
    """What a change is checked against: the index's documents and exclusions, and the reports in its folder."""

    corpus: Path  # the folder the index reads (under `rag serve`, the workspace copy)
    index_dir: Path | None  # None: not known (the commands shown then name no --index-dir)
    indexed: frozenset[str] = frozenset()
    found: frozenset[str] = frozenset()  # the reports in the folder now
    excluded: frozenset[str] = frozenset()  # the exclusions so far


def include_command(corpus: Path | str, name: str | None = None, index_dir: Path | None = None) -> str:
    """The command that brings ``name`` (``None``: any ``NAME``) back into the index built from ``corpus``, quoted
    for a shell; with ``--index-dir`` when ``index_dir`` is not the default. Every hint to bring a report back
    uses it: a bare ``--include`` would read the configured corpus, not the folder this index was built from.

    Example: ``include_command("/srv/my reports", "Q1 notes.md")`` -> ``rag index '/srv/my reports' --include
    'Q1 notes.md'``.
    """
    words = ["rag", "index", shlex.quote(str(corpus))]
    if index_dir is not None and index_dir.expanduser().resolve() != default_index_dir().expanduser().resolve():
        words += ["--index-dir", shlex.quote(str(index_dir))]
    return " ".join([*words, "--include", "NAME" if name is None else shlex.quote(name)])


def previous_exclusions(index_dir: Path, corpus_root: str) -> set[str]:
    """The reports the live version excludes, when it indexes ``corpus_root`` (exclusions name one folder's files).

    A damaged or missing index excludes nothing: it is rebuilt from the folder as it is.
    """
    if not SegmentedIndex.exists(index_dir):
        return set()
    try:
        manifest = SegmentedIndex.read_manifest(index_dir)
    except RagError:
        return set()
    return set(manifest.excluded) if manifest.corpus_root == corpus_root else set()


def current_reports(corpus_dir: Path, index_dir: Path, settings: IndexSettings) -> Reports:
    """The index's documents and exclusions and the folder's reports as they are now (the manifest is read and
    the folder listed, nothing is hashed): what ``BackgroundIndexer.submit`` checks a change against."""
    corpus = corpus_dir.expanduser().resolve()
    indexed: frozenset[str] = frozenset()
    if SegmentedIndex.exists(index_dir):
        try:
            manifest = SegmentedIndex.read_manifest(index_dir)
            indexed = frozenset(manifest.documents) if manifest.corpus_root == str(corpus) else frozenset()
        except RagError:
            pass
    found = frozenset(p.relative_to(corpus).as_posix() for p in scan_corpus(
        corpus, settings.extensions, settings.follow_symlinks).files) if corpus.is_dir() else frozenset()
    return Reports(corpus, index_dir, indexed, found, frozenset(previous_exclusions(index_dir, str(corpus))))


def _name(doc_id: str) -> str:
    return repr(literal(doc_id, lines=False))


def _unknown(name: str, where: str = "in the index") -> UnknownReport:
    return UnknownReport(f"no report named {_name(name)} {where}; {LIST_HINT}")


def check_report(name: str, present: Collection[str], excluded: Collection[str], reports: Reports,
                 gone: bool = False) -> None:
    """``name`` is one of the reports ``present``, else one ``UnknownReport`` line: an excluded one says how to
    bring it back, ``gone`` says that its file left the folder."""
    if name in excluded:
        raise UnknownReport(f"{_name(name)} is excluded from the index; bring it back with "
                            f"`{include_command(reports.corpus, name, reports.index_dir)}`")
    if name not in present:
        raise _unknown(name, "in the index, but its file is gone from the folder" if gone else "in the index")


def check_change(change: IndexChange, reports: Reports) -> None:
    """Every name ``change`` gives is a report it can act on, else one ``UnknownReport`` line naming it.

    Excluding an excluded report again is no error (the click came twice).
    """
    for name in sorted(change.exclude):
        if name not in reports.indexed and name not in reports.found and name not in reports.excluded:
            raise _unknown(name)
    for name in sorted(change.include):
        if name not in reports.excluded:
            listed = ", ".join(_name(n) for n in sorted(reports.excluded)[:5]) or "none"
            raise UnknownReport(f"{_name(name)} is not excluded from the index (excluded: {listed})")
    for name in sorted(change.reread):
        check_report(name, reports.found, change.excluded(reports.excluded), reports, gone=name in reports.indexed)


def queue_change(running: IndexChange, queued: IndexChange, change: IndexChange, reports: Reports) -> IndexChange:
    """``queued`` followed by ``change``, once ``change`` alone has passed ``check_change`` against the index the
    changes before it leave (``running``, then ``queued``): a bad name fails only its own request.

    An include that only undoes a queued exclusion is dropped with it, so the merged change passes
    ``check_change`` against the index as the running change leaves it.
    """
    base = running.excluded(reports.excluded)
    check_change(change, replace(reports, excluded=frozenset(queued.excluded(base))))
    merged = queued.then(change)
    return replace(merged, include=merged.include & base)


def nothing_left(reports: Reports, extensions: Iterable[str], excluded_found: set[str]) -> str:
    """Why an update found no report to index: none readable, or every one excluded."""
    if excluded_found:
        return (f"every report in {reports.corpus} is excluded from the index; bring one back with "
                f"`{include_command(reports.corpus, None, reports.index_dir)}` ({LIST_HINT})")
    return f"no readable documents ({', '.join(extensions)}) in {reports.corpus}"

"""Changes to an index beyond following its folder: reports excluded, brought back, or read again.

Excluding a report leaves its file where it is (the user's own folder is never touched) and keeps it out of
the index. The exclusion is part of each index version (``Manifest.excluded``), written atomically with it,
so the next ``rag index`` does not bring the report back; ``rag index --include NAME`` does. Reading a report
again re-embeds it even when its file is unchanged (after a reader or model fix, or to be sure).

Example::

    from rag.index_changes import IndexChange
    update_index(corpus, index_dir, embedder, settings.index, change=IndexChange.of(exclude=["old.pdf"]))
    update_index(corpus, index_dir, embedder, settings.index, change=IndexChange.of(reread=["notes.md"]))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import RagError, UnknownReport, literal
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
        """This change followed by ``later``, as one (the later word on a name wins): queued requests merge."""
        return IndexChange((self.exclude - later.include) | later.exclude,
                           (self.include - later.exclude) | later.include, self.reread | later.reread)

    def excluded(self, before: set[str]) -> set[str]:
        """The exclusions after this change, from those ``before`` it."""
        return (before - self.include) | self.exclude


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


def _name(doc_id: str) -> str:
    return repr(literal(doc_id, lines=False))


def check_change(change: IndexChange, indexed: set[str], found: set[str], before: set[str]) -> None:
    """Every name ``change`` gives is a report it can act on, else one ``UnknownReport`` line naming it.

    ``indexed``: the documents of the index so far; ``found``: the reports in the folder now; ``before``:
    the exclusions so far. Excluding an excluded report again is no error (the click came twice).
    """
    for name in sorted(change.exclude):
        if name not in indexed and name not in found and name not in before:
            raise UnknownReport(f"no report named {_name(name)} in the index; {LIST_HINT}")
    for name in sorted(change.include):
        if name not in before:
            listed = ", ".join(_name(n) for n in sorted(before)[:5]) or "none"
            raise UnknownReport(f"{_name(name)} is not excluded from the index (excluded: {listed})")
    for name in sorted(change.reread):
        if name in change.excluded(before):
            raise UnknownReport(f"{_name(name)} is excluded from the index; bring it back with "
                                f"`rag index --include {name}`")
        if name not in found:
            where = "in the index, but its file is gone from the folder" if name in indexed else "in the index"
            raise UnknownReport(f"no report named {_name(name)} {where}; {LIST_HINT}")


def nothing_left(corpus_dir: Path, extensions: Iterable[str], excluded_found: set[str]) -> str:
    """Why an update found no report to index: none readable, or every one excluded."""
    if excluded_found:
        return (f"every report in {corpus_dir} is excluded from the index; bring one back with "
                f"`rag index --include NAME` ({LIST_HINT})")
    return f"no readable documents ({', '.join(extensions)}) in {corpus_dir}"

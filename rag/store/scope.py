"""A question's ``Scope`` (report names, a date range) as the set of documents its search may return.

Resolved once per question from the manifest (``SegmentedIndex.resolve``); the segments then search only
those documents' rows (``Segment.search`` / ``keyword_search`` with ``allowed``), so a limited question still
gets its k paragraphs. A scope that matches no indexed report is one line saying what the index holds.

Example::

    allowed = resolve_scope(Scope(docs=("002*",), since=date(2009, 1, 1)), index.manifest.documents)
    index.search(vector, 10, allowed)
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

from rag.errors import NoMatchingReport
from rag.store.manifest import IndexedDocument
from rag.types import Scope

SHOWN = 3  # report names an error lists before "and N more": enough to show what names look like


def name_matches(pattern: str, doc_id: str) -> bool:
    """``pattern`` (a case-insensitive glob, or an exact name) matches the document's path or its file name
    (a typed ``--doc`` / ``docs=`` pattern; a report picked from a list is ``Scope.ids``, compared exactly)."""
    wanted = pattern.lower()
    names = {doc_id.lower(), PurePosixPath(doc_id).name.lower()}
    return wanted in names or any(fnmatchcase(name, wanted) for name in names)


def resolve_scope(scope: Scope | None, documents: Mapping[str, IndexedDocument]) -> frozenset[str] | None:
    """The doc_ids inside ``scope`` (None: no limit); raises ``NoMatchingReport`` when there are none."""
    if scope is None or scope.everything:
        return None
    named = [d for d in documents.values() if not scope.named or d.doc_id in scope.ids
             or any(name_matches(p, d.doc_id) for p in scope.docs)]
    allowed = frozenset(d.doc_id for d in named if scope.holds_date(d.date))
    if not allowed:  # the same words in the CLI, the API and the chat: the scope as words, not as flags
        raise NoMatchingReport(f"no {scope.describe()}: {_holdings(scope, named, documents)} "
                               "(`rag reports` lists them)")
    return allowed


def _holdings(scope: Scope, named: list[IndexedDocument], documents: Mapping[str, IndexedDocument]) -> str:
    """What the index holds, briefly: the reports' names when none matched the names, else their dates."""
    if not documents:
        return "the index holds no reports"
    if scope.named and not named:
        names = sorted(documents)
        more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
        hint = "; names match a report's file name or path, as globs such as '002*' or '*.pdf'" if scope.docs else ""
        return f"the index holds {_reports(len(names))} ({', '.join(names[:SHOWN])}{more}){hint}"
    dates = sorted(d.date for d in named if d.date)
    matching = f"{_reports(len(named))} match{'es' * (len(named) == 1)} the names"
    which = matching if scope.named else f"the index holds {_reports(len(named))}"
    span = ("none of them dated" if not dates else f"dated {dates[0]}" if dates[0] == dates[-1] else
            f"dated {dates[0]} to {dates[-1]}")
    undated = len(named) - len(dates)
    return f"{which}, {span}" + (f" ({undated} without a date, outside any date range)" if dates and undated else "")


def _reports(count: int) -> str:
    return f"{count} report{'s' * (count != 1)}"

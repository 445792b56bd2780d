"""The one-call entry point: ``ask("...")`` over the configured reports.

The process-wide pipeline is built from ``Settings()`` (environment and defaults) on first use,
so a script or a notebook needs no setup beyond the environment.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date

from rag.pipeline import Pipeline
from rag.types import Answer, Scope

_default: Pipeline | None = None
_default_lock = threading.Lock()


def default_pipeline() -> Pipeline:
    """The process-wide pipeline built from ``Settings()`` (environment and defaults)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Pipeline(progress=True)  # first use may index (ask) and assemble the model: show it
        return _default


def ask(question: str, docs: str | Sequence[str] = (), since: date | str | None = None,
        until: date | str | None = None) -> Answer:
    """Answer a question about the configured reports, with citations; ``docs``, ``since`` and ``until`` limit it
    to some reports (``rag.types.Scope``: names as case-insensitive globs over the file name or path, dates
    "YYYY-MM-DD" or ``date``, inclusive, a report without a date outside any range).

    Example::

        from rag import ask
        a = ask("What did Operation Sentinel seize?")
        a.text        # "... over 100 seizures ... more than 160 kg ... [1]"
        a.refused     # False
        a.citations   # [Citation(doc_id="002_50d104ffb6a67dba.txt", paragraph=9, text=..., score=...)]
        ask("Who attended the seminar?", docs=["004*"], since="2009-01-01")  # only report 004, if dated 2009 on
    """
    scope = Scope.of(docs, since, until)  # a bad date fails here, before any model loads
    return default_pipeline().ask(question, scope=scope)  # a fresh checkout indexes its bundled sample first, once
    # the question is valid (``Pipeline.retriever`` calls ``ensure_index``)

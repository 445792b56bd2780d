"""Limit the next questions to some reports: a picker of the indexed reports and a date range.

The chosen reports and dates become the pipeline's ``rag.types.Scope`` for each question asked after (the search
itself is limited, so an answer still rests on k paragraphs of those reports). A report picked from the list is
that report exactly (``Scope.ids``: picking ``a.md`` leaves ``2019/a.md`` out); a typed pattern is a glob (``--doc``).
The picker lists what the index holds and follows it: ``ui.app`` refreshes it whenever the corpus panel is refreshed
(page load, an upload indexed).

Example::

    limits = ReportFilter(pipeline)
    with gr.Blocks() as demo:
        picker, since, until = limits.build()
        ...                                        # inputs=[question, k, turns, picker, since, until]
    limits.scope(["002_50d104ffb6a67dba.txt"], "2009-01-01", "")   # Scope(ids=(...), since=date(2009, 1, 1))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import gradio as gr

from embeddings import EmbedderUnavailable
from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.store.manifest import IndexedDocument
from rag.types import Scope

TITLE_CHARS = 60  # a report's title in the picker is cut here, so that its file name and date stay in sight
# One star only: Gradio renders an info line as markdown, where "2009* or *.pdf" turns italic.
PICKER_HINT = ("Empty: all reports. Type to search the list, or type a pattern such as *.pdf and press Enter. "
               "Dates are the reports' own; a date range leaves out reports without one.")


def report_label(document: IndexedDocument) -> str:
    """'Operation Sentinel … (002_50d1.txt, 2009-10-27)': what the picker shows for a report."""
    title = " ".join(document.title.split()) or PurePosixPath(document.doc_id).name
    if len(title) > TITLE_CHARS:
        title = title[:TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    details = ", ".join(part for part in (document.doc_id, document.date) if part)
    return f"{title} ({details})"


class ReportFilter:
    """The picker and the date range, over one pipeline's index."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def choices(self) -> list[tuple[str, str]]:
        """(label, doc_id) of every indexed report, by title; none while there is no index to read."""
        try:
            documents = list(self.pipeline.index.manifest.documents.values())
        except (RagError, EmbedderUnavailable):
            return []
        return [(report_label(d), d.doc_id) for d in sorted(documents, key=lambda d: (d.title.lower(), d.doc_id))]

    def scope(self, picked: Sequence[str] | None, since: str | None, until: str | None) -> Scope | None:
        """The picker's reports and the date boxes as a ``Scope`` (None: no limit); ``InvalidScope`` for a bad date.
        A value the index holds is an exact doc_id (the picker cannot tell picked from typed); others are globs."""
        known = {doc_id for _, doc_id in self.choices()}
        values = list(picked or ())
        return Scope.or_none([v for v in values if v not in known], since, until, [v for v in values if v in known])

    def refresh(self, selected: Sequence[str] | None) -> Any:
        """The picker over the current index, keeping the chosen reports that are still in it (and patterns)."""
        choices = self.choices()
        known = {doc_id for _, doc_id in choices}
        kept = [d for d in selected or () if d in known or any(c in d for c in "*?[")]
        return gr.Dropdown(choices=choices, value=kept, allow_custom_value=True)

    def build(self) -> tuple[gr.Dropdown, gr.Textbox, gr.Textbox]:
        """The controls, laid out where this is called (inside the app's Blocks)."""
        with gr.Accordion("Limit to some reports or dates", open=False, elem_id="rag-filters"):
            picker = gr.Dropdown(choices=[], value=[], multiselect=True, allow_custom_value=True,
                                 label="Only these reports", info=PICKER_HINT, elem_id="rag-filter-docs")
            with gr.Row():
                since = gr.Textbox(label="From (included)", placeholder="YYYY-MM-DD", max_length=10,
                                   elem_id="rag-filter-since")
                until = gr.Textbox(label="Until (included)", placeholder="YYYY-MM-DD", max_length=10,
                                   elem_id="rag-filter-until")
        return picker, since, until

"""The "Manage reports" panel: the index's reports, and deleting (after a confirmation) or re-indexing one.

What deleting means is the core's (``rag.app.reports``): a report uploaded through the page loses its file,
any other one is excluded from the index and its file left alone. The work runs on the page's background
indexer (``rag.background``), its progress shown as an upload's; who may do it follows ``ui.gate``: where
uploads are off, so are these (the controls are hidden and the handlers refuse).

Example::

    panel = ReportsPanel(chat_app)        # ui.app.ChatApp makes one; build_app calls panel.build(corpus_box)
    html, row, asked = panel.ask_delete("harbour.md")       # "Delete harbour.md? ..." and the confirm step
    status, *_, pending, timer = panel.confirm_delete("harbour.md", asked)
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path
from typing import Any, Protocol

import gradio as gr

from embeddings import EmbedderUnavailable
from rag.app.reports import ReportInfo, carry_out, excluded_reports, list_reports, removal, reread_report
from rag.background import BackgroundIndexer
from rag.errors import RagError, one_line
from rag.index_changes import include_command
from rag.pipeline import Pipeline
from rag.store.manifest import Manifest
from ui import render
from ui.gate import CHANGES_OFF

log = logging.getLogger(__name__)

Pending = dict[str, Any]  # a change being indexed: {"ticket": int, "done": str (what it did, shown once indexed)}
Progress = tuple[str, str, Any, Any, Pending | None, Any]  # status, table, selector, corpus list, pending, timer
NO_CHOICE = "choose a report first"


class Host(Protocol):
    """What the panel needs of the app (``ui.app.ChatApp``): its pipeline, indexer, gate and corpus list."""

    pipeline: Pipeline
    indexer: BackgroundIndexer
    uploads: bool

    def corpus_panel(self) -> str: ...


def _line(kind: str, text: str) -> str:
    return f'<div class="rag-upload-report"><div class="rag-up-{kind}">{text}</div></div>'


def refused(reason: str) -> str:
    return _line("refused", f"✗ {escape(reason)}")


def table_html(reports: list[ReportInfo], excluded: list[str], bring_back: str = "") -> str:
    """The reports as a table (file, date, paragraphs, pages, where from), then the excluded ones and
    ``bring_back``, the command that brings one back (``rag.index_changes.include_command``)."""
    rows = "".join(
        f'<tr><td><div class="rag-doc-file">{escape(r.name)}</div></td>'
        f'<td class="rag-nowrap">{escape(r.date or "")}</td><td class="rag-num-cell">{r.paragraphs}</td>'
        f'<td class="rag-num-cell">{r.pages or ""}</td><td>{"uploaded" if r.uploaded else "folder"}</td></tr>'
        for r in reports)
    note = ("" if not excluded else '<div class="rag-facts"><span>Excluded</span>'
            + ", ".join(f"<code>{escape(name)}</code>" for name in excluded)
            + f" (files left in place; <code>{escape(bring_back)}</code> brings one back)</div>")
    return (f'<table class="rag-corpus" id="rag-reports-table"><thead><tr><th>Report</th><th>Date</th><th>¶</th>'
            f"<th>Pages</th><th>From</th></tr></thead><tbody>{rows}</tbody></table>{note}")


class ReportsPanel:
    """The panel's event handlers, over the app that hosts it (kept apart from layout so tests can call them)."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def _manifest(self) -> Manifest:
        return self.host.pipeline.index.manifest

    def _index_dir(self) -> Path:
        return self.host.pipeline.settings.resolved_index_dir()

    def listing(self, selected: str | None = None) -> tuple[str, Any]:
        """The table and the selector's choices (the selection kept while its report is listed)."""
        try:
            manifest = self._manifest()
        except (RagError, EmbedderUnavailable) as exc:
            return refused(one_line(exc)), gr.update(choices=[], value=None)
        reports = list_reports(manifest)
        names = [r.name for r in reports]
        bring_back = include_command(manifest.corpus_root, None, self._index_dir())
        return (table_html(reports, excluded_reports(manifest), bring_back),
                gr.update(choices=names, value=selected if selected in names else None))

    def ask_delete(self, name: str | None) -> tuple[str, Any, str | None]:
        """The confirmation step: what deleting ``name`` will do, and the buttons to confirm or cancel."""
        if not self.host.uploads:
            return refused(CHANGES_OFF), gr.update(visible=False), None
        if not name:
            return refused(NO_CHOICE), gr.update(visible=False), None
        try:
            planned = removal(self._manifest(), name, self._index_dir())
        except (RagError, EmbedderUnavailable) as exc:
            return refused(one_line(exc)), gr.update(visible=False), None
        if planned.deletes_file:
            question = (f"Delete <b>{escape(name)}</b>? It was uploaded here: its file is removed and its "
                        "paragraphs leave the index.")
        else:
            question = (f"Remove <b>{escape(name)}</b> from the index? Its file in <code>{escape(str(planned.folder))}"
                        f"</code> is not touched; it stays out of the index until <code>{escape(planned.bring_back())}"
                        "</code>.")
        return _line("same", question), gr.update(visible=True), name

    def cancel(self) -> tuple[str, Any, None]:
        return "", gr.update(visible=False), None

    def confirm_delete(self, name: str | None, asked: str | None) -> tuple[str, str, Any, None, Pending | None, Any]:
        """Delete (or exclude) the report the confirmation named, then index in the background and poll."""
        hidden = gr.update(visible=False)
        if not self.host.uploads:
            return refused(CHANGES_OFF), "", hidden, None, None, gr.Timer(active=False)
        if not asked or asked != name:  # the selection changed after the question: ask again
            return refused("nothing to confirm: choose a report and press Delete"), "", hidden, None, None, \
                gr.Timer(active=False)
        try:
            planned = removal(self._manifest(), asked, self._index_dir())
            ticket = self.host.indexer.submit(carry_out(planned))  # a name the queue cannot take: one line
        except (RagError, EmbedderUnavailable) as exc:
            return refused(one_line(exc)), "", hidden, None, None, gr.Timer(active=False)
        log.info("reports: %s", planned.describe())
        done = (f"✓ deleted <b>{escape(asked)}</b> (its uploaded file is removed)" if planned.deletes_file else
                f"✓ excluded <b>{escape(asked)}</b> from the index (its file is left in place)")
        pending = {"ticket": ticket, "done": done}
        return self._running(pending)[0], "", hidden, None, pending, gr.Timer(active=True)

    def reindex(self, name: str | None) -> tuple[str, Pending | None, Any]:
        """Read ``name`` again and re-embed it in the background, even though its file is unchanged."""
        if not self.host.uploads:
            return refused(CHANGES_OFF), None, gr.Timer(active=False)
        if not name:
            return refused(NO_CHOICE), None, gr.Timer(active=False)
        try:
            ticket = self.host.indexer.submit(reread_report(self._manifest(), name, self._index_dir()))
        except (RagError, EmbedderUnavailable) as exc:
            return refused(one_line(exc)), None, gr.Timer(active=False)
        pending = {"ticket": ticket, "done": f"✓ re-indexed <b>{escape(name)}</b>"}
        return self._running(pending)[0], pending, gr.Timer(active=True)

    def _running(self, pending: Pending) -> tuple[str, bool]:
        status = self.host.indexer.status()
        if status.finished < pending["ticket"]:
            return render.indexing_html(status.embedded, status.total, status.seconds), False
        if status.error:
            return refused(f"indexing failed: {status.error}"), True
        return _line("ok", pending["done"]), True

    def progress(self, pending: Pending | None, selected: str | None = None) -> Progress:
        """Polled while a change is indexed: its progress, then the outcome with the refreshed lists."""
        if not pending:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), None, gr.Timer(active=False)
        html, done = self._running(pending)
        if not done:
            return html, gr.skip(), gr.skip(), gr.skip(), pending, gr.Timer(active=True)
        table, choices = self.listing(selected)
        return html, table, choices, self.host.corpus_panel(), None, gr.Timer(active=False)

    def build(self, corpus_box: gr.HTML) -> None:
        """Lay the panel out where it is called (inside the app's Blocks) and wire it; it refreshes whenever
        the corpus list does (after an upload is indexed)."""
        with gr.Accordion("Manage reports", open=False, elem_id="rag-reports"):
            table = gr.HTML(render.pending_status_html("Loading the reports…"), elem_id="rag-reports-list")
            # allow_custom_value: a name the list just dropped (deleted) must reach the handlers, which say so in
            # one line, instead of failing Gradio's own check of the choices with an error toast
            choice = gr.Dropdown(choices=[], value=None, label="Report", elem_id="rag-report-choice",
                                 visible=self.host.uploads, allow_custom_value=True)
            with gr.Row(visible=self.host.uploads):
                delete = gr.Button("Delete…", size="sm", variant="secondary", elem_id="rag-report-delete")
                reread = gr.Button("Re-index", size="sm", variant="secondary", elem_id="rag-report-reindex")
            question = gr.HTML(elem_id="rag-report-question")
            with gr.Row(visible=False) as confirm_row:
                yes = gr.Button("Yes, delete", size="sm", variant="stop", elem_id="rag-report-confirm")
                no = gr.Button("Cancel", size="sm", variant="secondary", elem_id="rag-report-cancel")
            status = gr.HTML(elem_id="rag-report-status")
            asked, pending, poll = gr.State(None), gr.State(None), gr.Timer(1.0, active=False)
        private: dict[str, Any] = {"api_visibility": "private"}
        corpus_box.change(self.listing, inputs=choice, outputs=[table, choice], show_progress="hidden", **private)
        choice.change(self.cancel, outputs=[question, confirm_row, asked], show_progress="hidden", **private)
        delete.click(self.ask_delete, inputs=choice, outputs=[question, confirm_row, asked], **private)
        no.click(self.cancel, outputs=[question, confirm_row, asked], **private)
        yes.click(self.confirm_delete, inputs=[choice, asked], outputs=[status, question, confirm_row, asked, pending,
                                                                          poll], show_progress_on=status, **private)
        reread.click(self.reindex, inputs=choice, outputs=[status, pending, poll], show_progress_on=status, **private)
        poll.tick(self.progress, inputs=[pending, choice], outputs=[status, table, choice, corpus_box, pending, poll],
                  show_progress="hidden", concurrency_limit=None, **private)

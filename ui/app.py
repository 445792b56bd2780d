"""The Gradio Blocks app: a chat with streamed, cited answers, a side panel and uploads.

The app only presents: every answer comes from ``pipeline.stream`` (the same object
``ask()`` and the CLI use), the follow-up rewrite happens in the pipeline, upload
checks in ``rag.app.uploads``, their indexing in the background in the core
(``Resources.background_indexer``; ``ui.indexing`` shows its progress) and
status in ``rag.app.status``. Rendering is ``ui.render``; who may call what, ``ui.gate``.

Example::

    from rag import Pipeline, Settings
    from ui.app import build_app
    from ui.serve import launch

    demo = build_app(Pipeline(Settings(index={"corpus_dir": "~/reports"})))
    launch(demo, Settings())                   # http://127.0.0.1:7860, blocks until Ctrl-C
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr

from embeddings import EmbedderUnavailable
from rag.app.status import corpus_status, llm_status
from rag.app.uploads import SavedUpload, human_size, save_upload, upload_change, uploads_allowed, writable_corpus
from rag.errors import RagError, UploadRejected, one_line
from rag.pipeline import Pipeline
from rag.types import Message
from ui import render
from ui.filters import ReportFilter
from ui.gate import UPLOADS_OFF
from ui.indexing import Pending, upload_progress
from ui.page_images import PageImages, attach
from ui.reports import ReportsPanel

log = logging.getLogger(__name__)

TITLE = "Ask the reports"
SUBTITLE = ("Answers come only from the reports listed on the right. Each claim ends with a marker such as "
            '<span class="rag-cite">[1]</span> that points to the exact paragraph under the answer, '
            "with the supporting sentence <mark>highlighted</mark>.")
PLACEHOLDER = ('<div class="rag-placeholder"><b>Ask anything about the reports</b>'
               "Type a question below or pick an example. Follow-up questions understand the conversation.</div>")
UPLOAD_HINT = ("Add reports: .txt, .md, .html, .pdf or .docx, files up to {limit} holding up to {text} of text (about a "
               "minute of indexing). They are indexed in the background.")
UPLOADS_OFF_NOTE = ('<div class="rag-pending" id="rag-uploads-off">Uploads are off: this server is reachable from '
                    "other machines without a login. Start it with --auth, or --allow-uploads, to add reports.</div>")
K_MAX = 15  # slider range for "sources per answer"

Turn = dict[str, Any]  # {"question": str, "answer": str | None (None: an error), "html": str}
ChatOutput = tuple[list[dict[str, str]], list[Turn], Any]  # chat, history, input box (text or gr.skip())
UploadOutput = tuple[str, Any, None, Pending | None, Any]  # status, corpus list, file box, pending, timer


def sendable(text: str) -> str:
    """``text`` that JSON can carry to the browser: a lone surrogate (not valid UTF-8) becomes a visible escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _messages(turns: list[Turn]) -> list[dict[str, str]]:
    """What the Chatbot shows: each question, then the rendered answer."""
    shown: list[dict[str, str]] = []
    for turn in turns:
        shown += [{"role": "user", "content": escape(sendable(turn["question"]))},
                  {"role": "assistant", "content": turn["html"]}]
    return shown


def _history(turns: list[Turn]) -> list[Message]:
    """Earlier questions and answers as plain text for the follow-up rewrite (errors left out)."""
    history: list[Message] = []
    for turn in turns:
        if turn["answer"] is not None:
            history += [{"role": "user", "content": turn["question"]},
                        {"role": "assistant", "content": turn["answer"]}]
    return history


class ChatApp:
    """The event handlers, bound to one pipeline (kept apart from layout so that tests can call them)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.settings = pipeline.settings
        self.upload_dir: Path = writable_corpus(pipeline.settings)
        self.uploads = uploads_allowed(pipeline.settings.ui)  # off: the control is hidden and this handler refuses
        self.indexer = pipeline.resources.background_indexer(self.upload_dir)
        self.pages = PageImages(self.upload_dir)  # a PDF card's page image, from the folder the indexer reads
        self.reports = ReportsPanel(self)  # list, delete, re-index (ui.reports), on the same indexer and gate
        self.limits = ReportFilter(pipeline)  # the reports and dates a question is limited to (ui.filters)

    def respond(self, question: str, k: float, turns: list[Turn], docs: list[str] | None = None, since: str = "",
                until: str = "") -> Iterator[ChatOutput]:
        """Stream one answer into the chat; any failure becomes a readable message, never a traceback.

        Only the first update clears the input box, so the next question can be typed while this one streams.
        ``docs``, ``since`` and ``until`` (``ui.filters``) limit it to some reports.
        """
        question = " ".join((question or "").split())
        if not question:
            yield _messages(turns), turns, ""
            return
        turns = list(turns or [])
        shown = _messages(turns) + [{"role": "user", "content": escape(sendable(question))},
                                    {"role": "assistant", "content": render.streaming_html("")}]
        yield shown, turns, ""
        answer_text: str | None = None
        try:
            scope = self.limits.scope(docs, since, until)  # InvalidScope for a bad date: one line in the chat
            stream = self.pipeline.stream(question, int(k), history=_history(turns), scope=scope)
            raw = ""
            for delta in stream:
                raw += delta
                shown[-1]["content"] = render.streaming_html(raw)
                yield shown, turns, gr.skip()
            assert stream.result is not None
            answer_text, html = stream.result.text, render.answer_html(stream.result, self.pages.links)
        except (RagError, EmbedderUnavailable) as exc:
            html = render.error_html(sendable(one_line(exc)))
        except Exception as exc:  # the app must keep working whatever happens
            log.exception("unexpected error while answering %r", question)
            html = render.error_html(sendable(f"unexpected {type(exc).__name__}: {one_line(exc)}"))
        turns = turns + [{"question": question, "answer": answer_text, "html": html}]
        yield _messages(turns), turns, gr.skip()

    def ask_markdown(self, question: str) -> str:
        """Answer a question about the reports; returns the answer and its cited paragraphs as markdown.

        Every failure reaches the client as one line (``gr.Error``): any other exception would
        arrive as ``{"error": null}``, its traceback only in the server log.
        """
        try:
            return render.answer_markdown(self.pipeline.ask(question))
        except (RagError, EmbedderUnavailable) as exc:
            raise gr.Error(sendable(one_line(exc)), print_exception=False) from None
        except Exception as exc:
            log.exception("unexpected error while answering %r over /ask", question)
            raise gr.Error(sendable(f"unexpected {type(exc).__name__}: {one_line(exc)}"),
                           print_exception=False) from None

    def llm_panel(self) -> str:
        return render.llm_status_html(llm_status(self.pipeline))

    def corpus_panel(self) -> str:
        try:
            return render.corpus_html(corpus_status(self.pipeline))
        except (RagError, EmbedderUnavailable) as exc:
            return render.error_html(one_line(exc))

    def upload(self, files: list[str] | None,
               progress: gr.Progress = gr.Progress()) -> UploadOutput:  # noqa: B008 - Gradio's injection
        """Save each file (or say why not), then index the new ones in the background and start polling.

        Returns at once: a large upload takes minutes to embed, and the page and the other
        users' questions must not wait for it (``Resources.background_indexer``).
        """
        if not self.uploads:
            return render.upload_report_html([], [UPLOADS_OFF], None), gr.skip(), None, None, gr.Timer(active=False)
        paths = [Path(f) for f in files or []]
        saved: list[SavedUpload] = []
        rejected: list[str] = []
        for number, path in enumerate(paths):
            progress((number, len(paths)), desc=f"Checking {path.name}")
            try:
                saved.append(save_upload(path, path.name, self.upload_dir, self.settings))
            except UploadRejected as exc:
                rejected.append(str(exc))
            except OSError as exc:
                rejected.append(f"{path.name}: could not be saved ({one_line(exc)})")
        log.info("upload: %d saved, %d refused", len(saved), len(rejected))
        try:  # an excluded name uploaded again is brought back (rag.app.uploads.upload_change)
            change = upload_change(saved, self.upload_dir, self.settings)
            ticket = self.indexer.submit(change) if change or any(not item.duplicate for item in saved) else None
        except RagError as exc:
            rejected.append(one_line(exc))
            ticket = None
        if ticket is None:
            return render.upload_report_html(saved, rejected, None), gr.skip(), None, None, gr.Timer(active=False)
        pending = {"ticket": ticket, "saved": saved, "rejected": rejected}
        html, corpus, pending_now, timer = self.index_progress(pending)
        return html, corpus, None, pending_now, timer

    def index_progress(self, pending: Pending | None) -> tuple[Any, Any, Pending | None, Any]:
        """What the page shows while its upload is indexed (polled by a timer); the corpus list once it is done."""
        if not pending:
            return gr.skip(), gr.skip(), None, gr.Timer(active=False)
        html, done = upload_progress(self.indexer.status(), pending)
        if not done:
            return html, gr.skip(), pending, gr.Timer(active=True)
        return html, self.corpus_panel(), None, gr.Timer(active=False)


def build_app(pipeline: Pipeline) -> gr.Blocks:
    """The Blocks app over ``pipeline``; launch it with ``ui.serve.launch`` (which adds the theme and CSS).

    Example::

        demo = build_app(Pipeline(Settings(retrieval={"k": 5})))
        demo.launch(prevent_thread_lock=True, server_port=7861)   # or ui.serve.launch(demo, settings)
    """
    handlers = ChatApp(pipeline)
    limits = handlers.limits
    settings = pipeline.settings
    limit, text = human_size(settings.ui.max_upload_bytes), human_size(settings.ui.max_upload_text_bytes)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        turns = gr.State([])
        gr.HTML(f'<div id="rag-header"><h1>{TITLE}</h1><p>{SUBTITLE}</p></div>')
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=480, elem_id="rag-main"):
                chatbot = gr.Chatbot(elem_id="rag-chat", show_label=False, height=700, latex_delimiters=[],
                                     buttons=[], feedback_options=None, layout="panel",
                                     placeholder=PLACEHOLDER)
                with gr.Row(elem_id="rag-ask-row"):
                    question = gr.Textbox(placeholder="Ask a question about the reports…", show_label=False,
                                          container=False, scale=6, autofocus=True, elem_id="rag-question",
                                          max_length=settings.retrieval.max_question_chars)
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="rag-ask")
                with gr.Row(elem_id="rag-examples"):
                    gr.HTML('<span class="rag-examples-label">Try:</span>', container=False)
                    examples = [gr.Button(text, size="sm", variant="secondary", elem_classes="rag-example")
                                for text in settings.ui.examples]
                    clear = gr.Button("New conversation", size="sm", variant="secondary", elem_id="rag-clear")
                scope = list(limits.build())  # the reports and dates the next questions are limited to
            with gr.Column(scale=2, min_width=340, elem_id="rag-side"):
                gr.HTML('<h3 class="rag-side-title">Language model</h3>', container=False)
                llm_box = gr.HTML(render.pending_status_html("Checking the language model…"),
                                  elem_id="rag-llm")
                recheck = gr.Button("Check again", size="sm", variant="secondary", elem_id="rag-recheck")
                k = gr.Slider(1, K_MAX, value=min(settings.retrieval.k, K_MAX), step=1, label="Sources per answer (k)",
                              elem_id="rag-k")
                gr.HTML('<h3 class="rag-side-title">Reports</h3>', container=False)
                corpus_box = gr.HTML(render.pending_status_html("Loading the index…"), elem_id="rag-corpus")
                files = gr.File(label=UPLOAD_HINT.format(limit=limit, text=text), file_count="multiple", type="filepath",
                                elem_id="rag-upload", visible=handlers.uploads)
                if not handlers.uploads:
                    gr.HTML(UPLOADS_OFF_NOTE, container=False)
                upload_status = gr.HTML(elem_id="rag-upload-status")
                pending = gr.State(None)
                poll = gr.Timer(1.0, active=False)
                handlers.reports.build(corpus_box)

        # One answer at a time (concurrency_id); a waiting page shows "queue: 1/2 | 3.0s" on its chat.
        chat_io: dict[str, Any] = {"fn": handlers.respond, "outputs": [chatbot, turns, question],
                                   "concurrency_id": "chat", "api_visibility": "private", "show_progress": "minimal",
                                   "show_progress_on": chatbot}
        answered = gr.on([question.submit, ask.click], inputs=[question, k, turns, *scope], **chat_io)
        for button in examples:
            answered_example = button.click(inputs=[button, k, turns, *scope], **chat_io)
            answered_example.then(handlers.llm_panel, outputs=llm_box, api_visibility="private",
                                  show_progress="hidden")
        answered.then(handlers.llm_panel, outputs=llm_box, api_visibility="private", show_progress="hidden")
        clear.click(lambda: ([], [], ""), outputs=[chatbot, turns, question], api_visibility="private")
        chatbot.clear(list, outputs=turns, api_visibility="private")  # the chat's own trash button
        recheck.click(handlers.llm_panel, outputs=llm_box, api_visibility="private")
        files.upload(handlers.upload, inputs=files, outputs=[upload_status, corpus_box, files, pending, poll],
                     api_visibility="private", show_progress_on=upload_status)
        poll.tick(handlers.index_progress, inputs=pending, outputs=[upload_status, corpus_box, pending, poll],
                  api_visibility="private", show_progress="hidden", concurrency_limit=None)
        demo.load(handlers.corpus_panel, outputs=corpus_box, api_visibility="private", show_progress="hidden")
        corpus_box.change(limits.refresh, inputs=scope[0], outputs=scope[0], api_visibility="private",
                          show_progress="hidden")  # the picker follows the index the corpus panel shows
        demo.load(handlers.llm_panel, outputs=llm_box, api_visibility="private", show_progress="hidden")
        gr.api(handlers.ask_markdown, api_name="ask")
    attach(demo, handlers.pages)  # ui.serve.launch serves them
    return demo

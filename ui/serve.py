"""Start the web UI: prepare the corpus and index, then launch the app on a local port.

Example::

    from rag import Settings
    from ui.serve import serve
    serve(Settings(ui={"port": 7861}))  # what `rag serve --port 7861` and `python -m ui --port 7861` do
"""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from rag.app.status import llm_status
from rag.app.uploads import is_loopback, uploads_allowed, with_writable_corpus
from rag.app.watch import start_watcher
from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.resources import check_index_target
from rag.settings import Settings
from ui.app import build_app
from ui.gate import PageGate
from ui.page_images import PageImageRoute, attached

log = logging.getLogger(__name__)

STYLE = Path(__file__).with_name("style.css")


def theme() -> gr.themes.Base:
    """A calm theme whose fonts ship with Gradio (no font CDN: the app works offline).

    Only the regular and bold faces: Gradio 6.31 ships its semi-bold faces as small
    glyph subsets, so semi-bold text mixes in fallback glyphs.
    """
    fonts = gr.themes.LocalFont
    return gr.themes.Default(
        primary_hue="indigo", secondary_hue="slate", neutral_hue="slate", radius_size="md",
        font=[fonts("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=[fonts("IBM Plex Mono", weights=(400, 700)), "ui-monospace", "monospace"])


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """'user:password' -> ('user', 'password'); the password may contain ':'."""
    if not auth:
        return None
    user, colon, password = auth.partition(":")
    if not colon or not user or not password:
        raise RagError("--auth must look like user:password")
    return user, password


def launch(demo: gr.Blocks, settings: Settings, host: str | None = None, port: int | None = None,
           auth: str | None = None, block: bool = True) -> str:
    """Launch ``demo`` with the app's theme and CSS, sharing off; returns the local URL.

    Internal handlers and the cited page images (``ui.page_images``) answer only the app's own page
    (``ui.gate.PageGate``); ``/ask`` answers anyone.
    Files can be uploaded only when ``rag.app.uploads.uploads_allowed`` says so for this address and login.
    ``block=False`` returns at once (tests); call ``demo.close()`` to stop the server.
    """
    host, port = host or settings.ui.host, port or settings.ui.port
    login = auth if auth is not None else settings.ui.auth
    uploads = uploads_allowed(settings.ui.model_copy(update={"host": host, "auth": login}))
    warning = exposure_warning(host, login, uploads)
    if warning:
        log.warning(warning)
    middleware = [Middleware(PageGate, blocks=demo, files=uploads)]  # first: it sees every request
    images = attached(demo)
    if images is not None:
        middleware.append(Middleware(PageImageRoute, images=images))
    try:
        _, url, _ = demo.launch(
            server_name=host, server_port=port, auth=parse_auth(login),
            share=False, prevent_thread_lock=not block, show_error=False, quiet=not block,
            max_file_size=settings.ui.max_upload_bytes, footer_links=["api"], ssr_mode=False, mcp_server=False,
            theme=theme(), css=STYLE.read_text(encoding="utf-8"), app_kwargs={"middleware": middleware})
    except OSError:
        raise _unavailable(host, port) from None
    return url


def exposure_warning(host: str, auth: str | None, uploads: bool) -> str | None:
    """One loud line when anyone who can reach ``host`` can use the app: not loopback, no login."""
    if auth or is_loopback(host):
        return None
    risk = ("uploads are ON (--allow-uploads): anyone can add files to the corpus" if uploads
            else "uploads are off (--allow-uploads turns them on)")
    return (f"WARNING: the UI on {host} has no login (--auth): anyone who can reach this address can read every "
            f"report and ask questions; {risk}")


def _unavailable(host: str, port: int) -> RagError:
    return RagError(f"cannot listen on {host}:{port}: the port is in use or the address is not this machine's; "
                    "pick another with --port or --host")


def check_address(host: str, port: int) -> None:
    """Fail in a second, not after indexing, when the port is taken."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError:
        raise _unavailable(host, port) from None


def _warm_up(pipeline: Pipeline) -> None:
    """Load the LLM in the background, so the page opens at once and the first answer starts sooner."""
    status = llm_status(pipeline)
    log.info("LLM %s: %s %s (%s)", "ready" if status.healthy else "NOT available", status.backend, status.model,
             status.detail)


def serve(settings: Settings, block: bool = True) -> tuple[gr.Blocks, str]:
    """Bring the index in line with the corpus (incremental), then launch the app.

    When the configured corpus is the bundled sample, the app works on a writable
    workspace copy of it (``settings.ui.workspace_corpus_dir``), where uploads go. With ``settings.ui.watch``
    a thread keeps the index following that folder (``rag.app.watch``); answers use each new version.
    """
    check_address(settings.ui.host, settings.ui.port)
    parse_auth(settings.ui.auth)  # a malformed --auth fails before any work
    check_index_target(settings)  # the core's policy: where an update may create an index
    settings = with_writable_corpus(settings)
    pipeline = Pipeline(settings, progress=True)
    pipeline.reindex()  # logs what changed; builds the index on the first run (the UI's explicit write)
    log.info("serving the reports in %s (index %s)", settings.index.corpus_dir, settings.resolved_index_dir())
    threading.Thread(target=_warm_up, args=(pipeline,), name="llm-warm-up", daemon=True).start()
    demo = build_app(pipeline)
    if settings.ui.watch:  # the page's own indexer: one worker and one embedder copy for uploads and the folder
        corpus = settings.resolved_corpus_dir()
        start_watcher(corpus, settings.index, pipeline.resources.background_indexer(corpus).submit,
                      lambda: pipeline.index.manifest.documents)
        log.info("following %s: changes there are indexed in the background", corpus)
    url = launch(demo, settings, block=block)
    return demo, url

"""``rag serve`` (and ``python -m ui``): the web UI's command, found by ``rag`` through ``rag.app.commands``.

Its options are parsed here, Gradio is imported only when it runs (``ui.serve``), so listing the
commands (``rag --help``) stays cheap.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from rag.app.options import (
    IndexDir,
    K,
    LLMBackend,
    Model,
    Preset,
    Verbose,
    configure_logging,
    llm_flags,
    settings_from_flags,
)


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (RAG_UI__HOST, default 127.0.0.1).")]
    = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (RAG_UI__PORT, default 7860).")] = None,
    auth: Annotated[str | None, typer.Option("--auth", help="Require a login: user:password (RAG_UI__AUTH).")]
    = None,
    k: K = None,
    llm: LLMBackend = None,
    model: Model = None,
    index_dir: IndexDir = None,
    corpus: Annotated[Path | None, typer.Option("--corpus", help="Folder of reports; uploads are saved there.")]
    = None,
    allow_uploads: Annotated[bool | None, typer.Option(
        "--allow-uploads/--no-uploads", help="Let the page add files to the corpus (RAG_UI__ALLOW_UPLOADS; default: on "
        "for a loopback --host or with --auth, off otherwise).", show_default=False)] = None,
    watch: Annotated[bool | None, typer.Option(
        "--watch", help="Keep the index following the corpus folder: files added, changed or removed there are "
        "indexed in the background (RAG_UI__WATCH).", show_default=False)] = None,
    preset: Preset = None,
    verbose: Verbose = False,
) -> None:
    """Open the chat in the browser: streamed, cited answers, a source viewer and uploads.

    Examples: ``rag serve`` (http://127.0.0.1:7860); ``rag serve --port 8080 --auth me:secret``;
    ``rag serve --corpus ~/reports --llm ollama --model qwen2.5:3b``; ``rag serve --corpus ~/reports --watch``.
    ``python -m ui`` takes the same options.
    """
    from ui.serve import serve as serve_ui  # Gradio loads only for this command

    configure_logging(verbose)
    logging.getLogger("ui").setLevel(logging.INFO)
    serve_ui(settings_from_flags(ui={"host": host, "port": port, "auth": auth, "allow_uploads": allow_uploads,
                                     "watch": watch},
                                 retrieval={"k": k}, llm=llm_flags(llm, model),
                                 index={"index_dir": index_dir, "corpus_dir": corpus}, preset=preset))

"""What every ``rag`` command shares: the consoles, the common options, settings from flags, logging.

Here, not in ``rag.app.cli``, so that the commands of other packages (``ui.cli``, ``eval.cli``) take them
without importing the CLI that finds them (``rag.app.commands``).
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from rag.errors import literal
from rag.settings import Settings

# emoji=False: a report's ":x:" prints as ":x:", never as an emoji (text from reports is printed literally)
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

K = Annotated[int | None, typer.Option("--k", "-k", help="Paragraphs to retrieve.")]
IndexDir = Annotated[Path | None, typer.Option("--index-dir", help="Index directory (RAG_INDEX__INDEX_DIR).")]
Preset = Annotated[str | None, typer.Option(
    "--preset", help="Settings preset: default, fast, thorough, lenient, or yours in ~/.config/rag/presets.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log each stage.")]
Docs = Annotated[list[str] | None, typer.Option(
    "--doc", help="Only this report: its file name or path, a case-insensitive glob ('002*', '*.pdf'); repeat "
                  "for more.")]
Since = Annotated[datetime | None, typer.Option(
    "--since", formats=["%Y-%m-%d"], help="Only reports dated on or after this day (YYYY-MM-DD); reports "
                                          "without a date are left out.")]
Until = Annotated[datetime | None, typer.Option(
    "--until", formats=["%Y-%m-%d"], help="Only reports dated on or before this day (YYYY-MM-DD); reports "
                                          "without a date are left out.")]
LLMBackend = Annotated[str | None, typer.Option(
    "--llm", help="auto, ollama, embedded or openai (an OpenAI-compatible server at RAG_LLM__BASE_URL).")]
Model = Annotated[str | None, typer.Option(
    "--model", help="Model name on the Ollama or OpenAI-compatible server (RAG_LLM__OLLAMA_MODEL, "
    "RAG_LLM__OPENAI_MODEL).")]

# Loggers that speak even without --verbose: what long work is happening, which backend answered and why.
PROGRESS_LOGGERS = ("rag.llm.factory", "rag.llm.gguf", "rag.pipeline", "rag.resources", "rag.indexing",
                    "rag.background", "rag.app.watch", "embeddings.onnx_backend")


def settings_from_flags(preset: str | None = None, **sections: dict[str, Any]) -> Settings:
    """Settings from the environment, overridden by the flags actually given (``retrieval={"k": k}``)."""
    given = {name: {key: value for key, value in fields.items() if value is not None}
             for name, fields in sections.items()}
    return Settings(**{name: fields for name, fields in given.items() if fields},
                    **({} if preset is None else {"preset": preset}))


def llm_flags(backend: str | None, model: str | None, **more: object) -> dict[str, object]:
    """The ``llm`` section from ``--llm`` and ``--model``: the model is named for whichever server answers."""
    return {"backend": backend, "ollama_model": model, "openai_model": model, **more}


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="[%(levelname)s] %(message)s",
                        stream=sys.stderr, force=True)
    if not verbose:
        for name in PROGRESS_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)


def snippet(text: str, width: int = 160) -> str:
    """One line of ``text``, printable as is, cut at a word near ``width`` characters."""
    flat = literal(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1].rsplit(" ", 1)[0] + "…"

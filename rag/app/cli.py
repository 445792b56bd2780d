"""The ``rag`` command line.

Examples::

    rag ask "What did Operation Sentinel seize?"        # streams the answer, then lists its sources
    rag ask --json "What did Operation Sentinel seize?"
    rag ask --llm ollama --model qwen2.5:3b "Who is Andrei Belyaninov?"
    RAG_LLM__BASE_URL=http://localhost:8080/v1 rag ask --llm openai "Who is Andrei Belyaninov?"
    rag index ~/reports                                  # (re)index a folder, only changed files re-embedded
    rag index ~/reports --watch                          # ... and keep following it until Ctrl-C
    rag index --exclude old.pdf                          # leave a report out (its file stays); --include undoes it
    rag reports                                          # the reports in the index, and the excluded ones
    rag search "drug seizures in Central Asia" --k 5     # retrieval only, no LLM
    rag ask --doc "002*" --since 2009-01-01 "What did Operation Sentinel seize?"   # only some reports
    rag serve --port 7860                                # the chat in the browser (also: python -m ui)

Every error is one line on stderr and a non-zero exit. ``serve`` and ``eval`` are defined by their packages
(``ui.cli``, ``eval.cli``) and found through ``rag.app.commands``; the shared options are ``rag.app.options``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.live import Live
from rich.text import Text

from embeddings import EmbedderUnavailable
from rag.app.commands import CommandGroup
from rag.app.options import (
    Docs,
    IndexDir,
    K,
    LLMBackend,
    Model,
    Preset,
    Since,
    Until,
    Verbose,
    err,
    llm_flags,
    out,
    settings_from_flags,
    snippet,
)
from rag.app.options import configure_logging as _logging  # the name tests patch
from rag.app.reports import excluded_reports, list_reports
from rag.app.watch import follow
from rag.errors import RagError, literal
from rag.index_changes import IndexChange, include_command
from rag.pipeline import Pipeline
from rag.store.base import FILES
from rag.store.factory import store_named
from rag.store.index import SegmentedIndex
from rag.types import Scope

# cls: `serve` and `eval` come from their packages, through rag.app.commands (rag imports neither ui nor eval)
app = typer.Typer(cls=CommandGroup, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Ask questions about a folder of reports; every answer cites its paragraphs.")


def _fail(message: str, code: int) -> None:
    """Errors are printed plainly: exactly one line, whatever the terminal width, with no terminal control
    (an argument holding ESC or a newline is shown escaped)."""
    print(f"error: {' '.join(literal(message, lines=False).split())}", file=sys.stderr)
    sys.exit(code)


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        print(f"rag {version('rag-reports')}")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                   help="Print the version and exit.")] = False) -> None:
    """Ask questions about a folder of reports; every answer cites its paragraphs."""

@app.command()
def index(
    path: Annotated[Path | None, typer.Argument(help="Folder of reports (default: the configured corpus).")] = None,
    index_dir: IndexDir = None,
    index_type: Annotated[str | None, typer.Option(
        help="auto (by segment size), a faiss.index_factory string for every segment, e.g. Flat, HNSW32, or "
             "milvus (rows in Milvus at RAG_INDEX__URI; empty: Milvus Lite in the index folder).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Verify every file of the index by checksum; "
                                                        "change nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Build into a folder that holds files but no valid "
                                                        "index.")] = False,
    compact: Annotated[bool, typer.Option("--compact", help="Merge all segments into one, dropping deleted "
                                                            "rows (done by itself when there are too many).")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if any file was skipped.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Then keep following the folder: index each batch of "
                                                        "changes as it comes, until Ctrl-C.")] = False,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", metavar="NAME", help="Leave this report out of the index from now on; its file is not "
                                          "touched (repeatable; `rag reports` lists the names).")] = None,
    include: Annotated[list[str] | None, typer.Option(
        "--include", metavar="NAME", help="Bring an excluded report back (repeatable).")] = None,
    verbose: Verbose = False,
) -> None:
    """Build, update or repair the index; unchanged files are not re-embedded.

    A file that cannot be indexed (name, encoding, link outside the folder, broken PDF) is
    skipped with one warning line; the rest is indexed. Exit 1 only when nothing could be
    indexed, or with ``--strict`` when anything was skipped. A damaged index is repaired,
    re-embedding only what fails its checksum. Examples: ``rag index ~/reports``;
    ``rag index --check``; ``rag index --compact``; ``rag index ~/reports --index-dir ./idx --force``;
    ``rag index ~/reports --watch``; ``rag index --exclude old.pdf``; ``rag index --include old.pdf``.
    """
    _logging(verbose)
    _refuse_clashes(check, watch, strict=strict, force=force, compact=compact, exclude=exclude, include=include)
    settings = settings_from_flags(index={"index_dir": index_dir, "index_type": index_type, "corpus_dir": path})
    if check:
        checked = SegmentedIndex.load(settings.resolved_index_dir(), verify=True)
        files = len(checked.manifest.files) + sum(len(s.files) for s in checked.manifest.segments)
        in_database = [s for s in checked.manifest.segments if s.store != FILES]
        out.print(literal(f"index at {settings.resolved_index_dir()} is intact: {len(checked.manifest.documents)} "
                          f"documents, {checked.paragraph_count} paragraphs in {len(checked.segments)} segment(s), "
                          + (f"{files} files match their checksums" if files else
                             f"the {store_named(in_database[0].store).label} rows of {len(in_database)} segment(s) "
                             "match the manifest's counts" if in_database else
                             "no checksums recorded (built by an older version; `rag index` records them)")),
                  markup=False, highlight=False)
        return
    pipeline = Pipeline(settings, progress=True)
    change = IndexChange.of(exclude=exclude or (), include=include or ())
    if watch:
        follow(pipeline, settings.resolved_corpus_dir(), lambda line: out.print(literal(line), markup=False), change,
               complain=lambda line: err.print(literal(line, lines=False), markup=False), force=force, compact=compact)
        return
    report = pipeline.reindex(force=force, compact=compact, change=change)
    out.print(literal(report.summary()), markup=False, highlight=False)
    if report.excluded:
        out.print(literal(f"excluded (files left in place): {', '.join(report.excluded)}"), markup=False)
    if strict and report.skipped:
        raise typer.Exit(1)


def _refuse_clashes(check: bool, watch: bool, **given: object) -> None:
    """Flags ``rag index`` cannot honour together are a usage error (one line), never silently ignored."""
    if check and (clash := next((name for name, value in {"watch": watch, **given}.items() if value), None)):
        raise typer.BadParameter(f"it changes nothing, so it cannot be combined with --{clash}", param_hint="--check")
    if watch and given["strict"]:
        raise typer.BadParameter("it cannot be combined with --watch (a watch has no end to exit 1 at); run "
                                 "`rag index --strict` first, then watch", param_hint="--strict")


@app.command()
def reports(index_dir: IndexDir = None, verbose: Verbose = False) -> None:
    """List the reports in the index (name, date, paragraphs, pages, uploaded through the page) and the
    excluded ones. ``rag index --exclude NAME`` leaves one out, ``rag index --include NAME`` brings it back."""
    _logging(verbose)
    where = settings_from_flags(index={"index_dir": index_dir}).resolved_index_dir()
    manifest = SegmentedIndex.read_manifest(where)
    for report in list_reports(manifest):
        facts = [report.date or "no date", f"{report.paragraphs} ¶"] + [f"{report.pages} pages"] * bool(report.pages)
        out.print(literal(f"{report.name}  ({', '.join(facts)}{', uploaded' * report.uploaded})  {report.title}",
                          lines=False), markup=False, highlight=False)
    for name in excluded_reports(manifest):
        bring_back = include_command(manifest.corpus_root, name, where)
        out.print(literal(f"{name}  (excluded: `{bring_back}` brings it back)", lines=False), markup=False,
                  highlight=False)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: K = None,
    doc: Docs = None,
    since: Since = None,
    until: Until = None,
    index_dir: IndexDir = None,
    verbose: Verbose = False,
) -> None:
    """Show the paragraphs that best match QUERY, without calling an LLM.

    ``--doc`` / ``--since`` / ``--until`` search only some reports: ``rag search "seizures" --doc "002*"``.
    """
    _logging(verbose)
    scope = Scope.or_none(doc, since, until)
    pipeline = Pipeline(settings_from_flags(retrieval={"k": k}, index={"index_dir": index_dir}), progress=True)
    for rank, hit in enumerate(pipeline.retrieve(query, scope=scope), 1):
        out.print(f"{rank}. {hit.score:.3f}  {literal(hit.label(), lines=False)}: "
                  f"\"{snippet(hit.paragraph.text)}\"", markup=False, highlight=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A question about the reports.")],
    k: K = None,
    doc: Docs = None,
    since: Since = None,
    until: Until = None,
    llm: LLMBackend = None,
    model: Model = None,
    gguf: Annotated[Path | None, typer.Option("--gguf", help="GGUF file for the embedded backend.")] = None,
    index_dir: IndexDir = None,
    preset: Preset = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    verbose: Verbose = False,
) -> None:
    """Answer QUESTION from the reports, citing the paragraphs it rests on.

    ``--doc`` (repeatable, a glob over file names and paths) and ``--since`` / ``--until`` (YYYY-MM-DD, the
    report's date) limit the answer to some reports: ``rag ask --doc "002*" --since 2009-01-01 "..."``.
    """
    _logging(verbose)
    scope = Scope.or_none(doc, since, until)
    settings = settings_from_flags(retrieval={"k": k}, llm=llm_flags(llm, model, gguf_path=gguf),
                                   index={"index_dir": index_dir}, preset=preset)
    pipeline = Pipeline(settings, progress=not as_json)
    if as_json:
        print(json.dumps(pipeline.ask(question, scope=scope).to_dict(), ensure_ascii=False, indent=2))
        return
    stream = pipeline.stream(question, scope=scope)
    raw = ""
    with Live(Text(""), console=out, transient=True, auto_refresh=False) as live:
        for delta in stream:
            raw += delta
            live.update(Text(literal(raw)), refresh=True)
    answer = stream.result
    assert answer is not None
    if answer.evidence_first:  # the evidence first: the exact sentences, then the answer
        for number, citation in enumerate(answer.citations, 1):
            quote = literal(" ".join(citation.quote.split()))  # whole: it may be all of the answer
            out.print(f"[{number}] \u201c{quote}\u201d ({literal(citation.label(), lines=False)})",
                      markup=False, highlight=False)
        if not answer.quoted:
            out.print()
    if not answer.quoted:  # else the quotes above are the whole answer
        out.print(Text(literal(answer.text)))
    if answer.refused:
        out.print("[yellow](not found in the reports)[/yellow]")
    for claim in answer.claims:
        if claim.kind == "claim" and not claim.supported:
            out.print(Text(f"⚠ not verified, no cited paragraph holds it: {literal(claim.plain)}", style="yellow"))
    if answer.citations and not answer.evidence_first:
        out.print()
        for number, citation in enumerate(answer.citations, 1):
            shown = citation.quote or citation.text  # the sentence that supports the claim
            out.print(f"[{number}] {literal(citation.label(), lines=False)}: \"{snippet(shown, 200)}\"",
                      markup=False, highlight=False)


def _usage_hint(exc: typer.TyperException) -> str:
    """" (see `rag ask --help`)" for a usage error inside a command; "" elsewhere."""
    context = getattr(exc, "ctx", None)
    return f" (see `{context.command_path} --help`)" if context is not None and context.command_path else ""


def main() -> None:
    """Console-script entry point: one-line errors, non-zero exit codes."""
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n
        if isinstance(code, int) and code:
            sys.exit(code)
    except (RagError, EmbedderUnavailable) as exc:
        _fail(str(exc), 1)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        _fail(f"invalid setting {where}: {first['msg']}", 2)
    except typer.TyperException as exc:  # usage errors (typer's own click): its message, one line, exit 2
        hint = _usage_hint(exc)
        _fail(f"{exc.format_message()}{hint}", exc.exit_code)
    except (typer.Exit, typer.Abort) as exc:
        sys.exit(getattr(exc, "exit_code", 1))
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # last resort: still one line, traceback on request
        if os.environ.get("RAG_DEBUG"):
            raise
        _fail(f"unexpected {type(exc).__name__}: {snippet(str(exc), 300)} (set RAG_DEBUG=1 for the traceback)", 1)


if __name__ == "__main__":
    main()

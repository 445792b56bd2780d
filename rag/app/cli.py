"""The ``rag`` command line.

Examples::

    rag ask "What did Operation Sentinel seize?"        # streams the answer, then lists its sources
    rag ask --json "What did Operation Sentinel seize?"
    rag ask --llm ollama --model qwen2.5:3b "Who is Andrei Belyaninov?"
    rag index ~/reports                                  # (re)index a folder, only changed files re-embedded
    rag search "drug seizures in Central Asia" --k 5     # retrieval only, no LLM
    rag serve --port 7860                                # the chat in the browser (also: python -m ui)

Every error is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.text import Text

from embeddings import EmbedderUnavailable
from rag.errors import RagError, literal
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.store.index import FaissIndex

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Ask questions about a folder of reports; every answer cites its paragraphs.")
# emoji=False: a report's ":x:" prints as ":x:", never as an emoji (text from reports is printed literally)
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


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

K = Annotated[int | None, typer.Option("--k", "-k", help="Paragraphs to retrieve.")]
IndexDir = Annotated[Path | None, typer.Option("--index-dir", help="Index directory (RAG_INDEX__INDEX_DIR).")]
Preset = Annotated[str | None, typer.Option(
    "--preset", help="Settings preset: default, fast, thorough, lenient, or yours in ~/.config/rag/presets.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log each stage.")]


def _settings(preset: str | None = None, **sections: dict[str, Any]) -> Settings:
    """Settings from the environment, overridden by the flags actually given (``retrieval={"k": k}``)."""
    given = {name: {key: value for key, value in fields.items() if value is not None}
             for name, fields in sections.items()}
    return Settings(**{name: fields for name, fields in given.items() if fields},
                    **({} if preset is None else {"preset": preset}))


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="[%(levelname)s] %(message)s",
                        stream=sys.stderr, force=True)
    if not verbose:  # still say what long work is happening, which backend answered and why
        for name in ("rag.llm.factory", "rag.llm.gguf", "rag.pipeline", "rag.resources", "rag.indexing",
                     "rag.background", "embeddings.onnx_backend"):
            logging.getLogger(name).setLevel(logging.INFO)


def _snippet(text: str, width: int = 160) -> str:
    flat = literal(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1].rsplit(" ", 1)[0] + "…"


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
    verbose: Verbose = False,
) -> None:
    """Build, update or repair the index; unchanged files are not re-embedded.

    A file that cannot be indexed (name, encoding, link outside the folder, broken PDF) is
    skipped with one warning line; the rest is indexed. Exit 1 only when nothing could be
    indexed, or with ``--strict`` when anything was skipped. A damaged index is repaired,
    re-embedding only what fails its checksum. Examples: ``rag index ~/reports``;
    ``rag index --check``; ``rag index --compact``; ``rag index ~/reports --index-dir ./idx --force``.
    """
    _logging(verbose)
    settings = _settings(index={"index_dir": index_dir, "index_type": index_type, "corpus_dir": path})
    if check:
        checked = FaissIndex.load(settings.resolved_index_dir(), verify=True)
        files = len(checked.manifest.files) + sum(len(s.files) for s in checked.manifest.segments)
        in_milvus = sum(s.store == "milvus" for s in checked.manifest.segments)
        out.print(literal(f"index at {settings.resolved_index_dir()} is intact: {len(checked.manifest.documents)} "
                          f"documents, {checked.paragraph_count} paragraphs in {len(checked.segments)} segment(s), "
                          + (f"{files} files match their checksums" if files else
                             f"the Milvus rows of {in_milvus} segment(s) match the manifest's counts" if in_milvus else
                             "no checksums recorded (built by an older version; `rag index` records them)")),
                  markup=False, highlight=False)
        return
    report = Pipeline(settings, progress=True).reindex(force=force, compact=compact)
    out.print(literal(report.summary()), markup=False, highlight=False)
    if strict and report.skipped:
        raise typer.Exit(1)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: K = None,
    index_dir: IndexDir = None,
    verbose: Verbose = False,
) -> None:
    """Show the paragraphs that best match QUERY, without calling an LLM."""
    _logging(verbose)
    pipeline = Pipeline(_settings(retrieval={"k": k}, index={"index_dir": index_dir}), progress=True)
    pipeline.ensure_index()  # a fresh checkout indexes its bundled sample first; any other missing index: one line
    for rank, hit in enumerate(pipeline.retrieve(query), 1):
        out.print(f"{rank}. {hit.score:.3f}  {literal(hit.label(), lines=False)}: "
                  f"\"{_snippet(hit.paragraph.text)}\"", markup=False, highlight=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A question about the reports.")],
    k: K = None,
    llm: Annotated[str | None, typer.Option("--llm", help="auto, ollama or embedded.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Ollama model name (RAG_LLM__OLLAMA_MODEL).")] = None,
    gguf: Annotated[Path | None, typer.Option("--gguf", help="GGUF file for the embedded backend.")] = None,
    index_dir: IndexDir = None,
    preset: Preset = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    verbose: Verbose = False,
) -> None:
    """Answer QUESTION from the reports, citing the paragraphs it rests on."""
    _logging(verbose)
    settings = _settings(retrieval={"k": k}, llm={"backend": llm, "ollama_model": model, "gguf_path": gguf},
                         index={"index_dir": index_dir}, preset=preset)
    pipeline = Pipeline(settings, progress=not as_json)
    pipeline.ensure_index()  # a fresh checkout indexes its bundled sample first; any other missing index: one line
    if as_json:
        print(json.dumps(pipeline.ask(question).to_dict(), ensure_ascii=False, indent=2))
        return
    stream = pipeline.stream(question)
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
            out.print(f"[{number}] {literal(citation.label(), lines=False)}: \"{_snippet(shown, 200)}\"",
                      markup=False, highlight=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (RAG_UI__HOST, default 127.0.0.1).")]
    = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (RAG_UI__PORT, default 7860).")] = None,
    auth: Annotated[str | None, typer.Option("--auth", help="Require a login: user:password (RAG_UI__AUTH).")]
    = None,
    k: K = None,
    llm: Annotated[str | None, typer.Option("--llm", help="auto, ollama or embedded.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Ollama model name (RAG_LLM__OLLAMA_MODEL).")] = None,
    index_dir: IndexDir = None,
    corpus: Annotated[Path | None, typer.Option("--corpus", help="Folder of reports; uploads are saved there.")]
    = None,
    allow_uploads: Annotated[bool | None, typer.Option(
        "--allow-uploads/--no-uploads", help="Let the page add files to the corpus (RAG_UI__ALLOW_UPLOADS; default: on "
        "for a loopback --host or with --auth, off otherwise).", show_default=False)] = None,
    preset: Preset = None,
    verbose: Verbose = False,
) -> None:
    """Open the chat in the browser: streamed, cited answers, a source viewer and uploads.

    Examples: ``rag serve`` (http://127.0.0.1:7860); ``rag serve --port 8080 --auth me:secret``;
    ``rag serve --corpus ~/reports --llm ollama --model qwen2.5:3b``. ``python -m ui`` takes the same options.
    """
    from ui.serve import serve as serve_ui  # Gradio loads only for this command

    _logging(verbose)
    logging.getLogger("ui").setLevel(logging.INFO)
    serve_ui(_settings(ui={"host": host, "port": port, "auth": auth, "allow_uploads": allow_uploads},
                       retrieval={"k": k}, llm={"backend": llm, "ollama_model": model},
                       index={"index_dir": index_dir, "corpus_dir": corpus}, preset=preset))


def _llm_flags(spec: str | None) -> dict[str, Any]:
    """``--llm BACKEND[/MODEL]``, the ``llm`` section: "embedded", "ollama/qwen2.5:3b", "embedded//path/model.gguf"."""
    if not spec:
        return {}
    backend, _, model = spec.partition("/")
    if not model:
        return {"backend": backend}
    return {"backend": backend, ("gguf_path" if backend == "embedded" else "ollama_model"): model}


Bound = Annotated[float | None, typer.Option(min=0.0, max=1.0, show_default=False)]


@app.command("eval")
def eval_(
    eval_set: Annotated[str | None, typer.Option("--set", help="customs-reports (default), customs-pdf, "
                                                  "squad2-normans, or a JSONL path.")] = None,
    corpus: Annotated[Path | None, typer.Option("--corpus", help="Corpus to evaluate (default: configured).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where results.json, report.md and metrics.png go.")]
    = Path("eval-results"),
    k: K = None,
    llm: Annotated[str | None, typer.Option("--llm", help="BACKEND\\[/MODEL], e.g. embedded, ollama/qwen2.5:3b.")]
    = None,
    retrieval_only: Annotated[bool, typer.Option("--retrieval-only", help="Score retrieval only: no LLM.")] = False,
    category: Annotated[list[str] | None, typer.Option("--category", help="Only this category (repeatable).")]
    = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N questions.")] = None,
    per_category: Annotated[int | None, typer.Option("--per-category", min=1,
                                                     help="Only the first N questions of each category.")] = None,
    index_dir: IndexDir = None,
    preset: Preset = None,
    min_recall_at_5: Bound = None,
    min_mrr: Bound = None,
    min_fact_accuracy: Bound = None,
    min_citation_precision: Bound = None,
    min_citation_recall: Bound = None,
    min_refusal_accuracy: Bound = None,
    max_false_refusal_rate: Bound = None,
    max_hallucinated_citation_rate: Bound = None,
    verbose: Verbose = False,
) -> None:
    """Score retrieval, facts, citations, refusals and latency on an eval set; exit 1 if a threshold is missed.

    Examples: ``rag eval --retrieval-only --min-recall-at-5 0.9``; ``rag eval --llm ollama/qwen2.5:3b``;
    ``rag eval --set squad2-normans``; ``rag eval --set my_questions.jsonl --corpus ~/reports --out my-eval``.
    """
    from eval import Threshold, evaluate, load_eval_set, resolve_set, select  # only this command needs it

    _logging(verbose)
    set_path, set_corpus = resolve_set(eval_set)
    questions = select(load_eval_set(set_path), category, per_category, limit)
    if not questions:
        raise typer.BadParameter(f"no question in the set has category {', '.join(category or [])}")
    if corpus is None and eval_set is not None and set_corpus is not None and \
            set_corpus.resolve() != Settings().resolved_corpus_dir():
        corpus = set_corpus  # a bundled set runs on the corpus it was written for
    if corpus is not None and index_dir is None:
        index_dir = out / "index"  # never rebuild the user's own index for another corpus
    settings = _settings(retrieval={"k": k}, index={"corpus_dir": corpus, "index_dir": index_dir}, llm=_llm_flags(llm),
                         preset=preset)
    pipeline = Pipeline(settings, progress=True)
    if corpus is not None:  # a named corpus is indexed first (only what changed); otherwise the index is only read
        pipeline.reindex()
    else:  # (a fresh checkout indexes its bundled sample first)
        pipeline.ensure_index()
    given = {"recall@5": min_recall_at_5, "mrr": min_mrr, "fact_accuracy": min_fact_accuracy,
             "citation_precision": min_citation_precision, "citation_recall": min_citation_recall,
             "refusal_accuracy": min_refusal_accuracy}
    thresholds = [Threshold(metric, bound) for metric, bound in given.items() if bound is not None]
    thresholds += [Threshold(metric, bound, minimum=False) for metric, bound in
                   (("false_refusal_rate", max_false_refusal_rate),
                    ("hallucinated_citation_rate", max_hallucinated_citation_rate)) if bound is not None]
    missed = evaluate(pipeline, questions, out, set_path=set_path, k=k,
                      retrieval_only=retrieval_only, thresholds=thresholds, console=err)
    if missed:
        raise typer.Exit(1)


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
        _fail(f"unexpected {type(exc).__name__}: {_snippet(str(exc), 300)} (set RAG_DEBUG=1 for the traceback)", 1)


if __name__ == "__main__":
    main()

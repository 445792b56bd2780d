"""``rag eval``: the eval's command, found by ``rag`` through ``rag.app.commands`` (``rag`` never imports ``eval``).

Example::

    rag eval --retrieval-only --min-recall-at-5 0.9
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from eval.evalset import load_eval_set, resolve_set, select
from eval.session import evaluate
from eval.thresholds import Threshold
from rag.app.options import IndexDir, K, Preset, Verbose, configure_logging, err, settings_from_flags
from rag.pipeline import Pipeline
from rag.settings import Settings


def _llm_flags(spec: str | None) -> dict[str, Any]:
    """``--llm BACKEND[/MODEL]``, the ``llm`` section: "embedded", "ollama/qwen2.5:3b", "embedded//path/model.gguf",
    "openai/Qwen/Qwen2.5-3B-Instruct" (the model name on the OpenAI-compatible server)."""
    if not spec:
        return {}
    backend, _, model = spec.partition("/")
    if not model:
        return {"backend": backend}
    field = {"embedded": "gguf_path", "openai": "openai_model"}.get(backend, "ollama_model")
    return {"backend": backend, field: model}


Bound = Annotated[float | None, typer.Option(min=0.0, max=1.0, show_default=False)]


def eval_command(
    eval_set: Annotated[str | None, typer.Option("--set", help="customs-reports (default), customs-pdf, "
                                                  "squad2-normans, or a JSONL path.")] = None,
    corpus: Annotated[Path | None, typer.Option("--corpus", help="Corpus to evaluate (default: configured).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where results.json, report.md and metrics.png go.")]
    = Path("eval-results"),
    k: K = None,
    llm: Annotated[str | None, typer.Option("--llm", help="BACKEND\\[/MODEL], e.g. embedded, ollama/qwen2.5:3b, "
                                                    "openai/MODEL.")]
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
    configure_logging(verbose)
    set_path, set_corpus = resolve_set(eval_set)
    questions = select(load_eval_set(set_path), category, per_category, limit)
    if not questions:
        raise typer.BadParameter(f"no question in the set has category {', '.join(category or [])}")
    if corpus is None and eval_set is not None and set_corpus is not None and \
            set_corpus.resolve() != Settings().resolved_corpus_dir():
        corpus = set_corpus  # a bundled set runs on the corpus it was written for
    if corpus is not None and index_dir is None:
        index_dir = out / "index"  # never rebuild the user's own index for another corpus
    settings = settings_from_flags(retrieval={"k": k}, index={"corpus_dir": corpus, "index_dir": index_dir},
                                   llm=_llm_flags(llm), preset=preset)
    pipeline = Pipeline(settings, progress=True)
    if corpus is not None:  # a named corpus is indexed first (only what changed); otherwise the index is only read
        pipeline.reindex()  # (or, on a fresh checkout, the bundled sample is built: ``evaluate`` calls ensure_index)
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

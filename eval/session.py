"""One eval run end to end: check the set against the index, answer with progress, write and judge.

This is what ``rag eval`` calls. Example::

    from pathlib import Path
    from eval import Threshold, evaluate, load_eval_set
    from rag import Pipeline, Settings
    failures = evaluate(Pipeline(Settings()), load_eval_set(), Path("eval-results"),
                        retrieval_only=True, thresholds=[Threshold("recall@5", 0.9)])
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from eval.evalset import EvalQuestion, EvalSetError, missing_evidence, unsupported_facts
from eval.report import (
    language_table,
    latency_lines,
    refusal_tradeoff,
    summary_table,
    write_chart,
    write_markdown,
    write_results,
)
from eval.runner import QuestionResult, run_eval, summarise
from eval.thresholds import Threshold, check
from rag.pipeline import Pipeline


def _commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=False,
                              cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def _warning_or_worse(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


@contextlib.contextmanager
def _quiet_handlers() -> Iterator[None]:
    """While the progress bar draws, the log handlers print only warnings and errors: a line per answer
    would break the bar. It filters the handlers the application set up, not any module's logger, and
    takes the filter off again when the run ends."""
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(_warning_or_worse)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(_warning_or_worse)


def _context(pipeline: Pipeline, set_path: Path, questions: list[EvalQuestion], retrieval_only: bool,
             k: int | None) -> dict[str, Any]:
    s = pipeline.settings
    context: dict[str, Any] = {
        "eval_set": str(set_path), "questions": len(questions),
        "mode": "retrieval only" if retrieval_only else "full (retrieval + LLM answers)",
        "corpus": str(s.resolved_corpus_dir()), "index": str(s.resolved_index_dir()),
        "embedder": s.index.embedder, "retrieval": s.retrieval.mode, "k": k or s.retrieval.k,
        "attribution": s.citations.attribution,
        "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": _commit(),
    }
    if not retrieval_only:
        llm = pipeline.llm.llm  # loads it now, so its load time is not charged to the first question
        context["llm"] = f"{llm.backend} / {llm.model}"
        a = s.abstention
        context["abstention"] = {"min_coverage": a.min_coverage, "min_window_coverage": a.min_window_coverage,
                                 "min_source_coverage": a.min_source_coverage,
                                 "max_refusal_probability": a.max_refusal_probability,
                                 "check_type": a.check_answer_type, "term_similarity": a.term_similarity}
    return context


def evaluate(pipeline: Pipeline, questions: list[EvalQuestion], out: Path, *, set_path: Path,
             k: int | None = None, retrieval_only: bool = False, thresholds: list[Threshold] | None = None,
             console: Console | None = None) -> list[str]:
    """Run, print the summary, write results.json, report.md and metrics.png to ``out``.

    Returns the thresholds missed, one line each (empty: passed).
    """
    console = console or Console(stderr=True)
    index = pipeline.ensure_index()  # a fresh checkout indexes its bundled sample first
    missing = missing_evidence(questions, index)
    if missing:
        raise EvalSetError(f"{len(missing)} evidence paragraphs are not in the index "
                           f"(is the set meant for another corpus?); first: {missing[0]}")
    for problem in unsupported_facts(questions, index):
        console.print(f"[yellow]eval set warning:[/yellow] {problem}", markup=True, highlight=False)
    context = _context(pipeline, set_path, questions, retrieval_only, k)
    console.print(f"evaluating {len(questions)} questions, {context['mode']}"
                  + (f", answered by {context['llm']}" if "llm" in context else ""), highlight=False)

    started = time.perf_counter()
    with _quiet_handlers(), Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TextColumn("{task.fields[status]}"), console=console) as progress:
        task = progress.add_task("eval", total=len(questions), status="")
        correct = answered = 0

        def advance(result: QuestionResult) -> None:
            nonlocal correct, answered
            for name in ("fact_accuracy", "refusal_accuracy"):
                if result.scores.get(name) is not None:
                    answered += 1
                    correct += result.scores[name] == 1.0
            status = f"{result.id}" + (f"  right so far {correct}/{answered}" if answered else "")
            progress.update(task, advance=1, status=status)
            if not console.is_terminal:  # a log file (CI) gets no live bar: one line per question instead
                seconds = result.timings.get("total", sum(result.timings.values()))
                console.print(f"[{int(progress.tasks[task].completed)}/{len(questions)}] "
                              f"{'FAIL' if result.failed else 'ok  '} {result.id} ({seconds:.1f}s)", highlight=False)

        results = run_eval(pipeline, questions, k, retrieval_only, advance)
    context["seconds"] = round(time.perf_counter() - started, 1)

    summary = summarise(results)
    failures = check(summary, thresholds or [])
    context["thresholds"] = ", ".join(t.describe() for t in thresholds or []) or "none"
    out.mkdir(parents=True, exist_ok=True)
    paths = [write_results(out, context, summary, results), write_markdown(out, context, summary, results),
             write_chart(out, summary, f"{len(questions)} questions, {context['mode']}",
                         refusal_tradeoff(results, context.get("abstention")))]
    console.print(summary_table(summary))
    if (by_language := language_table(summary)) is not None:
        console.print(by_language)
    for line in latency_lines(summary):
        console.print(f"  {line}", highlight=False)
    console.print(f"{len(summary['failures'])} questions failed; {context['seconds']:.0f}s in all. "
                  f"Wrote {', '.join(str(p) for p in paths)}", highlight=False)
    for failure in failures:
        console.print(f"[red]threshold missed:[/red] {failure}", highlight=False)
    return failures

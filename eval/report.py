"""What an eval run leaves behind: ``results.json``, ``report.md``, ``metrics.png``, and a terminal table.

``results.json`` holds everything (context, summary, every question with its answer and
scores) so two runs can be compared later; the other two are views of it.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from rich.table import Table

from eval.runner import METRICS, QuestionResult
from rag.types import paragraph_label

# Metrics where lower is better; the others are better higher.
LOWER_IS_BETTER = {"hallucinated_citation_rate", "false_refusal_rate", "trap_rate"}
CHART_METRICS = ["recall@5", "mrr", "ndcg@10", "fact_accuracy", "citation_precision", "citation_recall",
                 "correct_citation_share", "refusal_accuracy", "false_refusal_rate"]


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _value(table: dict[str, Any], metric: str) -> float | None:
    entry = table.get(metric)
    return None if entry is None else entry["value"]


SHORT_NAMES = {"recall@1": "R@1", "recall@3": "R@3", "recall@5": "R@5", "recall@10": "R@10", "mrr": "MRR",
               "ndcg@10": "nDCG@10", "fact_accuracy": "facts", "citation_precision": "cite P",
               "citation_recall": "cite R", "correct_citation_share": "cite ok", "hallucinated_citation_rate": "halluc↓",
               "refusal_accuracy": "refuse", "false_refusal_rate": "false ref↓", "trap_rate": "trap↓",
               "related_citation_share": "ref cites", "entity_in_quote": "in quote", "utility": "utility"}


def summary_table(summary: dict[str, Any]) -> Table:
    """Overall and each category as rows, the measured metrics as (short-named) columns."""
    measured = [m for m in METRICS if m in summary["overall"]]
    table = Table(title=f"Eval: {summary['questions']} questions", title_justify="left",
                  caption="↓ lower is better; – not applicable", caption_justify="left")
    table.add_column("category (questions)", no_wrap=True)
    for metric in measured:
        table.add_column(SHORT_NAMES.get(metric, metric), justify="right", no_wrap=True)
    table.add_row(f"overall ({summary['questions']})", *[_fmt(_value(summary["overall"], m)) for m in measured],
                  style="bold", end_section=True)
    for category, data in summary["by_category"].items():
        table.add_row(f"{category} ({data['questions']})", *[_fmt(_value(data["metrics"], m)) for m in measured])
    return table


_PAIRS = ("Facts and refusals of the questions in each language; over the pairs (a translated question and the "
          "English one it translates, both in this run): translated / English.")
_LANGUAGE_COLUMNS = ("facts", "refusals", "false ref↓", "pairs", "facts (English)", "refusals (English)")


def _language_rows(summary: dict[str, Any]) -> list[list[str]]:
    """Per language: facts, refusals and false refusals of its questions; then, over the questions that translate
    one in the run, their facts and refusals against the English ones' ("0.80 / 0.80")."""
    rows = []
    def pair(data: dict[str, Any], metric: str) -> str:
        return f"{_fmt(_value(data['translated'], metric))} / {_fmt(_value(data['english'], metric))}"

    for language, data in summary.get("by_language", {}).items():
        own = [_fmt(_value(data["metrics"], m)) for m in ("fact_accuracy", "refusal_accuracy", "false_refusal_rate")]
        rows.append([f"{language} ({data['questions']})", *own, str(data["mirrored"]),
                     pair(data, "fact_accuracy"), pair(data, "refusal_accuracy")])
    return rows


def language_table(summary: dict[str, Any]) -> Table | None:
    """The questions in other languages by language (None when the run has none)."""
    rows = _language_rows(summary)
    if not rows:
        return None
    table = Table(title="By language: the translated questions, and the English ones they translate",
                  title_justify="left")
    table.add_column("language (questions)", no_wrap=True)
    for column in _LANGUAGE_COLUMNS:
        table.add_column(column, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def latency_lines(summary: dict[str, Any]) -> list[str]:
    lines = [f"{stage}: p50 {_fmt(v['p50'], 3)} s, p90 {_fmt(v['p90'], 3)} s"
             for stage, v in summary["latency_seconds"].items()]
    lines += [f"{name}: mean {v['mean']:.0f}, p50 {v['p50']:.0f}, p90 {v['p90']:.0f}"
              for name, v in summary["tokens"].items()]
    return lines


def write_results(out: Path, context: dict[str, Any], summary: dict[str, Any], results: list[QuestionResult]) -> Path:
    path = out / "results.json"
    data = {"context": context, "summary": summary, "questions": [r.to_dict() for r in results]}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def _markdown_table(summary: dict[str, Any]) -> list[str]:
    categories = summary["by_category"]
    head = ["metric", "overall"] + [f"{c} ({d['questions']})" for c, d in categories.items()]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for metric in METRICS:
        if metric in summary["overall"]:
            entry = summary["overall"][metric]
            cells = [metric + (" (lower is better)" if metric in LOWER_IS_BETTER else ""),
                     f"**{_fmt(entry['value'])}** (n={entry['n']})"]
            cells += [_fmt(_value(d["metrics"], metric)) for d in categories.values()]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def _failure(result: QuestionResult) -> list[str]:
    answer = result.answer or {}
    cited = ", ".join(paragraph_label(c["doc_id"], c["paragraph"], c.get("page"))
                      for c in answer.get("citations", [])) or "none"
    why = []
    if result.scores.get("refusal_accuracy") == 0.0:
        why.append("answered a question the reports do not answer")
    if result.scores.get("false_refusal_rate") == 1.0:
        why.append("refused an answerable question")
    elif result.missing_facts:
        why.append("missing " + "; ".join(" / ".join(group) for group in result.missing_facts))
    if result.forbidden_found:
        why.append("fell into the trap: " + ", ".join(result.forbidden_found))
    if result.scores.get("correct_citation_share") == 0.0:
        why.append("no correct citation")
    text = " ".join(answer.get("text", "").split())
    return [f"- **{result.id}** ({result.category}): {result.question}",
            f"  - why: {'; '.join(why)}",
            f"  - answer: {text}",
            f"  - cited: {cited}"]


def write_markdown(out: Path, context: dict[str, Any], summary: dict[str, Any], results: list[QuestionResult]
                   ) -> Path:
    failed = [r for r in results if r.failed]
    lines = [f"# Eval report: {context.get('eval_set', '')}", ""]
    lines += [f"- {key}: {value}" for key, value in context.items()]
    lines += ["", "## Metrics", "", *_markdown_table(summary)]
    if rows := _language_rows(summary):
        lines += ["", "## By language", "", _PAIRS, "", "| language (questions) | " + " | ".join(_LANGUAGE_COLUMNS) + " |",
                  "|" + "---|" * (len(_LANGUAGE_COLUMNS) + 1), *("| " + " | ".join(row) + " |" for row in rows)]
    lines += ["", "## Latency and tokens", ""]
    lines += [f"- {line}" for line in latency_lines(summary)]
    lines += ["", f"## Failures ({len(failed)})", ""]
    lines += [line for r in failed for line in _failure(r)] or ["None."]
    lines += ["", "![metrics](metrics.png)", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def refusal_tradeoff(results: list[QuestionResult], abstention: dict[str, Any] | None,
                     knob: str = "min_source_coverage") -> list[tuple[float, float, float]]:
    """(threshold, refusal accuracy, false refusal rate) as the ``knob`` threshold of the ``Abstainer`` moves from
    0 to 1 and the other settings stay as run; empty without answers or without both kinds of question."""
    from rag.answer.abstention import Abstainer, Evidence

    answered = [r for r in results if r.answer is not None]
    if not abstention or not any(r.answerable for r in answered) or all(r.answerable for r in answered):
        return []
    as_run = replace(Abstainer(0.0, 0.0), **{f.name: abstention[f.name] for f in fields(Abstainer)
                                             if f.name in abstention})
    points = []
    for step in range(21):
        moved: dict[str, Any] = {knob: step / 20}
        abstainer = replace(as_run, **moved)
        refused: dict[bool, list[bool]] = {True: [], False: []}
        for r in answered:
            assert r.answer is not None
            signals = r.answer.get("abstention") or {}
            refused[r.answerable].append(abstainer.refuses(Evidence.from_signals(signals)) if signals
                                         else bool(r.answer["refused"]))
        points.append((step / 20, sum(refused[False]) / len(refused[False]), sum(refused[True]) / len(refused[True])))
    return points


def write_chart(out: Path, summary: dict[str, Any], title: str,
                tradeoff: list[tuple[float, float, float]] | None = None) -> Path:
    """Overall metrics as bars, fact accuracy and recall@5 per category beside them, and (with answers to both
    kinds of question) refusal against false refusal as the abstention threshold moves."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display here, and none needed
    import matplotlib.pyplot as plt

    overall = [(m, _value(summary["overall"], m)) for m in CHART_METRICS]
    overall = [(m, v) for m, v in overall if v is not None]
    categories = list(summary["by_category"])
    figure, axes = plt.subplots(1, 3 if tradeoff else 2, figsize=(18 if tradeoff else 13, 5.2),
                                gridspec_kw={"width_ratios": [1, 1.2, 0.9] if tradeoff else [1, 1.2]})
    left, right = axes[0], axes[1]
    if tradeoff:
        curve = axes[2]
        curve.plot([p[2] for p in tradeoff], [p[1] for p in tradeoff], marker="o", markersize=3)
        for threshold, refusal, false_refusal in tradeoff[::5]:
            curve.annotate(f"{threshold:.2f}", (false_refusal, refusal), fontsize=7, xytext=(4, -8),
                           textcoords="offset points")
        curve.set_xlabel("false refusal rate (answerable questions refused)")
        curve.set_ylabel("refusal accuracy (unanswerable refused)")
        curve.set_xlim(-0.02, 1.02)
        curve.set_ylim(-0.02, 1.02)
        curve.set_title("trade-off as abstain_min_source_coverage moves")
        curve.grid(alpha=0.3)
    names = [m + (" ↓" if m in LOWER_IS_BETTER else "") for m, _ in overall]
    colours = ["#c0504d" if m in LOWER_IS_BETTER else "#4f81bd" for m, _ in overall]
    bars = left.barh(names[::-1], [v for _, v in overall][::-1], color=colours[::-1])
    left.bar_label(bars, fmt="%.2f", padding=3, fontsize=8)
    left.set_xlim(0, 1.12)
    left.set_title("overall")
    series = [m for m in ("recall@5", "fact_accuracy", "refusal_accuracy") if m in summary["overall"]]
    width = 0.8 / max(len(series), 1)
    for i, metric in enumerate(series):
        values = [_value(summary["by_category"][c]["metrics"], metric) for c in categories]
        positions = [j + i * width for j in range(len(categories))]
        right.bar(positions, [v if v is not None else 0 for v in values], width, label=metric)
    right.set_xticks([j + width * (len(series) - 1) / 2 for j in range(len(categories))])
    right.set_xticklabels([c.replace(" ", "\n") for c in categories], fontsize=8)
    right.set_ylim(0, 1.05)
    right.set_title("per category")
    right.legend(fontsize=8, loc="lower left")
    figure.suptitle(title)
    figure.tight_layout()
    path = out / "metrics.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path

"""Re-score a recorded eval run under the current citation post-processing, without the LLM.

The model's raw answers are in ``results.json``; only ``rag/citations.py`` runs again. This is
how a change to attribution or support checking is measured in seconds instead of half an hour.

Usage::

    .venv/bin/python bench/replay_citations.py eval-results/results.json [--min-support 0.5]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from eval import load_eval_set, select, summarise
from eval.report import summary_table
from eval.runner import QuestionResult, answer_scores
from rag import Pipeline, Settings
from rag.answer import Answer, Citation
from rag.citations import embedding_attributor, resolve_citations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--min-support", type=float, default=Settings().citation_min_support)
    parser.add_argument("--per-category", type=int, help="also summarise this stratified subset (CI uses 4)")
    args = parser.parse_args()
    data = json.loads(args.results.read_text(encoding="utf-8"))
    pipeline = Pipeline(Settings())
    attributor = embedding_attributor(pipeline.embedder)
    questions = {q.id: q for q in load_eval_set()}
    results = []
    for record in data["questions"]:
        result, recorded = QuestionResult(**record), record["answer"]
        sources = [Citation(doc, n, pipeline.index.paragraph(doc, n).text, 0.0) for doc, n in recorded["sources"]]
        resolved = resolve_citations(recorded["raw_text"], sources, attributor, pipeline.settings.attribution_min_similarity,
                                     recorded.get("search_question") or record["question"], args.min_support)
        answer = Answer(record["question"], resolved.text, resolved.refused, resolved.citations,
                        raw_text=recorded["raw_text"], dropped_markers=resolved.dropped_markers)
        scores, result.missing_facts, result.forbidden_found = answer_scores(questions[record["id"]], answer)
        result.scores.update(scores)
        results.append(result)
    console = Console(width=200)
    console.print(summary_table(summarise(results)))
    if args.per_category:
        chosen = {q.id for q in select(list(questions.values()), per_category=args.per_category)}
        console.print(summary_table(summarise([r for r in results if r.id in chosen])))


if __name__ == "__main__":
    main()

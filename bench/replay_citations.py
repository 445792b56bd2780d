"""Re-score a recorded eval run under the current citation checks and abstention, without the LLM.

The model's raw answers (and the refusal probability read from its logits) are in ``results.json``;
only ``rag/citations.py`` and the pipeline's evidence check run again, exactly as ``Pipeline`` runs
them. Generation is greedy, so a new full run of the same prompts gives these same numbers; this
takes seconds instead of half an hour.

Usage::

    .venv/bin/python bench/replay_citations.py eval-results/results.json [--preset lenient] [--per-category 4]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from eval import load_eval_set, resolve_set, select, summarise
from eval.report import summary_table
from eval.runner import QuestionResult, answer_scores
from rag import Pipeline, Settings
from rag.answer import Answer, Citation
from rag.citations import embedding_attributor, resolve_citations
from rag.index import FaissIndex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--preset", default="default", help="settings preset to replay under (e.g. lenient)")
    parser.add_argument("--per-category", type=int, help="also summarise this stratified subset (CI uses 4)")
    args = parser.parse_args()
    data = json.loads(args.results.read_text(encoding="utf-8"))
    set_path, _ = resolve_set(data["context"]["eval_set"])
    index_dir = Path(data["context"]["index"])
    pipeline = Pipeline(Settings(preset=args.preset, index_dir=index_dir))
    s = pipeline.settings
    index = FaissIndex.load(index_dir)
    attributor = embedding_attributor(pipeline.embedder)
    questions = {q.id: q for q in load_eval_set(set_path)}
    results = []
    for record in data["questions"]:
        result, recorded = QuestionResult(**record), record["answer"]
        sources = [Citation(doc, n, index.paragraph(doc, n).text, 0.0, index.document(doc).title,
                            index.document(doc).date) for doc, n in recorded["sources"]]
        asked = recorded.get("search_question") or record["question"]
        probability = (recorded.get("abstention") or {}).get("refusal_probability")
        resolved, _ = pipeline.verified(resolve_citations(recorded["raw_text"], sources, attributor,
                                                       s.attribution_min_similarity, asked, s.citation_min_support),
                                     asked, sources, lambda: probability)  # noqa: B023 (called at once)
        answer = Answer(record["question"], resolved.text, resolved.refused, resolved.citations,
                        raw_text=recorded["raw_text"], dropped_markers=resolved.dropped_markers,
                        claims=resolved.claims)
        scores, result.missing_facts, result.forbidden_found = answer_scores(questions[record["id"]], answer)
        result.scores = {k: v for k, v in result.scores.items() if k.startswith(("recall", "mrr", "ndcg"))} | scores
        results.append(result)
    console = Console(width=220)
    console.print(summary_table(summarise(results)))
    if args.per_category:
        chosen = {q.id for q in select(list(questions.values()), per_category=args.per_category)}
        console.print(summary_table(summarise([r for r in results if r.id in chosen])))


if __name__ == "__main__":
    main()

"""Re-score a recorded eval run under the current citation checks and abstention, without the LLM.

The model's raw answers (and the refusal probability read from its logits) are in ``results.json``;
only ``rag/answer/citations.py`` and the pipeline's evidence check run again, exactly as ``Pipeline`` runs
them. Generation is greedy, so a new full run of the same prompts gives these same numbers; this
takes seconds instead of half an hour.

Usage::

    .venv/bin/python bench/replay_citations.py eval-results/results.json [--preset lenient] [--per-category 4]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from eval import EvalQuestion, load_eval_set, resolve_set, select, summarise
from eval.report import summary_table
from eval.runner import QuestionResult, answer_scores
from rag import Pipeline, Settings
from rag.answer.citations import Resolved, resolve_citations
from rag.answer.extraction import choice_text, ground, with_best_sentence
from rag.llm.base import parse_choice
from rag.store.index import SegmentedIndex
from rag.types import Answer, Citation


@dataclass
class RecordedRun:
    """A recorded eval run with what replaying it needs: its set's questions and the index it searched."""

    data: dict[str, Any]
    set_path: Path
    questions: dict[str, EvalQuestion]
    index: SegmentedIndex

    @classmethod
    def load(cls, path: Path) -> RecordedRun:
        data = json.loads(path.read_text(encoding="utf-8"))
        set_path, _ = resolve_set(data["context"]["eval_set"])
        return cls(data, set_path, {q.id: q for q in load_eval_set(set_path)},
                   SegmentedIndex.load(Path(data["context"]["index"])))

    def sources(self, recorded: dict[str, Any]) -> list[Citation]:
        """The paragraphs shown to the model, with title and date as the pipeline's citations carry them."""
        document = self.index.document
        paragraph = self.index.paragraph
        return [Citation(doc, n, paragraph(doc, n).text, 0.0, document(doc).title, document(doc).date,
                         page=paragraph(doc, n).page) for doc, n in recorded["sources"]]


def resolve(recorded: dict[str, Any], sources: list[Citation], question: str, pipeline: Pipeline) -> Resolved:
    """The recorded answer through today's checks and ``pipeline.settings``.

    A recorded choice (extract mode) is grounded as ``Pipeline._extract`` grounds it: the prompt's sentences
    are numbered again (retrieval is deterministic), the model's choice is the first line of the raw text,
    the ranker's sentence joins it when ``citations.add_best_sentence`` is on, and what the model wrote is
    used only when ``citations.write_answer`` is (it was written from the model's choice alone). A written
    answer (write-first) goes through its markers."""
    settings, raw = pipeline.settings, recorded["raw_text"]
    if raw == choice_text([]):  # the model chose no sentence
        return Resolved(settings.prompts.refusal, [], True, 0, 0)
    if recorded.get("chosen"):
        prompt = pipeline.prompt_builder.run(question, pipeline.retriever.run(question, settings.retrieval.k, {}))
        by_id = {s.id: s for s in prompt.sentences}
        choice, _, written = raw.partition("\n")
        chosen = [by_id[i] for i in parse_choice(choice, list(by_id), settings.citations.max_evidence_sentences)]
        chosen = with_best_sentence(chosen, question, prompt.sentences, pipeline.embedder.encode,
                                    settings.citations.add_best_sentence, settings.citations.max_evidence_sentences)
        return ground(written if settings.citations.write_answer else "", chosen, prompt.sources, question,
                      refusal=settings.prompts.refusal, min_support=settings.citations.min_support)
    return resolve_citations(raw, sources, pipeline.resolver.attributor, settings.citations.attribution_min_similarity,
                             question, settings.citations.min_support, refusal=settings.prompts.refusal)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--preset", default="default", help="settings preset to replay under (e.g. lenient)")
    parser.add_argument("--per-category", type=int, help="also summarise this stratified subset (CI uses 4)")
    args = parser.parse_args()
    run = RecordedRun.load(args.results)
    pipeline = Pipeline(Settings(preset=args.preset, index={"index_dir": Path(run.data["context"]["index"])}))
    questions = run.questions
    results = []
    for record in run.data["questions"]:
        result, recorded = QuestionResult(**record), record["answer"]
        sources = run.sources(recorded)
        asked = recorded.get("search_question") or record["question"]
        probability = (recorded.get("abstention") or {}).get("refusal_probability")
        resolved, _ = pipeline.verifier.run(resolve(recorded, sources, asked, pipeline),
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

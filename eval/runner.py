"""Run an eval set through the same ``Pipeline`` that serves ``ask()``, and score every question.

Example::

    from eval import load_eval_set, run_eval, summarise
    from rag import Pipeline, Settings
    results = run_eval(Pipeline(Settings()), load_eval_set(), retrieval_only=True)
    print(summarise(results)["overall"]["recall@5"])
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from eval import metrics
from eval.evalset import EvalQuestion
from eval.matching import forbidden_found, missing_fact_groups
from rag.answer.citations import normalise_markers
from rag.pipeline import Pipeline
from rag.types import Answer, ParagraphKey

RETRIEVAL_DEPTH = 10  # recall@10 and nDCG@10 need the ten best paragraphs
RECALL_KS = (1, 3, 5, 10)
STAGES = ("translate", "embed", "search", "llm_first_token", "llm_total", "total")


@dataclass
class QuestionResult:
    id: str
    category: str
    question: str
    answerable: bool
    retrieved: list[ParagraphKey]  # the RETRIEVAL_DEPTH best paragraphs, best first
    scores: dict[str, float | None]  # metric name -> value, None where the metric does not apply
    timings: dict[str, float]
    answer: dict[str, Any] | None = None  # None in a retrieval-only run
    missing_facts: list[list[str]] = field(default_factory=list)
    forbidden_found: list[str] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    language: str | None = None  # the eval set's, for a question in another language than the reports'
    mirrors: str | None = None  # the id of the question it translates

    @property
    def failed(self) -> bool:
        """Wrong in a way a reader should look at: a missed fact, a wrong refusal, no correct citation."""
        wrong = ("fact_accuracy", "refusal_accuracy", "correct_citation_share")
        return any(self.scores.get(name) == 0.0 for name in wrong)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retrieval_scores(question: EvalQuestion, ranked: list[ParagraphKey]) -> dict[str, float | None]:
    if not question.evidence:
        return {}
    relevant = question.evidence_keys
    scores: dict[str, float | None] = {f"recall@{k}": metrics.recall_at_k(ranked, relevant, k) for k in RECALL_KS}
    scores["mrr"] = metrics.reciprocal_rank(ranked, relevant)
    scores["ndcg@10"] = metrics.ndcg_at_k(ranked, relevant, 10)
    return scores


_ENTITY = re.compile(r"(?<!^)(?<![.!?]\s)\b(?:[A-Z][\w'-]+|\d[\d.,]*)")


def entity_in_quote(answer: Answer) -> float | None:
    """Share of verified claims whose names and numbers (those not in the question) are all in their quote:
    the right paragraph cited for the wrong entity ("the Emscher" from a paragraph about the Ruhr) fails."""
    checked = []
    asked = set(_ENTITY.findall(answer.question))
    for claim in answer.claims:
        if claim.kind == "claim" and claim.supported and claim.quote:
            named = set(_ENTITY.findall(claim.plain)) - asked
            checked.append(all(name in claim.quote for name in named))
    return sum(checked) / len(checked) if checked else None


def answer_scores(question: EvalQuestion, answer: Answer) -> tuple[dict[str, float | None], list[list[str]], list[str]]:
    """Fact, citation and refusal scores of one answer, plus the fact groups it missed and the traps it fell in."""
    written = len(re.findall(r"\[\d+\]", normalise_markers(answer.raw_text)))
    if answer.chosen:  # extract mode: the ids of the model's choice are the markers it wrote (a grammar keeps them valid)
        written += len(re.findall(r"\[\d+\.\d+\]", answer.raw_text.partition("\n")[0]))
    scores: dict[str, float | None] = {
        "hallucinated_citation_rate": metrics.hallucinated_citation_rate(answer.dropped_markers, written)}
    cited = {c.key for c in answer.citations}
    if not question.answerable:
        scores["refusal_accuracy"] = float(answer.refused)
        scores["utility"] = metrics.utility(question.answerable, answer.refused, False)
        trapped = [] if answer.refused else forbidden_found(answer.text, question.forbidden)
        if question.forbidden:
            scores["trap_rate"] = float(bool(trapped))
        if question.related and answer.refused:
            scores["related_citation_share"] = float(bool(cited & {e.key for e in question.related}))
        return scores, [], trapped
    missing = question.facts if answer.refused else missing_fact_groups(answer.text, question.facts)
    trapped = forbidden_found(answer.text, question.forbidden)
    relevant = question.evidence_keys
    scores.update({
        "fact_accuracy": float(not answer.refused and not missing and not trapped),
        "citation_precision": metrics.citation_precision(cited, relevant),
        "citation_recall": metrics.citation_recall(cited, relevant),
        "correct_citation_share": metrics.has_correct_citation(cited, relevant),
        "false_refusal_rate": float(answer.refused),
        "entity_in_quote": entity_in_quote(answer),
        "utility": metrics.utility(True, answer.refused, not missing and not trapped),
    })
    return scores, missing, trapped


def _answer_record(answer: Answer) -> dict[str, Any]:
    return {
        "text": answer.text, "refused": answer.refused, "raw_text": answer.raw_text,
        "search_question": answer.search_question,
        "backend": answer.backend, "model": answer.model,
        "citations": [{"doc_id": c.doc_id, "paragraph": c.paragraph, "page": c.page, "quote": c.quote,
                       "attributed": c.attributed}
                      for c in answer.citations],
        "sources": [[s.doc_id, s.paragraph] for s in answer.sources],
        "chosen": [{"doc_id": c.doc_id, "paragraph": c.paragraph, "quote": c.quote} for c in answer.chosen],
        "dropped_markers": answer.dropped_markers, "unsupported_sentences": answer.unsupported_sentences,
        "claims": [asdict(c) for c in answer.claims],
        "abstention": answer.abstention,  # empty when the answer was refused before the evidence check
    }


def evaluate_question(pipeline: Pipeline, question: EvalQuestion, k: int | None, retrieval_only: bool
                      ) -> QuestionResult:
    """Scores of one question. With answers, retrieval is scored on what answering searched with
    (a question in another language is searched in English translation)."""
    answer = None if retrieval_only else pipeline.ask(question.question, k)
    timings: dict[str, float] = {}
    searched = (answer.search_question if answer else None) or question.question
    hits = pipeline.retrieve(searched, RETRIEVAL_DEPTH, timings)
    ranked = [hit.key for hit in hits]
    result = QuestionResult(question.id, question.category, question.question, question.answerable, ranked,
                            retrieval_scores(question, ranked), timings, language=question.language,
                            mirrors=question.mirrors)
    if answer is None:
        return result
    scores, result.missing_facts, result.forbidden_found = answer_scores(question, answer)
    result.scores.update(scores)
    result.answer = _answer_record(answer)
    result.timings = answer.timings  # the answering run's own stage timings
    result.prompt_tokens, result.completion_tokens = answer.prompt_tokens, answer.completion_tokens
    return result


def run_eval(pipeline: Pipeline, questions: list[EvalQuestion], k: int | None = None, retrieval_only: bool = False,
             on_result: Callable[[QuestionResult], None] | None = None) -> list[QuestionResult]:
    """Evaluate every question in order; ``on_result`` is called after each (for progress)."""
    results = []
    for question in questions:
        results.append(evaluate_question(pipeline, question, k, retrieval_only))
        if on_result:
            on_result(results[-1])
    return results


METRICS = [f"recall@{k}" for k in RECALL_KS] + [
    "mrr", "ndcg@10", "fact_accuracy", "citation_precision", "citation_recall", "correct_citation_share",
    "hallucinated_citation_rate", "refusal_accuracy", "false_refusal_rate", "trap_rate", "related_citation_share",
    "entity_in_quote", "utility"]


def _means(results: list[QuestionResult]) -> dict[str, dict[str, float | int | None]]:
    table: dict[str, dict[str, float | int | None]] = {}
    for name in METRICS:
        value, n = metrics.mean(r.scores.get(name) for r in results)
        if n:
            table[name] = {"value": value, "n": n}
    return table


def by_language(results: list[QuestionResult]) -> dict[str, Any]:
    """Per language of the questions in other languages: their metrics, and those of the questions they translate
    (the ones in this run), side by side."""
    by_id = {r.id: r for r in results}
    table = {}
    for language in sorted({r.language for r in results if r.language}):
        asked = [r for r in results if r.language == language]
        pairs = [(r, by_id[r.mirrors]) for r in asked if r.mirrors in by_id]
        table[language] = {"questions": len(asked), "metrics": _means(asked), "mirrored": len(pairs),
                           "translated": _means([p[0] for p in pairs]), "english": _means([p[1] for p in pairs])}
    return table


def summarise(results: list[QuestionResult]) -> dict[str, Any]:
    """Every metric overall and per category, stage latencies (p50, p90) and token counts."""
    categories = sorted({r.category for r in results})
    latency = {}
    for stage in STAGES:
        values = [r.timings.get(stage) for r in results]
        if any(v is not None for v in values):
            latency[stage] = {"p50": metrics.percentile(values, 50), "p90": metrics.percentile(values, 90)}
    tokens = {}
    for name in ("prompt_tokens", "completion_tokens"):
        values = [getattr(r, name) for r in results]
        mean, n = metrics.mean(values)
        if n:
            tokens[name] = {"mean": mean, "p50": metrics.percentile(values, 50), "p90": metrics.percentile(values, 90)}
    return {
        "questions": len(results),
        "overall": _means(results),
        "by_category": {c: {"questions": sum(r.category == c for r in results),
                            "metrics": _means([r for r in results if r.category == c])} for c in categories},
        "by_language": by_language(results),
        "latency_seconds": latency,
        "tokens": tokens,
        "failures": [r.id for r in results if r.failed],
    }

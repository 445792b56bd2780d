"""Metric definitions, one function each, per question; ``aggregate`` averages what is defined.

Paragraphs are compared as ``(doc_id, paragraph)`` keys, the citation key every chunk carries.
A function returns ``None`` where a metric does not apply to a question (for example
citation precision of an answer that cites nothing); such questions are left out of that
metric's mean, and the report says over how many questions each mean was taken.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from rag.query.retrieval import Key


# --- retrieval: ``ranked`` is the retrieved paragraphs, best first; ``relevant`` the evidence ---
def recall_at_k(ranked: Sequence[Key], relevant: set[Key], k: int) -> float:
    """Share of the evidence paragraphs found among the first ``k`` retrieved."""
    return len(relevant & set(ranked[:k])) / len(relevant)


def reciprocal_rank(ranked: Sequence[Key], relevant: set[Key]) -> float:
    """1 / rank of the first evidence paragraph retrieved (0 when none is); MRR is its mean."""
    return next((1.0 / rank for rank, key in enumerate(ranked, 1) if key in relevant), 0.0)


def ndcg_at_k(ranked: Sequence[Key], relevant: set[Key], k: int = 10) -> float:
    """Binary-relevance nDCG: DCG = sum over ranks i <= k of rel_i / log2(i + 1), divided by
    the DCG of the ideal ranking (every evidence paragraph first)."""
    dcg = sum(1.0 / math.log2(rank + 1) for rank, key in enumerate(ranked[:k], 1) if key in relevant)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


# --- citations: ``cited`` is the paragraphs the answer's [n] markers resolve to -----------------
def citation_precision(cited: set[Key], relevant: set[Key]) -> float | None:
    """Share of the cited paragraphs that are evidence; undefined when nothing is cited."""
    return len(cited & relevant) / len(cited) if cited else None


def citation_recall(cited: set[Key], relevant: set[Key]) -> float:
    """Share of the evidence paragraphs the answer cites (0 for a refusal)."""
    return len(cited & relevant) / len(relevant)


def has_correct_citation(cited: set[Key], relevant: set[Key]) -> float:
    """1 when at least one cited paragraph is evidence, else 0."""
    return float(bool(cited & relevant))


def hallucinated_citation_rate(dropped_markers: int, written_markers: int) -> float | None:
    """Share of the markers the model wrote that point at no source it was shown
    (``[7]`` with five sources); undefined when it wrote no marker."""
    return dropped_markers / written_markers if written_markers else None


# --- a careful analyst's utility ------------------------------------------------------------------
def utility(answerable: bool, refused: bool, correct: bool) -> float:
    """+1 for a right answer or a right refusal, 0 for a refused answerable question, -1 for a wrong answer or an
    answered unanswerable one (what ``bench/abstention.py`` maximises); its mean weighs both kinds of error."""
    if not answerable:
        return 1.0 if refused else -1.0
    return 0.0 if refused else (1.0 if correct else -1.0)


# --- aggregation ---------------------------------------------------------------------------------
def mean(values: Iterable[float | None]) -> tuple[float | None, int]:
    """Mean of the defined values and how many there were."""
    defined = [v for v in values if v is not None]
    return (sum(defined) / len(defined) if defined else None), len(defined)


def percentile(values: Iterable[float | None], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default) of the defined values."""
    defined = [v for v in values if v is not None]
    return float(np.percentile(defined, q)) if defined else None

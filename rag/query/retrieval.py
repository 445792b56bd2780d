"""Stage 4: question -> the k best paragraphs, one hit per paragraph.

Two rankings are fused by reciprocal rank (RRF): FAISS over the chunk vectors
(meaning, paraphrase) and BM25 over the paragraph texts (names, numbers, and
words the small multilingual-blind embedder misses). A paragraph's score is its
best cosine similarity to the question, so scores stay comparable across modes.

A question limited to some reports (``rag.types.Scope``: names, dates) is resolved once to their doc_ids,
and both rankings search only those (inside the index, so k hits still come back).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from embeddings import Embedder
from rag.documents.paragraphs import Paragraph
from rag.store.interface import IndexStore
from rag.types import ParagraphKey, Scope, paragraph_label

if TYPE_CHECKING:
    from rag.settings import RetrievalSettings

__all__ = ["DenseRanker", "Hit", "Key", "KeywordRanker", "RankFusion", "Ranker", "Retriever",
           "reciprocal_rank_fusion"]

Key = ParagraphKey


@dataclass(frozen=True)
class Hit:
    """A retrieved paragraph with its similarity and its document's metadata."""

    paragraph: Paragraph
    score: float  # best cosine similarity of the paragraph's chunks to the question
    title: str
    date: str | None
    focus: tuple[int, int] | None = None  # span (within the paragraph) of its best-matching chunk

    @property
    def doc_id(self) -> str:
        return self.paragraph.doc_id

    @property
    def number(self) -> int:
        """The paragraph's 1-based number in its document: with ``doc_id``, what a citation points at."""
        return self.paragraph.paragraph

    @property
    def page(self) -> int | None:
        """The page the paragraph starts on (PDF), None for formats without pages."""
        return self.paragraph.page

    @property
    def key(self) -> ParagraphKey:
        return self.paragraph.key

    def label(self) -> str:
        return paragraph_label(self.doc_id, self.number, self.page)


def reciprocal_rank_fusion(rankings: list[list[Key]], k: int = 60) -> list[Key]:
    scores: dict[Key, float] = defaultdict(float)
    for ranking in rankings:
        for rank, key in enumerate(ranking):
            scores[key] += 1.0 / (k + rank + 1)
    return sorted(scores, key=lambda key: -scores[key])


Allowed = frozenset[str] | None  # the doc_ids a search may return (``IndexStore.resolve``); None: all


class Ranker(Protocol):
    """One ranking of paragraphs for a question, best first; ``vector`` is the question's embedding."""

    def rank(self, question: str, vector: np.ndarray, limit: int, allowed: Allowed = None) -> list[Key]: ...


class DenseRanker:
    """FAISS over the chunk vectors: meaning and paraphrase. A paragraph ranks at its best chunk's place."""

    def __init__(self, index: IndexStore) -> None:
        self.index = index

    def rank(self, question: str, vector: np.ndarray, limit: int, allowed: Allowed = None) -> list[Key]:
        ranking: dict[Key, None] = {}
        for chunk, _ in self.index.search(vector, limit, allowed):
            ranking.setdefault(chunk.key)  # results are best-first; keep each paragraph's first place
        return list(ranking)


class KeywordRanker:
    """BM25 over title + paragraph text: names, numbers and words the small embedder misses.

    Each index segment saves its bm25s model, so no question ever rebuilds one (rag.store.faiss_files).
    """

    def __init__(self, index: IndexStore, depth: int = 50) -> None:
        self.index = index
        self.depth = depth  # at most this many candidates, however many the dense side asks for

    def rank(self, question: str, vector: np.ndarray, limit: int, allowed: Allowed = None) -> list[Key]:
        return self.index.keyword_search(question, min(limit, self.depth), allowed) if question else []


class RankFusion:
    """The joiner: several rankings -> one, by reciprocal rank (a larger ``k`` flattens it)."""

    def __init__(self, k: int = 60) -> None:
        self.k = k

    def run(self, rankings: list[list[Key]]) -> list[Key]:
        return rankings[0] if len(rankings) == 1 else reciprocal_rank_fusion(rankings, self.k)


class Retriever:
    """The retrieval component: the rankers of ``mode`` fused, then one scored ``Hit`` per paragraph."""

    def __init__(self, index: IndexStore, embedder: Embedder, mode: Literal["hybrid", "dense"] = "hybrid",
                 candidates: int = 50, rrf_k: int = 60) -> None:
        self.index = index
        self.embedder = embedder
        self.candidates = candidates
        self.rankers: list[Ranker] = [DenseRanker(index)]
        if mode == "hybrid":
            self.rankers.append(KeywordRanker(index, candidates))
        self.fusion = RankFusion(rrf_k)

    @classmethod
    def from_settings(cls, s: RetrievalSettings, index: IndexStore, embedder: Embedder) -> Retriever:
        return cls(index, embedder, s.mode, s.candidates, s.rrf_k)

    def warm_up(self) -> None:
        """Load the embedding model now rather than on the first question."""
        self.embed("warm up")

    def embed(self, question: str) -> np.ndarray:
        return self.embedder.encode([question])[0]

    def allowed(self, scope: Scope | None) -> Allowed:
        """The doc_ids ``scope`` lets a search return (None: all); ``NoMatchingReport`` when it matches none."""
        return None if scope is None or scope.everything else self.index.resolve(scope)

    def search_vector(self, vector: np.ndarray, k: int, question: str = "", allowed: Allowed = None) -> list[Hit]:
        limit = max(self.candidates, k * 4)
        order = self.fusion.run([ranker.rank(question, vector, limit, allowed) for ranker in self.rankers])
        hits = []
        for key in order[:k]:
            document = self.index.document(key.doc_id)
            paragraph = self.index.paragraph(*key)
            score, focus = self.index.best_chunk(key, vector, paragraph)
            hits.append(Hit(paragraph, score, document.title, document.date, focus))
        return hits

    def search(self, question: str, k: int, scope: Scope | None = None) -> list[Hit]:
        """The ``k`` best paragraphs for ``question``, from the reports inside ``scope`` (None: all)."""
        allowed = self.allowed(scope)  # before embedding: a scope that matches nothing costs nothing
        return self.search_vector(self.embed(question), k, question, allowed)

    def run(self, question: str, k: int, timings: dict[str, float], allowed: Allowed = None) -> list[Hit]:
        """``search`` within ``allowed`` (``allowed(scope)``), recording the seconds spent embedding and searching
        in ``timings``."""
        mark = time.perf_counter()
        vector = self.embed(question)
        timings["embed"] = time.perf_counter() - mark
        mark = time.perf_counter()
        hits = self.search_vector(vector, k, question, allowed)
        timings["search"] = time.perf_counter() - mark
        return hits

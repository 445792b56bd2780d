"""Stage 4: question -> the k best paragraphs, one hit per paragraph.

Two rankings are fused by reciprocal rank (RRF): FAISS over the chunk vectors
(meaning, paraphrase) and BM25 over the paragraph texts (names, numbers, and
words the small multilingual-blind embedder misses). A paragraph's score is its
best cosine similarity to the question, so scores stay comparable across modes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

import numpy as np

from embeddings import Embedder
from rag.ingest.index import FaissIndex
from rag.ingest.keyword_index import Key, KeywordIndex
from rag.ingest.paragraphs import Paragraph
from rag.types import ParagraphKey

__all__ = ["Hit", "Key", "KeywordIndex", "Retriever", "reciprocal_rank_fusion"]


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
    def key(self) -> ParagraphKey:
        return self.paragraph.key


def reciprocal_rank_fusion(rankings: list[list[Key]], k: int = 60) -> list[Key]:
    scores: dict[Key, float] = defaultdict(float)
    for ranking in rankings:
        for rank, key in enumerate(ranking):
            scores[key] += 1.0 / (k + rank + 1)
    return sorted(scores, key=lambda key: -scores[key])


class Retriever:
    def __init__(self, index: FaissIndex, embedder: Embedder, mode: Literal["hybrid", "dense"] = "hybrid",
                 candidates: int = 50, rrf_k: int = 60) -> None:
        self.index = index
        self.embedder = embedder
        self.mode = mode
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.keywords = KeywordIndex(index) if mode == "hybrid" else None
        self._rows: dict[Key, list[int]] = defaultdict(list)
        for row, chunk in enumerate(index.chunks):
            self._rows[chunk.key].append(row)

    def embed(self, question: str) -> np.ndarray:
        return self.embedder.encode([question])[0]

    def _dense_ranking(self, vector: np.ndarray, limit: int) -> list[Key]:
        ranking: dict[Key, None] = {}
        for chunk, _ in self.index.search(vector, limit):
            ranking.setdefault(chunk.key)  # results are best-first; keep each paragraph's first place
        return list(ranking)

    def best_chunk(self, vector: np.ndarray, key: Key) -> tuple[float, tuple[int, int]]:
        """The paragraph's best cosine similarity, and where in the paragraph that chunk lies."""
        rows = self._rows[key]
        similarities = self.index.vectors[rows] @ vector
        best = int(similarities.argmax())
        chunk, paragraph = self.index.chunks[rows[best]], self.index.paragraph(*key)
        return float(similarities[best]), (chunk.start - paragraph.start, chunk.end - paragraph.start)

    def search_vector(self, vector: np.ndarray, k: int, question: str = "") -> list[Hit]:
        dense = self._dense_ranking(vector, max(self.candidates, k * 4))
        if self.keywords is not None and question:
            order = reciprocal_rank_fusion([dense, self.keywords.search(question, self.candidates)], self.rrf_k)
        else:
            order = dense
        hits = []
        for key in order[:k]:
            document = self.index.document(key.doc_id)
            score, focus = self.best_chunk(vector, key)
            hits.append(Hit(self.index.paragraph(*key), score, document.title, document.date, focus))
        return hits

    def search(self, question: str, k: int) -> list[Hit]:
        return self.search_vector(self.embed(question), k, question)

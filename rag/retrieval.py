"""Stage 4: question -> the k most similar paragraphs (dense search, one hit per paragraph)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embeddings import Embedder
from rag.index import FaissIndex
from rag.paragraphs import Paragraph

# Long paragraphs have several chunks; fetch extra so k distinct paragraphs survive de-duplication.
_OVERFETCH = 4


@dataclass(frozen=True)
class Hit:
    """A retrieved paragraph with its similarity and its document's metadata."""

    paragraph: Paragraph
    score: float
    title: str
    date: str | None

    @property
    def doc_id(self) -> str:
        return self.paragraph.doc_id


class Retriever:
    def __init__(self, index: FaissIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder

    def embed(self, question: str) -> np.ndarray:
        return self.embedder.encode([question])[0]

    def search_vector(self, vector: np.ndarray, k: int) -> list[Hit]:
        best: dict[tuple[str, int], float] = {}
        for chunk, score in self.index.search(vector, k * _OVERFETCH):
            if chunk.key not in best:  # results are best-first
                best[chunk.key] = score
            if len(best) == k:
                break
        hits = []
        for (doc_id, number), score in best.items():
            document = self.index.document(doc_id)
            hits.append(Hit(self.index.paragraph(doc_id, number), score, document.title, document.date))
        return hits

    def search(self, question: str, k: int) -> list[Hit]:
        return self.search_vector(self.embed(question), k)

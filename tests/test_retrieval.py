"""Dense retrieval over the real index of the bundled reports."""

from __future__ import annotations

import pytest

from embeddings import Embedder
from rag.index import FaissIndex
from rag.retrieval import Retriever
from tests.conftest import SENTINEL, SENTINEL_QUESTION


@pytest.mark.parametrize("question", [
    SENTINEL_QUESTION,
    # A paraphrase sharing almost no words with the paragraph.
    "How many narcotics busts did the joint anti-smuggling effort across Central Asia produce?",
])
def test_sentinel_paragraph_in_top_3(bundled_index: FaissIndex, embedder: Embedder, question: str) -> None:
    hits = Retriever(bundled_index, embedder).search(question, 3)
    assert SENTINEL in [(h.doc_id, h.paragraph.paragraph) for h in hits]


def test_hits_are_distinct_paragraphs_best_first_with_metadata(bundled_index: FaissIndex, embedder: Embedder) -> None:
    hits = Retriever(bundled_index, embedder).search("Belyaninov meeting with the WCO Secretary General", 10)
    assert len(hits) == 10
    assert len({h.paragraph.key for h in hits}) == 10
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.title and h.paragraph.text for h in hits)


def test_k_larger_than_the_corpus_returns_every_paragraph_once(bundled_index: FaissIndex, embedder: Embedder) -> None:
    hits = Retriever(bundled_index, embedder).search("customs", 50)
    assert len(hits) == len({h.paragraph.key for h in hits}) == min(50, len(bundled_index.paragraphs))

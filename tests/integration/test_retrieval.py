"""Dense retrieval over the real index of the bundled reports."""

from __future__ import annotations

import pytest

from embeddings import Embedder
from rag.query.retrieval import Retriever
from rag.store.index import SegmentedIndex
from tests.conftest import SENTINEL, SENTINEL_QUESTION


@pytest.mark.parametrize("question", [
    SENTINEL_QUESTION,
    # A paraphrase sharing almost no words with the paragraph.
    "How many narcotics busts did the joint anti-smuggling effort across Central Asia produce?",
])
def test_sentinel_paragraph_in_top_3(bundled_index: SegmentedIndex, embedder: Embedder, question: str) -> None:
    hits = Retriever(bundled_index, embedder).search(question, 3)
    assert SENTINEL in [h.key for h in hits]


@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_hits_are_distinct_paragraphs_with_metadata(bundled_index: SegmentedIndex, embedder: Embedder, mode: str) -> None:
    hits = Retriever(bundled_index, embedder, mode).search("Belyaninov meeting with the WCO Secretary General", 10)
    assert len(hits) == 10
    assert len({h.paragraph.key for h in hits}) == 10
    assert all(h.title and h.paragraph.text and -1 <= h.score <= 1 for h in hits)
    if mode == "dense":  # dense order is the cosine order; hybrid order is the fused rank
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_keyword_ranking_rescues_what_the_embedder_misses(bundled_index: SegmentedIndex, embedder: Embedder) -> None:
    """all-MiniLM is English-only: a Russian question needs BM25's exact match on 'Sentinel'."""
    question = "Что изъяла операция Sentinel?"
    dense = [h.paragraph.key for h in Retriever(bundled_index, embedder, "dense").search(question, 5)]
    hybrid = [h.paragraph.key for h in Retriever(bundled_index, embedder, "hybrid").search(question, 5)]
    assert SENTINEL not in dense and SENTINEL in hybrid


def test_k_larger_than_the_corpus_returns_every_paragraph_once(bundled_index: SegmentedIndex, embedder: Embedder) -> None:
    hits = Retriever(bundled_index, embedder).search("customs", 50)
    assert len(hits) == len({h.paragraph.key for h in hits}) == min(50, len(bundled_index.paragraphs))

"""Citation attribution with the real embedder (and the lexical attributor beside it): an unmarked sentence goes to
the source that supports it, an unrelated one to none. The rest: tests/unit/test_citations.py."""

from __future__ import annotations

import pytest

from embeddings import Embedder
from rag.answer.citations import (
    embedding_attributor,
    lexical_attributor,
)
from tests.unit.test_citations import SOURCES, resolve


@pytest.mark.parametrize("use_embeddings", [False, True])
def test_unmarked_sentences_are_attributed_to_the_supporting_source(use_embeddings: bool, embedder: Embedder) -> None:
    attributor = embedding_attributor(embedder) if use_embeddings else lexical_attributor
    raw = ("Operation Sentinel resulted in over 100 seizures of drugs, more than 160 kg from heroin to opium. "
           "Andrei Belyaninov met him on 21 January 2009 [2].")
    resolved = resolve(raw, SOURCES, attributor, min_similarity=0.4)
    assert resolved.attributed_sentences == 1
    assert resolved.text.startswith("Operation Sentinel resulted in over 100 seizures of drugs, "
                                    "more than 160 kg from heroin to opium [1].")
    assert [(c.paragraph, c.attributed) for c in resolved.citations] == [(9, True), (4, False)]


def test_unrelated_sentence_is_not_attributed(embedder: Embedder) -> None:
    raw = "Bananas are an excellent source of potassium for athletes."
    resolved = resolve(raw, SOURCES, embedding_attributor(embedder), min_similarity=0.45)
    assert resolved.refused and resolved.attributed_sentences == 0


def test_marker_after_the_full_stop_belongs_to_that_sentence(embedder: Embedder) -> None:
    raw = "Operation Sentinel made over 100 seizures. [1] He met Belyaninov on 21 January 2009. [2]"
    resolved = resolve(raw, SOURCES, embedding_attributor(embedder))
    assert resolved.text == "Operation Sentinel made over 100 seizures [1]. He met Belyaninov on 21 January 2009 [2]."
    assert resolved.attributed_sentences == 0 and len(resolved.citations) == 2

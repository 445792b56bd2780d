"""The one notion of word, content word and word family shared by the citation, filler and abstention checks."""

from __future__ import annotations

import pytest

from rag.answer.abstention import key_terms
from rag.answer.citations import support
from rag.answer.terms import QUESTION_STOP_WORDS, content_words, stem


def test_number_words_are_content_and_possessives_come_off() -> None:
    # "three" is in scikit-learn's stop list: a claim about "three days" must still need a source that says so.
    assert content_words("The visit lasted for three days in Russia's capital.") == {
        "visit", "lasted", "three", "days", "russia", "capital"}
    assert support("The visit lasted for three days.", "Mikuriya arrived for a three-day visit.") == 0.75  # not "lasted"


def test_one_stemmer_for_claims_and_questions() -> None:
    assert stem("Christianity") == stem("Christian") and stem("carved") == stem("carve")
    assert stem("1000's") == "1000"
    # A claim's word the question already asked is not what the source must add.
    assert support("They carved out Antioch.", "Antioch was taken.", "Where did they carve out a principality?") == 1.0
    assert set(key_terms("Where did the Normans carve out a principality?")) == {stem("Normans"), "carv", stem("principality")}


def test_the_question_stop_list_is_scikit_learns() -> None:
    """The copy in rag.answer.terms is scikit-learn's list, word for word (abstention was tuned with it)."""
    text = pytest.importorskip("sklearn.feature_extraction.text")  # still installed: sentence-transformers needs it
    assert QUESTION_STOP_WORDS == text.ENGLISH_STOP_WORDS and len(QUESTION_STOP_WORDS) == 318

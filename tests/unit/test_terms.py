"""The one notion of word, content word, word family and sentence (rag.text) shared by the checks and by search."""

from __future__ import annotations

import pytest

from rag.answer.abstention import key_terms
from rag.answer.citations import support
from rag.text import (
    QUESTION_STOP_WORDS,
    content_words,
    excerpt_terms,
    search_stop_words,
    search_tokens,
    search_words,
    sentence_spans,
    split_sentences,
    stem,
)


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
    """The copy in rag.text is scikit-learn's list, word for word (abstention was tuned with it)."""
    text = pytest.importorskip("sklearn.feature_extraction.text")  # still installed: sentence-transformers needs it
    assert QUESTION_STOP_WORDS == text.ENGLISH_STOP_WORDS and len(QUESTION_STOP_WORDS) == 318


def test_search_tokens_are_bm25s_own() -> None:
    """Indexes on disk and Milvus' analysed fields hold these tokens: they must stay bm25s' English tokens."""
    import bm25s
    from bm25s.stopwords import STOPWORDS_EN

    texts = ["The Customs of Russia seized 1,000 kg.", "", "Who is the WCO's Secretary-General?"]
    assert search_words(texts) == bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)
    assert search_words(texts)[0] == ["customs", "russia", "seized", "000", "kg"]
    assert search_tokens(texts).vocab == bm25s.tokenize(texts, stopwords="en", show_progress=False).vocab
    assert search_stop_words() == frozenset(STOPWORDS_EN) and len(search_stop_words()) == 33


def test_excerpt_terms_keep_their_four_letter_stem() -> None:
    assert excerpt_terms("The Customs seized 100 cigarettes in it") == {"cust", "seiz", "100", "ciga"}


def test_the_plain_split_keeps_abbreviations_apart() -> None:
    """Chunking uses the plain split (its indexes were built with it); the checks join "Mr." to its name."""
    text = "Mr. Smith came. He left."
    assert split_sentences(text) == ["Mr. Smith came.", "He left."]
    assert [text[a:b] for a, b in sentence_spans(text, abbreviations=False)] == ["Mr.", "Smith came.", "He left."]

"""Claims: the answer parsed once into sentences that are verified, flagged, or left out."""

from __future__ import annotations

from functools import partial

import pytest

from rag.answer.citations import fits_question, resolve_citations
from rag.answer.claims import is_filler
from rag.text import split_sentences
from rag.types import Citation, Claim
from tests.fakes import REFUSAL

resolve = partial(resolve_citations, refusal=REFUSAL)  # under the default prompts

SOURCES = [
    Citation("002.txt", 10, "Mr. Kunio Mikuriya met Mr. Tair Mansurov and his deputy Mr. Sergey Glazyev. "
             "They discussed the customs union.", 0.6, date="2009-10-15"),
    Citation("001.txt", 6, "The forum discussed digital customs and the exchange of data.", 0.5, date="2021-06-10"),
]


@pytest.mark.parametrize(("text", "expected"), [
    ("He met Mr. Sergey Glazyev and Mr. Anton Siluanov. Then they left.",
     ["He met Mr. Sergey Glazyev and Mr. Anton Siluanov.", "Then they left."]),
    ("The U.S. Department of Homeland Security took part. It was fine.",
     ["The U.S. Department of Homeland Security took part.", "It was fine."]),
    ("It met in Jan. 2009 in Moscow. The rate was 3.5 per cent. J. Smith came. Order No. 5 was signed.",
     ["It met in Jan. 2009 in Moscow.", "The rate was 3.5 per cent.", "J. Smith came.", "Order No. 5 was signed."]),
    ("Dr. Ivanov spoke, e.g. on risks. The answer is no. Then it ended.",
     ["Dr. Ivanov spoke, e.g. on risks.", "The answer is no.", "Then it ended."]),
])
def test_sentences_do_not_break_at_titles_initials_or_abbreviations(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_a_title_keeps_its_name_in_the_claim() -> None:
    resolved = resolve("The deputy was Mr. Sergey Glazyev [1].", SOURCES)
    assert resolved.text == "The deputy was Mr. Sergey Glazyev [1]."
    assert [c.text for c in resolved.claims] == ["The deputy was Mr. Sergey Glazyev [1]."]


@pytest.mark.parametrize("sentence", [
    "This is supported by source [1].",
    "This can be seen in the text from source [2].",
    "As stated in source [1].",
    "[1]",
])
def test_filler_sentences_are_recognised(sentence: str) -> None:
    assert is_filler(sentence)


@pytest.mark.parametrize("sentence", [
    "This is supported by the fact that Mansurov met Mikuriya in Moscow [1].",
    "According to source [1], Mansurov met Mikuriya.",
    "It was signed in 2009 [1].",
])
def test_sentences_with_a_claim_are_not_filler(sentence: str) -> None:
    assert not is_filler(sentence)


def test_fillers_neither_count_as_claims_nor_show() -> None:
    resolved = resolve("Mikuriya met Tair Mansurov [1]. This is supported by source [2].", SOURCES)
    assert resolved.text == "Mikuriya met Tair Mansurov [1]."
    assert [c.label() for c in resolved.citations] == ["002.txt ¶10"]
    only_filler = resolve("This is supported by source [1].", SOURCES)
    assert only_filler.refused and only_filler.citations == []


def test_each_kept_claim_carries_its_verification_and_quote() -> None:
    resolved = resolve("Mikuriya met Tair Mansurov [1]. They talked about many things.", SOURCES)
    verified, uncited = resolved.claims
    assert verified.supported is True and verified.markers == (1,)
    assert verified.quote == "Mr. Kunio Mikuriya met Mr. Tair Mansurov and his deputy Mr. Sergey Glazyev."
    assert uncited.supported is None and uncited.markers == ()  # shown, but flagged: no source holds it


def test_a_claim_from_a_report_about_another_year_is_not_supported() -> None:
    question = "Whom did the WCO Secretary General meet in Moscow in October 2009, and what did they discuss?"
    assert fits_question(SOURCES[0], question) and not fits_question(SOURCES[1], question)
    resolved = resolve("They met Tair Mansurov [1]. They discussed digital customs and data exchange [2].", SOURCES,
                                 question=question, min_support=0.5)
    assert resolved.text == "They met Tair Mansurov [1]."
    assert resolved.unsupported_sentences == 1


def test_with_markers_puts_markers_before_the_full_stop() -> None:
    assert Claim("It met in Moscow [2] on Monday.").with_markers([1, 3]).text == "It met in Moscow on Monday [1][3]."
    assert Claim("It met [2].").with_markers([]).text == "It met."

"""The prompt: numbered sources with their origin, and long paragraphs cut around their best match."""

from __future__ import annotations

from rag.answer.prompt import build_messages, excerpt
from rag.documents.paragraphs import Paragraph
from rag.query.retrieval import Hit
from tests.fakes import PROMPTS, REFUSAL

TEXT = "Alpha opens the file. Bravo seized 160 kg of heroin. Charlie signed a memorandum. Delta closed it."


def test_short_paragraphs_are_shown_whole() -> None:
    assert excerpt(TEXT, (22, 51), 1000) == TEXT


def test_long_paragraphs_are_cut_to_whole_sentences_around_the_focus() -> None:
    focus = (TEXT.index("Bravo"), TEXT.index("heroin.") + 7)
    cut = excerpt(TEXT, focus, 60)
    assert "Bravo seized 160 kg of heroin." in cut and len(cut) <= 60 + 4
    assert cut.endswith(" …")  # the reader sees that text was left out
    assert excerpt(TEXT, None, 30).startswith("Alpha opens the file.")


def test_the_sentences_kept_are_those_that_hold_the_question_words() -> None:
    """The focus chunk matched "Operation Sentinel"; the question asks what it seized: keep the figures."""
    sentinel = ("Whilst in Russia, senior managers briefed the Secretary General on the outcome of Operation Sentinel "
                "which took place in August and September 2009. This Operation involved the 10 Customs services in "
                "the CIS region. The Operation resulted in over 100 seizures of drugs; more than 160 kg. This "
                "programme would be converted to a long-term initiative.")
    cut = excerpt(sentinel, (0, sentinel.index("region.") + 7), 260, "What did Operation Sentinel seize?")
    assert "over 100 seizures of drugs; more than 160 kg." in cut and "Operation Sentinel" in cut, cut
    assert "long-term" not in cut and "… " in cut


def test_messages_number_the_sources_and_end_with_the_question() -> None:
    hits = [Hit(Paragraph("a.txt", 9, TEXT, 0, len(TEXT)), 0.5, "Report title", "2009-10-27")]
    system, user = build_messages("What was seized?", hits, 1600, PROMPTS)
    assert REFUSAL in system["content"] and "[2]" in system["content"]
    assert user["content"].startswith('Sources:\n\n[1] (from "Report title", 2009-10-27)\nAlpha opens')
    assert user["content"].endswith("Question: What was seized?")

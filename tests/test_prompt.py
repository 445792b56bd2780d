"""The prompt: numbered sources with their origin, and long paragraphs cut around their best match."""

from __future__ import annotations

from rag.paragraphs import Paragraph
from rag.prompt import REFUSAL, build_messages, excerpt
from rag.retrieval import Hit

TEXT = "Alpha opens the file. Bravo seized 160 kg of heroin. Charlie signed a memorandum. Delta closed it."


def test_short_paragraphs_are_shown_whole() -> None:
    assert excerpt(TEXT, (22, 51), 1000) == TEXT


def test_long_paragraphs_are_cut_to_whole_sentences_around_the_focus() -> None:
    focus = (TEXT.index("Bravo"), TEXT.index("heroin.") + 7)
    cut = excerpt(TEXT, focus, 60)
    assert "Bravo seized 160 kg of heroin." in cut and len(cut) <= 60 + 4
    assert cut.startswith("… ") and cut.endswith(" …")  # the reader sees that text was left out
    assert excerpt(TEXT, None, 30).startswith("Alpha opens the file.")


def test_messages_number_the_sources_and_end_with_the_question() -> None:
    hits = [Hit(Paragraph("a.txt", 9, TEXT, 0, len(TEXT)), 0.5, "Report title", "2009-10-27")]
    system, user = build_messages("What was seized?", hits)
    assert REFUSAL in system["content"] and "[2]" in system["content"]
    assert user["content"].startswith('Sources:\n\n[1] (from "Report title", 2009-10-27)\nAlpha opens')
    assert user["content"].endswith("Question: What was seized?")

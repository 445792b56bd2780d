"""The prompt: numbered sources with their origin, and long paragraphs cut around their best match."""

from __future__ import annotations

from rag.answer.prompt import build_extract_messages, build_messages, excerpt
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


def test_a_report_s_title_and_date_are_written_once_in_the_extract_prompt() -> None:
    """Every prompt token is time to first token: a second paragraph of a report points back to its first."""
    def hit(doc: str, number: int, title: str) -> Hit:
        return Hit(Paragraph(doc, number, TEXT, 0, len(TEXT)), 0.5, title, "2009-10-27")

    hits = [hit("a.txt", 1, "Report A"), hit("b.txt", 2, "Report B"), hit("a.txt", 5, "Report A"),
            hit("c.txt", 1, "Report A")]  # another report with the same title keeps its own header
    _, user = build_extract_messages("What was seized?", hits, 1600, PROMPTS)[0]
    headers = [line for line in user["content"].splitlines() if line.startswith("Source ")]
    assert headers == ['Source 1 (from "Report A", 2009-10-27)', 'Source 2 (from "Report B", 2009-10-27)',
                       "Source 3 (same report as Source 1)", 'Source 4 (from "Report A", 2009-10-27)']
    _, user = build_messages("What was seized?", hits, 1600, PROMPTS)  # write-first keeps whole headers
    assert user["content"].count('(from "Report A", 2009-10-27)') == 3


def test_a_short_header_is_written_again_rather_than_pointed_to() -> None:
    hits = [Hit(Paragraph("n.txt", n, TEXT, 0, len(TEXT)), 0.5, "Normans", None) for n in (1, 2)]
    _, user = build_extract_messages("Who were the Normans?", hits, 1600, PROMPTS)[0]
    assert [line for line in user["content"].splitlines() if line.startswith("Source ")] == [
        'Source 1 (from "Normans")', 'Source 2 (from "Normans")']

"""Abstention: the question's key terms must be in what the answer cites, and the answer must be of the asked type."""

from __future__ import annotations

from functools import partial

from rag.answer.abstention import Abstainer, assess, key_terms, refusal_text
from rag.answer.citations import resolve_citations
from rag.types import Citation
from tests.fakes import PROMPTS, REFUSAL

resolve = partial(resolve_citations, refusal=REFUSAL)  # under the default prompts

GORGE = Citation("rhine.txt", 4, "The Rhine Gorge between Bingen and Bonn was listed as a UNESCO World Heritage Site "
                 "in 2002. The river is used for shipping.", 0.7)
NORMANS = Citation("normans.txt", 2, "The Normans were the people who in the 10th and 11th centuries gave their "
                   "name to Normandy, a region in France.", 0.7)


def _evidence(question: str, raw: str, source: Citation):  # type: ignore[no-untyped-def]
    resolved = resolve(raw, [source], question=question)
    return assess(question, resolved.claims, resolved.citations, [source])


def test_key_terms_leave_out_the_asking_words() -> None:
    assert set(key_terms("Who gave their name to Normandy in the 1000's and 1100's")) == {
        "gave", "normandi", "1000", "1100"}
    assert list(key_terms("What was removed from the list of UNESCO World Heritage Sites?").values()) == [
        "removed", "UNESCO", "World", "Heritage", "Sites"]


def test_a_changed_key_term_lowers_coverage_and_is_named() -> None:
    asked = _evidence("When was the Rhine Gorge listed as a UNESCO World Heritage Site?",
                      "It was listed in 2002 [1].", GORGE)
    trap = _evidence("When was the Rhine Gorge removed from the UNESCO World Heritage list?",
                     "It was removed in 2002 [1].", GORGE)
    assert asked.coverage == 1.0 and asked.missing == ()
    assert trap.coverage < asked.coverage and trap.missing == ("removed",)
    centuries = _evidence("Who gave their name to Normandy in the 1000's and 1100's",
                          "The Normans gave their name to Normandy [1].", NORMANS)
    assert set(centuries.missing) == {"1000", "1100"}


def test_answer_type_must_match_the_question() -> None:
    assert not _evidence("How many ships used the Rhine Gorge?", "The river is used for shipping [1].",
                         GORGE).type_ok
    assert _evidence("When was the Rhine Gorge listed?", "It was listed in 2002 [1].", GORGE).type_ok
    assert not _evidence("When was the Rhine Gorge listed?", "It was listed by UNESCO [1].", GORGE).type_ok


def test_the_abstainer_refuses_below_its_thresholds_only() -> None:
    trap = _evidence("When was the Rhine Gorge removed from the UNESCO World Heritage list?",
                     "It was removed in 2002 [1].", GORGE)
    assert Abstainer(0.9, 0.0).refuses(trap)
    assert not Abstainer(0.0, 0.0).refuses(trap)


def test_a_false_premise_refusal_says_what_is_missing_and_cites_the_closest_passage() -> None:
    question = "When was the Rhine Gorge removed from the UNESCO World Heritage list?"
    resolved = resolve("It was removed in 2002 [1].", [GORGE], question=question)
    text = refusal_text(assess(question, resolved.claims, resolved.citations, [GORGE]), resolved.claims[0].quote,
                        PROMPTS)
    assert text.startswith('The reports do not answer this: they do not mention "removed"')
    assert text.endswith('The closest passage says: "The Rhine Gorge between Bingen and Bonn was listed as a UNESCO '
                         'World Heritage Site in 2002" [1].')

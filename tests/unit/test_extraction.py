"""Extract, then answer: numbered sentences, the model's choice read the same way from every backend, and the
written answer tied to the chosen sentences (``rag.answer.extraction``)."""

from __future__ import annotations

import pytest

from rag.answer.extraction import choice_text, evidence_citations, ground, number_sentences
from rag.answer.injection import REMOVED
from rag.llm.base import parse_choice
from rag.llm.llama_worker import choice_grammar
from rag.types import Citation

REFUSAL = "I cannot find the answer in the reports."
SENTINEL = ("This Operation involved the 10 Customs services in the CIS region. The Operation resulted in over 100 "
            "seizures of drugs; more than 160 kg ranging from heroin to opium.")
SOURCES = [Citation("002.txt", 9, SENTINEL, 0.8, "WCO news", "2009-10-01"),
           Citation("003.txt", 2, "The Secretary General met Mr Aoyama on 11 January 2006.", 0.5)]


def test_every_shown_sentence_gets_an_id_but_a_gap_or_a_masked_order_does_not() -> None:
    shown = [f"… {SENTINEL} …", f"The Secretary General met Mr Aoyama. {REMOVED} He left on Monday."]
    sentences = number_sentences(shown)
    assert [(s.id, s.source) for s in sentences] == [("1.1", 1), ("1.2", 1), ("2.1", 2), ("2.2", 2)]
    assert sentences[1].text.startswith("The Operation resulted in over 100 seizures")
    assert sentences[3].text == "He left on Monday."
    assert all("…" not in s.text and REMOVED not in s.text for s in sentences)


@pytest.mark.parametrize(("reply", "chosen"), [
    ("[1.2]", ["1.2"]),
    ("[1.2] [2.1] [1.2]", ["1.2", "2.1"]),  # a grammar allows a repeat: it counts once
    ("[ 2.1 ]", ["2.1"]),
    ("[none]", []),
    ("[9.9] [1.1]", ["1.1"]),  # an id that was not shown is no choice
    ("The answer is in [1.1], [1.2] and [2.1] and [2.2]", ["1.1", "1.2", "2.1"]),  # at most max_choices
    ("no brackets at all", []),
])
def test_a_reply_is_read_as_the_options_it_names(reply: str, chosen: list[str]) -> None:
    assert parse_choice(reply, ["1.1", "1.2", "2.1", "2.2"], 3) == chosen


def test_the_grammar_allows_only_the_shown_ids_up_to_the_limit() -> None:
    from llama_cpp import LlamaGrammar

    grammar = choice_grammar(["1.1", "1.2", "2.1"], 3)
    assert '"[none]"' in grammar and '(" " item){0,2}' in grammar and '"2.1"' in grammar
    LlamaGrammar.from_string(grammar, verbose=False)  # llama.cpp parses it (raises on a malformed grammar)
    assert "{0," not in choice_grammar(["1.1"], 1)


def test_the_answer_cites_the_chosen_sentence_with_its_exact_words() -> None:
    chosen = number_sentences([SENTINEL])[1:2]
    resolved = ground("Operation Sentinel made over 100 seizures, more than 160 kg of drugs.", chosen, SOURCES,
                      "What did Operation Sentinel seize?", refusal=REFUSAL)
    assert not resolved.refused
    assert resolved.text == "Operation Sentinel made over 100 seizures, more than 160 kg of drugs [1]."
    assert [(c.doc_id, c.paragraph, c.quote) for c in resolved.citations] == [("002.txt", 9, chosen[0].text)]
    assert resolved.claims[0].supported and resolved.claims[0].quote == chosen[0].text


def test_a_claim_with_a_number_the_evidence_lacks_is_dropped_and_the_quote_answers_instead() -> None:
    chosen = number_sentences([SENTINEL])[1:2]
    resolved = ground("Operation Sentinel seized 500 kg of drugs [2.3].", chosen, SOURCES,
                      "What did Operation Sentinel seize?", refusal=REFUSAL)
    assert resolved.unsupported_sentences == 1
    assert "500" not in resolved.text and resolved.text == f"{chosen[0].text.rstrip('.')} [1]."
    assert resolved.citations[0].paragraph == 9 and not resolved.refused


def test_two_chosen_sentences_are_cited_by_the_claims_that_use_them_in_order() -> None:
    chosen = [number_sentences([SENTINEL, SOURCES[1].text])[i] for i in (2, 0)]  # "2.1" first, then "1.1"
    resolved = ground("The Secretary General met Mr Aoyama. Ten Customs services took part, 10 in all.",
                      chosen, SOURCES, "Who took part?", refusal=REFUSAL)
    assert [c.doc_id for c in resolved.citations] == ["003.txt", "002.txt"]
    assert resolved.text == "The Secretary General met Mr Aoyama [1]. Ten Customs services took part, 10 in all [2]."


def test_a_written_refusal_after_a_choice_is_a_refusal_without_citations() -> None:
    chosen = number_sentences([SENTINEL])[:1]
    resolved = ground(REFUSAL, chosen, SOURCES, "Who won the match?", refusal=REFUSAL)
    assert resolved.refused and resolved.citations == [] and resolved.text == REFUSAL


def test_the_choice_as_text_and_the_evidence_as_citations() -> None:
    chosen = number_sentences([SENTINEL, SOURCES[1].text])
    assert choice_text([chosen[2], chosen[0]]) == "[2.1] [1.1]" and choice_text([]) == "[none]"
    assert [c.quote for c in evidence_citations(chosen[:1], SOURCES)] == [chosen[0].text]


def test_the_ranker_adds_the_closest_sentence_from_where_it_may() -> None:
    import numpy as np

    from rag.answer.extraction import with_best_sentence

    sentences = number_sentences(["Budget talks began.", "Unrelated weather news.", "Over 100 seizures of drugs."])

    def encode(texts: list[str]) -> np.ndarray:  # the question is close to the seizure sentence only
        return np.array([[1.0, 0.0] if "seiz" in t.lower() else [0.0, 1.0] for t in texts])

    question, model = "What seizures were made?", [sentences[1]]  # the model chose the weather (source 2)
    assert with_best_sentence(model, question, sentences, encode, "any", 3) == [sentences[1], sentences[2]]
    assert with_best_sentence(model, question, sentences, encode, "chosen-or-top", 3) == [sentences[1], sentences[0]]
    assert with_best_sentence(model, question, sentences, encode, "same-paragraph", 3) == model  # its own: no other
    assert with_best_sentence(model, question, sentences, encode, "off", 3) == model
    assert with_best_sentence([], question, sentences, encode, "any", 3) == []  # a choice of none stays none
    assert with_best_sentence(model, question, sentences, encode, "any", 1) == model  # no room left beside it

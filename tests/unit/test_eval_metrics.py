"""Hand-checked values for every metric definition and for fact matching."""

from __future__ import annotations

import math

import pytest

from eval import metrics
from eval.matching import contains, forbidden_found, missing_fact_groups, normalise
from eval.thresholds import Threshold, check

A, B, C, D = ("a.txt", 1), ("a.txt", 2), ("b.txt", 1), ("b.txt", 2)


def test_recall_at_k_counts_evidence_in_the_first_k() -> None:
    ranked = [C, A, D, B]
    assert metrics.recall_at_k(ranked, {A, B}, 1) == 0.0
    assert metrics.recall_at_k(ranked, {A, B}, 2) == 0.5
    assert metrics.recall_at_k(ranked, {A, B}, 4) == 1.0


def test_reciprocal_rank_is_one_over_the_first_relevant_rank() -> None:
    assert metrics.reciprocal_rank([C, D, A], {A, B}) == pytest.approx(1 / 3)
    assert metrics.reciprocal_rank([A], {A}) == 1.0
    assert metrics.reciprocal_rank([C, D], {A}) == 0.0


def test_ndcg_by_hand() -> None:
    # relevant at ranks 2 and 3: DCG = 1/log2(3) + 1/log2(4); ideal = 1/log2(2) + 1/log2(3)
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert metrics.ndcg_at_k([C, A, B, D], {A, B}, 10) == pytest.approx(expected)
    assert metrics.ndcg_at_k([A, B], {A, B}) == pytest.approx(1.0)
    assert metrics.ndcg_at_k([C, D], {A}) == 0.0


def test_citation_metrics() -> None:
    assert metrics.citation_precision({A, C}, {A, B}) == 0.5
    assert metrics.citation_precision(set(), {A}) is None  # nothing cited: undefined, not 0 or 1
    assert metrics.citation_recall({A, C}, {A, B}) == 0.5
    assert metrics.citation_recall(set(), {A}) == 0.0
    assert metrics.has_correct_citation({C}, {A}) == 0.0
    assert metrics.has_correct_citation({C, A}, {A}) == 1.0
    assert metrics.hallucinated_citation_rate(1, 4) == 0.25
    assert metrics.hallucinated_citation_rate(0, 0) is None


def test_mean_and_percentile_skip_undefined_values() -> None:
    assert metrics.mean([1.0, None, 0.0]) == (0.5, 2)
    assert metrics.mean([None]) == (None, 0)
    assert metrics.percentile([1.0, 2.0, 3.0, 4.0, None], 50) == 2.5
    assert metrics.percentile([0.0, 10.0], 90) == pytest.approx(9.0)


def test_normalise_folds_case_dashes_spacing_accents_and_number_formats() -> None:
    assert normalise("Over 1,000 Seizures – 160kg [2].") == "over 1000 seizures-160 kg ."
    assert normalise("September 15 – 17, 2009") == "september 15-17, 2009"
    assert normalise("Joint Communiqué") == "joint communique"
    assert normalise("Нажмите здесь й") == "нажмите здесь й"  # Cyrillic letters keep their marks
    assert normalise("in 2009 100 seizures") == "in 2009 100 seizures"  # a year is not a thousands group


def test_contains_needs_whole_tokens() -> None:
    text = normalise("The Operation resulted in over 1000 seizures; 160 Kg of heroin.")
    assert not contains(text, "100")
    assert contains(text, "160 kg") and contains(text, "160kg") and contains(text, "HEROIN")
    assert not contains(text, "her")


def test_fact_groups_and_forbidden_phrases() -> None:
    facts = [["100"], ["160 kg", "160 kilograms"], ["heroin", "opium"]]
    assert missing_fact_groups("Over 100 seizures, more than 160 kilograms of opium [1].", facts) == []
    assert missing_fact_groups("More than 160 kg of opium [1].", facts) == [["100"]]
    assert forbidden_found("They met on January 21, 2008 [1].", ["21 January 2008", "January 21, 2008"]) == [
        "January 21, 2008"]
    assert forbidden_found("They met on 21 January 2009 [1].", ["January 21, 2008"]) == []


def test_thresholds() -> None:
    summary = {"overall": {"recall@5": {"value": 0.8, "n": 10}, "false_refusal_rate": {"value": 0.2, "n": 10}}}
    assert check(summary, [Threshold("recall@5", 0.8), Threshold("false_refusal_rate", 0.2, minimum=False)]) == []
    failures = check(summary, [Threshold("recall@5", 0.9), Threshold("false_refusal_rate", 0.1, minimum=False),
                               Threshold("fact_accuracy", 0.5)])
    assert len(failures) == 3
    assert "recall@5 is 0.800, needed recall@5 >= 0.9" in failures[0]
    assert "not measured" in failures[2]


def test_false_premise_scores_count_traps_and_refusals_that_name_the_related_paragraph() -> None:
    from eval.evalset import EvalQuestion
    from eval.runner import answer_scores
    from rag.types import Answer, Citation

    question = EvalQuestion(id="q", question="Who gave their name to Normandy in the 1000's?",
                            category="false premise", answerable=False, forbidden=["Normans"],
                            related=[{"doc_id": "normans.txt", "paragraph": 2}])
    trapped = Answer(question.question, "The Normans did [1].", False, raw_text="The Normans did [1].")
    scores, _, found = answer_scores(question, trapped)
    assert scores["refusal_accuracy"] == 0.0 and scores["trap_rate"] == 1.0 and found == ["Normans"]
    assert "related_citation_share" not in scores
    closest = Citation("normans.txt", 2, "The Normans ... gave their name to Normandy.", 0.7)
    refusal = Answer(question.question, "The reports do not say so [1].", True, [closest], raw_text="")
    scores, _, _ = answer_scores(question, refusal)
    assert scores == {"hallucinated_citation_rate": None, "refusal_accuracy": 1.0, "trap_rate": 0.0,
                      "related_citation_share": 1.0, "utility": 1.0}


def test_entity_in_quote_catches_the_wrong_name_from_the_right_paragraph() -> None:
    from eval.runner import entity_in_quote
    from rag.types import Answer, Claim

    quote = "In Duisburg the Ruhr joins the Rhine."
    wrong = Answer("Which river joins the Rhine in Duisburg?", "", False,
                   claims=[Claim("The Emscher joins it [1].", supported=True, quote=quote)])
    right = Answer(wrong.question, "", False, claims=[Claim("The Ruhr joins it [1].", supported=True, quote=quote)])
    assert entity_in_quote(wrong) == 0.0 and entity_in_quote(right) == 1.0
    assert entity_in_quote(Answer("q", "", True)) is None


def test_the_refusal_tradeoff_moves_with_the_coverage_threshold() -> None:
    from eval.report import refusal_tradeoff
    from eval.runner import QuestionResult

    def result(answerable: bool, coverage: float | None) -> QuestionResult:
        signals = {} if coverage is None else {"coverage": coverage, "window_coverage": 1.0, "type_ok": 1.0}
        return QuestionResult("q", "c", "q?", answerable, [], {}, {},
                              answer={"refused": coverage is None, "abstention": signals})

    results = [result(True, 1.0), result(True, 0.6), result(False, 0.5), result(False, None)]
    points = refusal_tradeoff(results, {"min_window_coverage": 0.0, "check_type": False}, knob="min_coverage")
    assert points[0] == (0.0, 0.5, 0.0)  # only the model's own refusal
    assert points[11] == (0.55, 1.0, 0.0)  # 0.5 coverage refused, 0.6 still answered
    assert points[20] == (1.0, 1.0, 0.5)  # full coverage is never below the threshold; 0.6 is
    assert points[13] == (0.65, 1.0, 0.5)
    assert refusal_tradeoff(results[:2], {"min_window_coverage": 0.0, "check_type": False}, knob="min_coverage") == []


def test_utility_rewards_right_answers_and_refusals_and_punishes_guesses() -> None:
    from eval.metrics import utility

    assert [utility(True, False, True), utility(True, True, False), utility(True, False, False)] == [1.0, 0.0, -1.0]
    assert [utility(False, True, False), utility(False, False, False)] == [1.0, -1.0]

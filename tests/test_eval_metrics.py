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

"""The eval's questions in other languages: the set holds them with the question each translates, facts in
Chinese are matched, and the report sets each language beside the English questions it translates."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from eval.evalset import EvalQuestion, EvalSetError, load_eval_set
from eval.matching import missing_fact_groups
from eval.report import write_markdown
from eval.runner import QuestionResult, summarise


def test_five_languages_each_translate_questions_of_the_set(questions: list[EvalQuestion]) -> None:
    by_id = {q.id: q for q in questions}
    languages = Counter(q.language for q in questions if q.language)
    assert all(languages[language] >= 4 for language in ("es", "fr", "ru", "de", "zh")), languages
    assert sum(languages.values()) >= 26 and all(q.category == "other language" for q in questions if q.language)
    mirrored = [q for q in questions if q.mirrors]
    assert len(mirrored) >= 20 and all(by_id[q.mirrors].language is None for q in mirrored)  # English ones
    assert all(by_id[q.mirrors].answerable == q.answerable for q in mirrored)
    assert all(by_id[q.mirrors].evidence_keys == q.evidence_keys for q in mirrored)  # the English question's
    assert sum(not q.answerable for q in mirrored) >= 5  # traps too


def test_a_mirror_must_name_a_question_of_the_set(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"id": "es-x", "question": "¿Qué?", "category": "c", "answerable": False,
                                "language": "es", "mirrors": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match="mirrors no question of the set: es-x mirrors x"):
        load_eval_set(path)


def test_facts_are_found_in_chinese_text_without_spaces() -> None:
    answer = "Sentinel行动于2009年8月和9月进行，共有10个海关机构参加。"
    assert missing_fact_groups(answer, [["August", "8月"], ["2009"], ["10", "十"], ["2009年8月"]]) == []
    assert missing_fact_groups(answer, [["100"], ["1"]]) == [["100"], ["1"]]  # still whole numbers only


def _result(qid: str, fact: float | None, language: str | None = None, mirrors: str | None = None,
            refused: float | None = None) -> QuestionResult:
    scores: dict[str, float | None] = {"fact_accuracy": fact} if fact is not None else {"refusal_accuracy": refused}
    return QuestionResult(qid, "c", "q?", fact is not None, [], scores, {}, language=language, mirrors=mirrors)


def test_the_report_sets_each_language_beside_the_english_questions(tmp_path: Path) -> None:
    results = [_result("a", 1.0), _result("b", 1.0), _result("trap", None, refused=1.0),
               _result("es-a", 1.0, "es", "a"), _result("es-b", 0.0, "es", "b"), _result("es-c", 1.0, "es"),
               _result("es-trap", None, "es", "trap", refused=0.0), _result("de-a", 1.0, "de", "a")]
    summary = summarise(results)
    spanish = summary["by_language"]["es"]
    assert spanish["questions"] == 4 and spanish["mirrored"] == 3
    assert spanish["metrics"]["fact_accuracy"]["value"] == pytest.approx(2 / 3)  # all its answerable questions
    assert spanish["translated"]["fact_accuracy"]["value"] == 0.5 and spanish["english"]["fact_accuracy"]["value"] == 1
    assert spanish["translated"]["refusal_accuracy"]["value"] == 0 and spanish["english"]["refusal_accuracy"]["value"] == 1
    assert list(summary["by_language"]) == ["de", "es"]
    report = write_markdown(tmp_path, {}, summary, results).read_text(encoding="utf-8")
    assert "## By language" in report and "| es (4) | 0.67 | 0.00 | – | 3 | 0.50 / 1.00 | 0.00 / 1.00 |" in report
    assert "## By language" not in write_markdown(tmp_path, {}, summarise(results[:3]), results[:3]).read_text(
        encoding="utf-8")

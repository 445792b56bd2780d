"""The bundled eval sets: size, categories, traps, and how a set file is read or refused. Checked against the real
indexes of their corpora: tests/integration/test_eval_set.py."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from eval.evalset import EvalQuestion, EvalSetError, load_eval_set

MINIMUM_PER_CATEGORY = {"paraphrase": 8, "across documents": 5, "other language": 3, "unanswerable": 10,
                        "out of scope": 3, "single fact": 1, "several facts": 1, "numbers and dates": 1}


def test_set_size_and_categories(questions: list[EvalQuestion]) -> None:
    assert len(questions) >= 60
    counts = Counter(q.category for q in questions)
    for category, minimum in MINIMUM_PER_CATEGORY.items():
        assert counts[category] >= minimum, category
    assert set(counts) == set(MINIMUM_PER_CATEGORY)  # no stray, misspelt category
    assert all(not q.answerable for q in questions if q.category == "unanswerable")
    assert sum(1 for q in questions if len({e.doc_id for e in q.evidence}) >= 2) >= 5


def test_the_traps_are_probed(questions: list[EvalQuestion]) -> None:
    by_id = {q.id: q for q in questions}
    assert "January 21, 2008" in by_id["meeting-date-2009"].forbidden  # the report's own wrong year
    assert "Andrey" in by_id["andrey-title-2009"].question
    assert ("002_50d104ffb6a67dba.txt", 13) in by_id["ru-communique"].evidence_keys  # the Russian line
    assert ("002_50d104ffb6a67dba.txt", 1) in by_id["banner-language"].evidence_keys  # the Spanish banner


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "not JSON"),
    (json.dumps({"id": "x", "question": "q?", "category": "c", "answerable": True}), "needs facts and evidence"),
    (json.dumps({"id": "x", "question": "q?", "category": "c", "answerable": False, "facts": [["a"]]}),
     "has no facts and no evidence"),
    (json.dumps({"id": "x", "question": "q?", "category": "c", "answerable": False, "colour": "red"}), "colour"),
])
def test_a_bad_row_is_one_line_naming_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "set.jsonl"
    good = json.dumps({"id": "ok", "question": "q?", "category": "c", "answerable": False})
    path.write_text(good + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match=message) as caught:
        load_eval_set(path)
    assert f"{path}:2:" in str(caught.value) and "\n" not in str(caught.value)


def test_duplicate_ids_and_missing_files_are_refused(tmp_path: Path) -> None:
    row = json.dumps({"id": "same", "question": "q?", "category": "c", "answerable": False})
    path = tmp_path / "set.jsonl"
    path.write_text(f"{row}\n{row}\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match="duplicate ids: same"):
        load_eval_set(path)
    with pytest.raises(EvalSetError, match="cannot read eval set"):
        load_eval_set(tmp_path / "absent.jsonl")


def test_select_keeps_set_order(questions: list[EvalQuestion]) -> None:
    from eval.evalset import select

    subset = select(questions, per_category=2)
    assert Counter(q.category for q in subset) == {c: 2 for c in MINIMUM_PER_CATEGORY}
    assert [q.id for q in subset] == [q.id for q in questions if q in subset]
    assert [q.category for q in select(questions, ["paraphrase"], limit=3)] == ["paraphrase"] * 3


def test_raw_squad_rows_are_read_as_they_are(tmp_path: Path) -> None:
    rows = [{"id": "a", "question": "In what country is Normandy located?", "doc": "normans.txt", "context": "…",
             "answerable": True, "answers": ["France", "France", " France "], "paragraph": 2},
            {"id": "b", "question": "Who gave their name to Normandy in the 1000's?", "doc": "normans.txt",
             "context": "…", "answerable": False, "plausible": ["Normans"], "paragraph": 2}]
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    answerable, premise = load_eval_set(path)
    assert answerable.facts == [["France"]] and answerable.evidence[0].key == ("normans.txt", 2)
    assert not premise.answerable and premise.forbidden == ["Normans"] and premise.related[0].key == ("normans.txt", 2)
    path.write_text(json.dumps({"doc": "x.txt", "context": "…", "paragraph": 1}) + "\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match=r"questions.jsonl:1: a SQuAD row without 'id'"):
        load_eval_set(path)


def test_an_unknown_set_name_is_one_line() -> None:
    from eval.evalset import resolve_set

    with pytest.raises(EvalSetError, match="no eval set named squad3; bundled: customs-reports, squad2-normans"):
        resolve_set("squad3")

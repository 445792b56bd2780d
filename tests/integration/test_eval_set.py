"""The bundled eval sets check themselves against the real indexes of their corpora (the bundled reports, the SQuAD
article)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from eval.evalset import EvalQuestion, load_eval_set, missing_evidence, unsupported_facts
from rag.store.index import SegmentedIndex


def test_every_evidence_paragraph_exists(questions: list[EvalQuestion], bundled_index: SegmentedIndex) -> None:
    assert missing_evidence(questions, bundled_index) == []


def test_every_fact_group_appears_in_its_evidence(questions: list[EvalQuestion], bundled_index: SegmentedIndex) -> None:
    assert unsupported_facts(questions, bundled_index) == []


def test_a_mistyped_gold_answer_is_caught(questions: list[EvalQuestion], bundled_index: SegmentedIndex) -> None:
    sentinel = next(q for q in questions if q.id == "sentinel-seized")
    typo = sentinel.model_copy(update={"facts": [["106"], ["160 kg"]]})
    assert unsupported_facts([typo], bundled_index) == [
        "sentinel-seized: no alternative of ['106'] appears in its evidence"]
    moved = EvalQuestion.model_validate(
        {**sentinel.model_dump(), "evidence": [{"doc_id": "002_50d104ffb6a67dba.txt", "paragraph": 99}]})
    assert missing_evidence([moved], bundled_index) == ["sentinel-seized: 002_50d104ffb6a67dba.txt ¶99 is not in the index"]


def test_the_squad_set_is_bundled_with_its_corpus_and_fits_it(squad_index_dir: Path) -> None:
    from eval.evalset import BUNDLED_SETS, resolve_set

    path, corpus = resolve_set("squad2-normans")
    assert (path, corpus) == BUNDLED_SETS["squad2-normans"] and (corpus / "normans.txt").is_file()
    questions = load_eval_set(path)
    counts = Counter(q.category for q in questions)
    assert counts == {"answerable": 96, "false premise": 112}
    assert all(q.related and q.forbidden for q in questions if not q.answerable)
    index = SegmentedIndex.load(squad_index_dir)
    assert missing_evidence(questions, index) == []  # SQuAD context i is paragraph i + 2
    assert unsupported_facts(questions, index) == []

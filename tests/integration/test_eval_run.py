"""`rag eval` as CI runs it: the bundled set, real index, real model; thresholds just under what was measured.

Measured values and the command that measured them are in docs/evaluation.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.settings import LLMSettings
from tests.integration.test_cli import _one_line_error, rag

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
QUESTIONS, ANSWERABLE = 116, 94  # the customs set: 89 written in English or translated, and 27 more translations

# Retrieval only (2 s): just under the measured recall@5 0.869, MRR 0.642. Without answers a question in another
# language is searched as asked, untranslated: the 72 English answerable questions alone measure 0.884 and 0.715.
RETRIEVAL_THRESHOLDS = ["--min-recall-at-5", "0.85", "--min-mrr", "0.62"]
# The answer eval on the embedded model runs on CI_SUBSET; thresholds sit just under what the default (extract,
# then answer) measured on it (recall@5 0.86, facts 0.50, citation precision 0.76, refusals 0.75, false refusals
# 0.17, invented markers 0). Facts were 0.54 while questions in other languages were answered with the English
# quotes alone; their answers are now written in their language, and facts are matched in what was written
# (1 of the subset's 4 such questions holds its facts; docs/evaluation.md).
CI_SUBSET = ["--per-category", "4"]
ANSWER_THRESHOLDS = ["--min-recall-at-5", "0.85", "--min-fact-accuracy", "0.48", "--min-citation-precision", "0.70",
                     "--min-refusal-accuracy", "0.70", "--max-false-refusal-rate", "0.21",
                     "--max-hallucinated-citation-rate", "0.05"]

# The SQuAD article's subset: the first 16 answerable and 16 false-premise questions (about 3 min). They are
# harder than the article as a whole (recall@5 0.69 against 0.95), so the thresholds sit just under what this
# subset measured with the defaults (extract, then answer), replayed from the full run: facts 0.44, refusals 0.12
# (2 of 16), false refusals 0.25, no invented markers; on all 208 questions facts are 0.68 (docs/evaluation.md).
SQUAD_PER_KIND = 16
SQUAD_QUESTIONS = 2 * SQUAD_PER_KIND
SQUAD_SUBSET = ["--per-category", str(SQUAD_PER_KIND)]
SQUAD_THRESHOLDS = ["--min-recall-at-5", "0.65", "--min-fact-accuracy", "0.40", "--min-refusal-accuracy", "0.10",
                    "--max-false-refusal-rate", "0.32", "--max-hallucinated-citation-rate", "0.05"]


def _written(out: Path, questions: int) -> dict:
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(results["questions"]) == questions
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Metrics" in report and "| recall@5 |" in report and "## Failures" in report
    assert (out / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return results


def test_retrieval_eval_meets_its_thresholds(bundled_index_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = rag("eval", "--retrieval-only", "--index-dir", str(bundled_index_dir), "--out", str(out),
                 *RETRIEVAL_THRESHOLDS)
    assert result.returncode == 0, result.stderr
    assert "recall" not in result.stdout  # the table goes to stderr; stdout stays clean for pipes
    assert "R@5" in result.stderr and f"overall ({QUESTIONS})" in result.stderr
    results = _written(out, QUESTIONS)
    overall = results["summary"]["overall"]
    assert "fact_accuracy" not in overall and overall["recall@5"]["n"] == ANSWERABLE  # only answerable questions


# The same questions over the reports as PDFs (eval/pdf_corpus.py): just under the measured recall@5 0.858, MRR
# 0.643, and never more than 0.02 below the .txt set (docs/evaluation.md).
PDF_THRESHOLDS = ["--min-recall-at-5", "0.84", "--min-mrr", "0.62"]


def test_the_pdf_set_retrieves_as_well_as_the_text_set(bundled_index_dir: Path, tmp_path: Path) -> None:
    text = rag("eval", "--retrieval-only", "--index-dir", str(bundled_index_dir), "--out", str(tmp_path / "txt"))
    pdf = rag("eval", "--retrieval-only", "--set", "customs-pdf", "--out", str(tmp_path / "pdf"), *PDF_THRESHOLDS,
              env={"XDG_CACHE_HOME": str(tmp_path / "cache"),  # its PDFs are written there, the models are not
                   "RAG_LLM__MODEL_CACHE_DIR": str(LLMSettings().model_cache_dir)})
    assert text.returncode == 0 and pdf.returncode == 0, text.stderr + pdf.stderr
    scores = [_written(tmp_path / out, QUESTIONS)["summary"]["overall"] for out in ("txt", "pdf")]
    for metric in ("recall@5", "mrr"):
        assert scores[1][metric]["value"] >= scores[0][metric]["value"] - 0.02, (metric, scores)
    assert len(list((tmp_path / "cache").glob("rag/eval/customs-pdf-*/reports/*.pdf"))) == 5


def test_a_missed_threshold_fails_the_run(bundled_index_dir: Path, tmp_path: Path) -> None:
    result = rag("eval", "--retrieval-only", "--category", "other language", "--index-dir", str(bundled_index_dir),
                 "--out", str(tmp_path / "eval"), "--min-recall-at-5", "1.0", "--min-fact-accuracy", "0.1")
    assert result.returncode == 1
    assert "threshold missed: recall@5 is" in result.stderr
    assert "threshold missed: fact_accuracy was not measured" in result.stderr
    _written(tmp_path / "eval", 33)  # the questions in another language


def test_a_set_for_another_corpus_is_one_line_error(bundled_index_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"id": "q1", "question": "Who?", "category": "single fact", "facts": [["x"]],
                                "evidence": [{"doc_id": "other.txt", "paragraph": 1}]}) + "\n", encoding="utf-8")
    result = rag("eval", "--retrieval-only", "--set", str(path), "--index-dir", str(bundled_index_dir),
                 "--out", str(tmp_path / "eval"))
    _one_line_error(result, "1 evidence paragraphs are not in the index", "other.txt ¶1")


@pytest.mark.llm
def test_answer_eval_on_the_embedded_model_meets_its_thresholds(bundled_index_dir: Path) -> None:
    """CI's answer eval: the first 4 questions of each category (32), answered by the embedded GGUF.

    The whole set takes about 35 minutes on 2 cores, over CI's 20-minute budget for it; the
    subset takes about 12. The report stays in tests/artifacts/eval for reading.
    """
    out = ARTIFACTS / "eval"
    result = rag("eval", "--llm", "embedded", *CI_SUBSET, "--index-dir", str(bundled_index_dir), "--out", str(out),
                 *ANSWER_THRESHOLDS, timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    results = _written(out, 32)
    assert results["context"]["llm"].startswith("embedded / qwen2.5-coder-1.5b")
    sentinel = next(q for q in results["questions"] if q["id"] == "sentinel-seized")
    # Answered, ¶9 quoted first with every fact; the ranker's sentence (from the best retrieved paragraph, ¶12 here)
    # joins it, so the citation precision of this answer is 0.5.
    assert sentinel["scores"]["false_refusal_rate"] == 0.0 and sentinel["scores"]["fact_accuracy"] == 1.0
    first = sentinel["answer"]["citations"][0]
    assert [first["doc_id"], first["paragraph"]] == ["002_50d104ffb6a67dba.txt", 9] and "160 kg" in first["quote"]


@pytest.mark.llm
def test_answer_eval_on_the_squad_article_meets_its_thresholds(tmp_path: Path) -> None:
    """CI's second answer eval: SQuAD 2.0 "Normans", SQUAD_SUBSET of each kind, answered by the embedded GGUF.

    Half the questions are written to look answerable; they must be refused. The set's own corpus
    is indexed into the output folder (``rag eval --set squad2-normans`` does that by itself).
    """
    out = ARTIFACTS / "eval-squad"
    result = rag("eval", "--set", "squad2-normans", "--llm", "embedded", *SQUAD_SUBSET, "--out", str(out),
                 *SQUAD_THRESHOLDS, timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    results = _written(out, SQUAD_QUESTIONS)
    assert results["context"]["corpus"].endswith("data/squad2-normans")
    assert {q["category"] for q in results["questions"]} == {"answerable", "false premise"}

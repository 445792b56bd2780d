"""The eval-set format: one JSON object per line, validated on load.

Bring your own set for your own corpus in the same format::

    {"id": "sentinel-seized", "category": "several facts",
     "question": "What did Operation Sentinel seize?", "answerable": true,
     "facts": [["100"], ["160 kg", "160 kilograms"], ["heroin", "opium", "cannabis", "marijuana"]],
     "evidence": [{"doc_id": "002_50d104ffb6a67dba.txt", "paragraph": 9}]}

- ``facts``: groups of accepted alternatives; a correct answer holds at least one
  alternative of *every* group (matched after ``eval.matching.normalise``).
- ``evidence``: the paragraphs that hold those facts (``doc_id`` as the index names the
  file, ``paragraph`` as ``rag search`` and citations number it, from 1).
- ``forbidden`` (optional): phrases a correct answer must not contain, for traps such as
  a report that dates one meeting in two different years.
- ``answerable: false`` questions expect a refusal; they have no facts and no evidence.
  ``related`` (optional) names the paragraph a false-premise question was built on: a useful
  refusal cites it ("the reports do not say X was removed; they say it was listed [1]").
- SQuAD 2.0 rows (``doc``, ``context``, ``paragraph``, ``answers``/``plausible``) are converted on
  load (``eval.squad``), so any SQuAD article can be scored as it is.
- ``language`` (optional): the question's language (ISO 639-1, "es"), for questions not in the reports' own;
  ``mirrors`` (optional): the id of the question it translates, so the report can set the two side by side.
- ``note`` (optional): why the question is there.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from eval.errors import EvalSetError
from eval.matching import contains, normalise
from eval.squad import from_squad, is_squad_row
from rag.store.index import SegmentedIndex
from rag.types import ParagraphKey

_SETS = Path(__file__).resolve().parent / "sets"
_DATA = Path(__file__).resolve().parent.parent / "data"
BUNDLED_SET = _SETS / "customs_reports.jsonl"
# Named sets, each with the corpus it was written for: ``rag eval --set squad2-normans``.
BUNDLED_SETS: dict[str, tuple[Path, Path]] = {
    "customs-reports": (BUNDLED_SET, _DATA / "reports"),
    "squad2-normans": (_SETS / "squad2_normans.jsonl", _DATA / "squad2-normans"),
}

GENERATED_SET = "customs-pdf"  # the customs reports as PDFs, same questions (eval.pdf_corpus)


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    doc_id: str
    paragraph: int = Field(ge=1)

    @property
    def key(self) -> ParagraphKey:
        return ParagraphKey(self.doc_id, self.paragraph)


class EvalQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    category: str = Field(min_length=1)
    answerable: bool = True
    facts: list[list[str]] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    forbidden: list[str] = Field(default_factory=list)
    related: list[Evidence] = Field(default_factory=list)
    language: str | None = Field(None, min_length=2)
    mirrors: str | None = Field(None, min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EvalQuestion:
        if self.answerable and not (self.facts and self.evidence):
            raise ValueError("an answerable question needs facts and evidence")
        if not self.answerable and (self.facts or self.evidence):
            raise ValueError("an unanswerable question has no facts and no evidence")
        if self.answerable and self.related:
            raise ValueError("only an unanswerable question has related paragraphs (answerable ones have evidence)")
        if any(not group or not all(alt.strip() for alt in group) for group in self.facts):
            raise ValueError("every fact group needs at least one non-empty alternative")
        return self

    @property
    def evidence_keys(self) -> set[ParagraphKey]:
        return {e.key for e in self.evidence}


def load_eval_set(path: Path = BUNDLED_SET) -> list[EvalQuestion]:
    """Read and validate a JSONL eval set; any problem is one line naming the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(f"cannot read eval set {path}: {exc}") from None
    questions: list[EvalQuestion] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(EvalQuestion.model_validate(from_squad(row) if is_squad_row(row) else row))
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{path}:{number}: not JSON: {exc.msg}") from None
        except KeyError as exc:
            raise EvalSetError(f"{path}:{number}: a SQuAD row without {exc}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "row"
            raise EvalSetError(f"{path}:{number}: {where}: {first['msg']}") from None
    ids = [q.id for q in questions]
    if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
        raise EvalSetError(f"{path}: duplicate ids: {', '.join(duplicates)}")
    if not questions:
        raise EvalSetError(f"{path}: the eval set is empty")
    if unknown := sorted(f"{q.id} mirrors {q.mirrors}" for q in questions if q.mirrors and q.mirrors not in ids):
        raise EvalSetError(f"{path}: mirrors no question of the set: {', '.join(unknown)}")
    return questions


def resolve_set(name_or_path: str | Path | None) -> tuple[Path, Path | None]:
    """A bundled set's file and corpus by name, or a user's own JSONL (its corpus is the caller's).

    ``customs-pdf`` (``GENERATED_SET``) is written on first use: ``eval.pdf_corpus``."""
    if name_or_path is None:
        return BUNDLED_SETS["customs-reports"]
    if str(name_or_path) in BUNDLED_SETS:
        return BUNDLED_SETS[str(name_or_path)]
    if str(name_or_path) == GENERATED_SET:
        from eval.pdf_corpus import customs_pdf_set

        return customs_pdf_set()
    path = Path(name_or_path)
    if not path.exists() and path.suffix != ".jsonl":
        raise EvalSetError(f"no eval set named {name_or_path}; bundled: {', '.join([*BUNDLED_SETS, GENERATED_SET])}, "
                           "or give a .jsonl path")
    return path, None


def select(questions: list[EvalQuestion], categories: list[str] | None = None, per_category: int | None = None,
           limit: int | None = None) -> list[EvalQuestion]:
    """A subset in set order: only ``categories``, at most ``per_category`` of each, at most ``limit`` in all."""
    chosen: list[EvalQuestion] = []
    taken: Counter[str] = Counter()
    for question in questions:
        if (categories and question.category not in categories) or (
                per_category is not None and taken[question.category] >= per_category):
            continue
        taken[question.category] += 1
        chosen.append(question)
    return chosen[:limit]


def _paragraph_text(index: SegmentedIndex, evidence: Evidence) -> str | None:
    try:
        return index.paragraph(evidence.doc_id, evidence.paragraph).text
    except KeyError:
        return None


def missing_evidence(questions: list[EvalQuestion], index: SegmentedIndex) -> list[str]:
    """Evidence paragraphs the index does not hold: the set was written for another corpus."""
    return [f"{q.id}: {e.doc_id} ¶{e.paragraph} is not in the index"
            for q in questions for e in q.evidence + q.related if _paragraph_text(index, e) is None]


def unsupported_facts(questions: list[EvalQuestion], index: SegmentedIndex) -> list[str]:
    """Fact groups none of whose alternatives appears in the question's evidence: a mistyped gold answer."""
    problems = []
    for q in questions:
        evidence = normalise(" ".join(_paragraph_text(index, e) or "" for e in q.evidence))
        for group in q.facts:
            if not any(contains(evidence, alternative) for alternative in group):
                problems.append(f"{q.id}: no alternative of {group} appears in its evidence")
    return problems

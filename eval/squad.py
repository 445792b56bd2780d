"""SQuAD 2.0 rows -> the project's eval format, so any SQuAD article can be scored with ``rag eval``.

A SQuAD row names its ``doc`` and the 1-based ``paragraph`` of its context in that document.
Answerable rows become one fact group of their accepted answers; unanswerable rows (written
to *look* answerable) expect a refusal, keep their context paragraph as ``related`` (a good
refusal names it) and their ``plausible`` span as ``forbidden`` (the trap the question was
built around). ``load_eval_set`` converts such rows on the fly; this module's command writes
the bundled copy::

    python -m eval.squad ../shared/squad2-normans/questions.jsonl eval/sets/squad2_normans.jsonl

SQuAD 2.0 is CC BY-SA 4.0 (Rajpurkar, Jia and Liang, 2018).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ANSWERABLE, FALSE_PREMISE = "answerable", "false premise"


def is_squad_row(row: dict[str, Any]) -> bool:
    return "context" in row and "doc" in row and "paragraph" in row


def _unique(strings: list[str]) -> list[str]:
    return list(dict.fromkeys(s.strip() for s in strings if s.strip()))


def from_squad(row: dict[str, Any]) -> dict[str, Any]:
    """One SQuAD row as an eval-set row (see ``eval.evalset``)."""
    where = [{"doc_id": row["doc"], "paragraph": int(row["paragraph"])}]
    converted: dict[str, Any] = {"id": str(row["id"]), "question": row["question"].strip()}
    if row.get("answerable", bool(row.get("answers"))):
        converted.update(category=ANSWERABLE, answerable=True, facts=[_unique(row["answers"])], evidence=where)
    else:
        converted.update(category=FALSE_PREMISE, answerable=False, related=where,
                         forbidden=_unique(row.get("plausible", [])))
    return converted


def main() -> None:
    parser = argparse.ArgumentParser(description="Convert a SQuAD 2.0 questions.jsonl to the eval-set format.")
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.source.read_text(encoding="utf-8").splitlines() if line.strip()]
    args.target.write_text("".join(json.dumps(from_squad(r), ensure_ascii=False) + "\n" for r in rows),
                           encoding="utf-8")
    print(f"{len(rows)} questions -> {args.target}")


if __name__ == "__main__":
    main()

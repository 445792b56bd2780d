"""Cross-validate the abstention thresholds on recorded eval runs of both bundled sets, without the LLM.

Each ``results.json`` holds the model's raw answers; citations and the evidence check run again
under every threshold on a grid. Thresholds are chosen on some folds and scored on the others
(leave-one-set-out, then 5 folds over both sets), so what is reported is held-out, never the fit.
The objective is a careful analyst's: a right answer or a right refusal counts +1, a refused
answerable question 0, a wrong answer or an answered trap -1; both sets weigh the same, and no
set may refuse more than one answerable question in five.

Usage (after ``rag eval --llm embedded --out runs/customs`` and ``rag eval --set squad2-normans --out runs/squad``)::

    .venv/bin/python bench/abstention.py runs/customs/results.json runs/squad/results.json
"""

from __future__ import annotations

import argparse
import itertools
import random
from dataclasses import dataclass, replace
from pathlib import Path

from replay_citations import RecordedRun, resolve  # bench/ is on the path when a bench script runs
from rich.console import Console
from rich.table import Table

from eval.matching import forbidden_found, missing_fact_groups
from rag import Settings
from rag.answer.abstention import Abstainer, Evidence, assess, embedding_similarity
from rag.pipeline import Pipeline

GRID = {"min_coverage": [0.0, 0.5, 0.6, 0.75, 0.85],
        "min_window_coverage": [0.0, 0.34, 0.5],
        "check_type": [False, True],
        "min_source_coverage": [0.0, 0.6, 0.75, 0.85],
        "max_refusal_probability": [1.0, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005]}
# (abstention.term_similarity, abstention.window_sentences): 1.0 is word families only; a window of 0 is the
# supporting sentence alone (in the extract mode, the sentence the model chose).
LEVELS = [(similarity, window) for similarity in (1.0, 0.7) for window in (1, 0)]


@dataclass
class Case:
    set_name: str
    answerable: bool
    refused_before: bool  # refused by the model or by citation checks, before the evidence check
    correct: bool  # an answerable question answered with every fact (when not refused)
    trapped: bool
    question: str
    evidence: dict[tuple[float, int], Evidence]  # per LEVELS; empty when refused before the check


def replay(path: Path, shared: Pipeline) -> list[Case]:
    run = RecordedRun.load(path)
    pipeline = Pipeline(shared.settings.model_copy(update={"index": shared.settings.index.model_copy(
        update={"index_dir": Path(run.data["context"]["index"])})}), embedder=shared.embedder)  # the run's index
    similar = embedding_similarity(pipeline.embedder)
    cases = []
    for record in run.data["questions"]:
        question, recorded = run.questions[record["id"]], record["answer"]
        sources = run.sources(recorded)
        asked = recorded.get("search_question") or record["question"]
        resolved = resolve(recorded, sources, asked, pipeline)
        probability = (recorded.get("abstention") or {}).get("refusal_probability")  # recorded: it needs the LLM
        evidence = {} if resolved.refused else {
            level: replace(assess(asked, resolved.claims, resolved.citations, sources, level[1], similar, level[0]),
                           refusal_probability=probability)
            for level in LEVELS}
        correct = question.answerable and not resolved.refused and not missing_fact_groups(resolved.text,
                                                                                           question.facts)
        trapped = not question.answerable and bool(forbidden_found(resolved.text, question.forbidden))
        cases.append(Case(run.set_path.stem, question.answerable, resolved.refused, correct, trapped, asked,
                          evidence))
    return cases


@dataclass(frozen=True)
class Choice:
    abstainer: Abstainer
    similarity: tuple[float, int]  # a level of LEVELS: term similarity, window sentences

    def describe(self) -> str:
        a = self.abstainer
        return (f"{a.min_coverage:g} / {a.min_window_coverage:g} / {a.min_source_coverage:g} / {a.check_type} / "
                f"{a.max_refusal_probability:g} / {self.similarity[0]:g} / {self.similarity[1]}")


def scores(cases: list[Case], choice: Choice) -> dict[str, float]:
    refused = [c.refused_before or choice.abstainer.refuses(c.evidence[choice.similarity]) for c in cases]
    unanswerable = [r for c, r in zip(cases, refused) if not c.answerable]
    answerable = [(c, r) for c, r in zip(cases, refused) if c.answerable]
    refusal = sum(unanswerable) / max(len(unanswerable), 1)
    false_refusal = sum(r for _, r in answerable) / max(len(answerable), 1)
    facts = sum(c.correct and not r for c, r in answerable) / max(len(answerable), 1)
    wrong = sum(not c.correct and not r for c, r in answerable) / max(len(answerable), 1)
    # What a careful analyst gains: a right answer or a right refusal +1, a refused answer 0, a confident guess -1.
    utility = (sum(1 if r else -1 for r in unanswerable) + len(answerable) * (facts - wrong)) / len(cases)
    return {"refusal": refusal, "false_refusal": false_refusal, "facts": facts, "utility": utility}


MAX_FALSE_REFUSAL = 0.2  # a careful analyst accepts at most one answerable question in five refused, per set


def objective(cases: list[Case], choice: Choice) -> float:
    """Mean utility over the sets; minus infinity when a set refuses more than MAX_FALSE_REFUSAL of its answerable."""
    sets = sorted({c.set_name for c in cases})
    per_set = [scores([c for c in cases if c.set_name == s], choice) for s in sets]
    if any(p["false_refusal"] > MAX_FALSE_REFUSAL for p in per_set):
        return float("-inf")
    return sum(p["utility"] for p in per_set) / len(per_set)


def candidates() -> list[Choice]:
    return [Choice(Abstainer(c, w, t, src, p), level)
            for c, w, t, src, p, level in itertools.product(*GRID.values(), LEVELS)]


def best(cases: list[Case]) -> Choice:
    """The best objective; ties go to the gentlest thresholds and the plainest matching."""
    return max(candidates(), key=lambda ch: (round(objective(cases, ch), 6), -ch.abstainer.min_coverage,
                                             -ch.abstainer.min_window_coverage, -ch.abstainer.min_source_coverage,
                                             ch.abstainer.max_refusal_probability, ch.similarity[0], ch.similarity[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+")
    parser.add_argument("--dump", action="store_true", help="also print every question's signals")
    parser.add_argument("--preset", default="default", help="replay under this preset (e.g. write-first)")
    args = parser.parse_args()
    pipeline = Pipeline(Settings(preset=args.preset))
    cases = [case for path in args.results for case in replay(path, pipeline)]
    sets = sorted({c.set_name for c in cases})
    table = Table(title="abstention, held-out", title_justify="left")
    for column in ("fold", "cited / window / shown coverage / type / P(refusal) / similarity / window", "scored on", "refusal",
                   "false refusal", "facts", "utility"):
        table.add_column(column)

    def row(fold: str, chosen: Choice, test: list[Case], name: str) -> None:
        got = scores(test, chosen)
        table.add_row(fold, chosen.describe(), name, f"{got['refusal']:.2f}", f"{got['false_refusal']:.2f}",
                      f"{got['facts']:.2f}", f"{got['utility']:.2f}")

    off = Choice(Abstainer(0.0, 0.0, False), LEVELS[0])
    for name in sets:
        row("off (before)", off, [c for c in cases if c.set_name == name], name)
    for held in sets if len(sets) > 1 else []:  # leave one set out
        chosen = best([c for c in cases if c.set_name != held])
        row(f"fit on the other set{'s' if len(sets) > 2 else ''}", chosen, [c for c in cases if c.set_name == held],
            held)
    shuffled = cases[:]
    random.Random(0).shuffle(shuffled)
    folds = [shuffled[i::5] for i in range(5)]
    held_out: list[tuple[Case, Choice]] = []
    for i, fold in enumerate(folds):
        chosen = best([c for j, f in enumerate(folds) if j != i for c in f])
        held_out += [(c, chosen) for c in fold]
    for name in sets:
        test = [(c, a) for c, a in held_out if c.set_name == name]
        got = [scores([c], a) for c, a in test]
        unanswerable = [g["refusal"] for (c, _), g in zip(test, got) if not c.answerable]
        answerable = [g for (c, _), g in zip(test, got) if c.answerable]
        table.add_row("5-fold over both", "(per fold)", name, f"{sum(unanswerable) / max(len(unanswerable), 1):.2f}",
                      f"{sum(g['false_refusal'] for g in answerable) / max(len(answerable), 1):.2f}",
                      f"{sum(g['facts'] for g in answerable) / max(len(answerable), 1):.2f}",
                      f"{sum(g['utility'] for g in got) / max(len(got), 1):.2f}")
    chosen = best(cases)
    for name in sets:
        row("fit on all (the default)", chosen, [c for c in cases if c.set_name == name], name)
    console = Console(width=160)
    console.print(table)
    if args.dump:
        for c in cases:
            e = c.evidence.get(chosen.similarity)
            console.print(f"{c.set_name[:8]} {'A' if c.answerable else 'U'} {'ok ' if c.correct else '   '}"
                          f"{'refused' if c.refused_before else ''} "
                          + (f"cov {e.coverage:.2f} win {e.window_coverage:.2f} src {e.source_coverage:.2f} "
                             f"type {e.type_ok} p {e.refusal_probability} missing {e.missing}"
                             if e else "") + f"  {c.question}", markup=False)
    for knob in ("min_coverage", "min_source_coverage", "max_refusal_probability"):
        console.print(f"trade-off as {knob} moves (the rest as chosen):")
        for value in GRID[knob]:
            a = Choice(replace(chosen.abstainer, **{knob: value}), chosen.similarity)
            parts = [f"{n}: refusal {s['refusal']:.2f} false {s['false_refusal']:.2f} facts {s['facts']:.2f}"
                     for n, s in ((n, scores([c for c in cases if c.set_name == n], a)) for n in sets)]
            console.print(f"  {value:5.3f}  " + "; ".join(parts))


if __name__ == "__main__":
    main()

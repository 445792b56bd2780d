"""Pass/fail bounds on summary metrics, so CI fails when a change makes answers worse.

Example::

    failures = check(summary, [Threshold("recall@5", 0.9), Threshold("false_refusal_rate", 0.1, minimum=False)])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Threshold:
    metric: str  # a key of summary["overall"], e.g. "fact_accuracy"
    bound: float
    minimum: bool = True  # True: the metric must be >= bound; False: <= bound

    def describe(self) -> str:
        return f"{self.metric} {'>=' if self.minimum else '<='} {self.bound:g}"


def check(summary: dict[str, Any], thresholds: list[Threshold]) -> list[str]:
    """One line per threshold missed; a metric the run did not measure counts as missed."""
    failures = []
    for threshold in thresholds:
        measured = summary["overall"].get(threshold.metric)
        if measured is None or measured["value"] is None:
            failures.append(f"{threshold.metric} was not measured in this run (needed: {threshold.describe()})")
            continue
        value = measured["value"]
        if (value < threshold.bound) if threshold.minimum else (value > threshold.bound):
            failures.append(f"{threshold.metric} is {value:.3f}, needed {threshold.describe()}")
    return failures

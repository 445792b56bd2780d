"""Prove the answers: an eval set over the reports, per-question scores, reports and CI thresholds.

Run it with ``rag eval`` (see ``rag eval --help``), or from Python::

    from pathlib import Path
    from eval import BUNDLED_SET, evaluate, load_eval_set
    from rag import Pipeline, Settings
    evaluate(Pipeline(Settings()), load_eval_set(), Path("eval-results"), set_path=BUNDLED_SET)

Stages, each a module: ``evalset`` (format, loading, self-checks) -> ``runner`` (per-question
scores through the same ``Pipeline`` as ``ask()``) -> ``metrics`` (definitions) -> ``report``
(results.json, report.md, metrics.png) -> ``thresholds`` (pass/fail for CI).
"""

from eval.evalset import BUNDLED_SET, BUNDLED_SETS, EvalQuestion, EvalSetError, load_eval_set, resolve_set, select
from eval.runner import QuestionResult, run_eval, summarise
from eval.session import evaluate
from eval.thresholds import Threshold, check

__all__ = ["BUNDLED_SET", "BUNDLED_SETS", "EvalQuestion", "EvalSetError", "QuestionResult", "Threshold", "check", "evaluate",
           "load_eval_set", "resolve_set", "run_eval", "select", "summarise"]

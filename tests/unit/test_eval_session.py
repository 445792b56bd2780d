"""`rag eval` keeps log lines from breaking its progress bar without touching any module's logger."""

from __future__ import annotations

import io
import logging

from eval.session import _quiet_handlers


def test_handlers_print_only_warnings_while_the_bar_draws_and_loggers_are_left_alone() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root, pipeline_log = logging.getLogger(), logging.getLogger("rag.pipeline")
    root.addHandler(handler)
    level = pipeline_log.level
    pipeline_log.setLevel(logging.INFO)
    try:
        with _quiet_handlers():
            pipeline_log.info("answered in 1.0s")
            pipeline_log.warning("model fell back")
            assert pipeline_log.level == logging.INFO
        pipeline_log.info("after the run")
    finally:
        root.removeHandler(handler)
        pipeline_log.setLevel(level)
    assert stream.getvalue().splitlines() == ["model fell back", "after the run"]

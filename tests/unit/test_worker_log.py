"""The embedded worker's llama.cpp log: warnings and errors reach the app's log, the chatter does not."""

from __future__ import annotations

import pytest

from rag.llm.llama_worker import LoadLog


def test_warnings_and_errors_are_passed_on_and_info_is_kept_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    log = LoadLog()
    log.add(2, "load_tensors:          CPU model buffer size =  1060.00 MiB\n")  # INFO
    log.add(3, "llama_context: n_ctx_seq (512) < n_ctx_train")  # WARN, in two pieces:
    log.add(5, " -- the full capacity of the model will not be utilized\n")  # CONT
    log.add(4, "llama_model_load: error loading model: corrupted file\n")  # ERROR
    log.add(1, "debug chatter\n")  # DEBUG
    printed = capsys.readouterr().err.splitlines()
    warning = "llama_context: n_ctx_seq (512) < n_ctx_train -- the full capacity of the model will not be utilized"
    assert printed == [warning, "llama_model_load: error loading model: corrupted file"]
    assert log.buffers == {"CPU": 1060.0}  # every level still feeds the ready report and the error tail
    assert log.tail[-1] == "debug chatter"

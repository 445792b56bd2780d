"""The embedded runtime: safe on every CPU, and a crash in native code costs one answer, not the process.

The worker process runs the real packaged GGUF. Crashes are real signals sent to it
(SIGSEGV is what llama.cpp's AMX path raises on Sapphire Rapids; SIGKILL is what the
kernel's OOM killer sends), in the middle of a streamed answer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answer.prompt import warm_up_messages
from rag.errors import LLMUnavailable
from rag.llm.factory import make_embedded
from rag.llm.llama_cpp_llm import LlamaCppLLM
from rag.pipeline import Pipeline
from rag.settings import BUNDLED_CORPUS, Settings
from tests.conftest import SENTINEL, SENTINEL_ANSWER_TERMS, SENTINEL_QUESTION

pytestmark = pytest.mark.llm

# Buffer types llama.cpp uses when it repacks weights for a CPU feature: AMX (Sapphire Rapids) and the
# generic CPU_REPACK (AVX2/AVX-512/NEON layouts). Either one means the default took the risky path.
EXTRA_BUFFERS = ("AMX", "REPACK")


def _embedded(model_cache_dir: Path, **llm: object) -> LlamaCppLLM:
    """The embedded backend with these fields of the llm section."""
    settings = Settings(llm={"backend": "embedded", "model_cache_dir": model_cache_dir, **llm})
    return make_embedded(settings.llm, progress=False, warm_messages=warm_up_messages(settings.prompts))


def _pipeline(bundled_index_dir: Path, model_cache_dir: Path, **llm: object) -> Pipeline:
    """The pipeline over the bundled index, the embedded backend with these fields of the llm section.

    The model also writes its answer (``citations.write_answer``), so that text streams from the worker after the
    evidence: a crash or a hang can then strike mid-stream, which is what these tests provoke."""
    return Pipeline(Settings(llm={"backend": "embedded", "model_cache_dir": model_cache_dir, **llm},
                             index={"index_dir": bundled_index_dir, "corpus_dir": BUNDLED_CORPUS},
                             citations={"write_answer": True}))


def _sentinel_ok(pipeline: Pipeline) -> None:
    answer = pipeline.ask(SENTINEL_QUESTION)
    assert all(term in answer.text.lower() for term in SENTINEL_ANSWER_TERMS), answer.text
    assert SENTINEL in [(c.doc_id, c.paragraph) for c in answer.citations], answer.text


def test_default_configuration_keeps_weights_out_of_amx_and_repack_buffers(model_cache_dir: Path) -> None:
    """What `make demo` loads: Settings() defaults. On an AMX CPU an AMX buffer here means a segfault."""
    llm = _embedded(model_cache_dir)
    info = llm.warm_up()
    assert info["buffers"], "the load log reported no weight buffers: the check below would prove nothing"
    risky = [name for name in info["buffers"] if any(kind in name.upper() for kind in EXTRA_BUFFERS)]
    assert not risky, f"default settings put weights in {risky}: {info['buffers']}"
    assert llm.check().startswith("self-check passed"), llm.check()


def test_extra_buffers_setting_turns_repacking_back_on(model_cache_dir: Path) -> None:
    """The opt-in reaches llama.cpp (so the test above can fail): weights are repacked, or, on an AMX CPU,
    the worker crashes and the error is one line instead of a dead process."""
    llm = _embedded(model_cache_dir, extra_buffers=True, n_ctx=2048)
    try:
        info = llm.warm_up()
    except LLMUnavailable as exc:
        assert "while starting" in str(exc) and "RAG_LLM__EXTRA_BUFFERS=false" in str(exc), exc
        return
    finally:
        llm.worker.stop()
    flags = " ".join(info["system_info"].split()).upper()
    if not any(feature in flags for feature in ("AVX2 = 1", "AVX512 = 1", "NEON = 1", "AMX_INT8 = 1")):
        pytest.skip(f"this CPU has no repack kernels: {info['system_info']}")
    assert any(kind in name.upper() for name in info["buffers"] for kind in EXTRA_BUFFERS), info["buffers"]


def _kill_after_first_delta(pipeline: Pipeline, sig: int) -> tuple[str, str]:
    """Stream the Sentinel question and send ``sig`` to the worker once text has arrived."""
    stream = pipeline.stream(SENTINEL_QUESTION)
    received = ""
    with pytest.raises(LLMUnavailable) as caught:
        for delta in stream:
            if not received:
                os.kill(pipeline.llm.llm.worker.pid, sig)  # type: ignore[attr-defined]
            received += delta
    return received, str(caught.value)


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL], ids=["SIGSEGV", "SIGKILL"])
def test_a_worker_crash_mid_answer_is_one_line_and_the_next_question_is_answered(
        sig: int, bundled_index_dir: Path, model_cache_dir: Path) -> None:
    pipeline = _pipeline(bundled_index_dir, model_cache_dir, n_ctx=3072)  # its own worker
    pipeline.llm.llm.warm_up()  # type: ignore[attr-defined]
    first_pid = pipeline.llm.llm.worker.pid  # type: ignore[attr-defined]
    received, message = _kill_after_first_delta(pipeline, sig)
    assert received, "the answer had started streaming before the crash"
    assert message == (f"the embedded model stopped (signal {int(sig)}, {signal.Signals(sig).name}) while "
                       "answering; it has been restarted — ask again"), message
    _sentinel_ok(pipeline)
    assert pipeline.llm.llm.worker.pid != first_pid  # type: ignore[attr-defined]
    pipeline.llm.llm.worker.stop()  # type: ignore[attr-defined]


def test_a_hung_worker_is_restarted(bundled_index_dir: Path, model_cache_dir: Path) -> None:
    pipeline = _pipeline(bundled_index_dir, model_cache_dir, n_ctx=2560, embedded_token_timeout=10)
    pipeline.llm.llm.warm_up()  # type: ignore[attr-defined]
    pid = pipeline.llm.llm.worker.pid  # type: ignore[attr-defined]
    _, message = _kill_after_first_delta(pipeline, signal.SIGSTOP)
    assert message.startswith("the embedded model stopped responding for 10s while answering"), message
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the frozen worker was killed, not left behind
    worker = pipeline.llm.llm.worker  # type: ignore[attr-defined]
    # 10 s found the frozen worker; on a busy machine reading the next prompt can take longer than that
    worker.config = replace(worker.config, token_timeout=180.0)
    _sentinel_ok(pipeline)
    worker.stop()


def test_repeated_crashes_while_starting_give_one_line_with_what_to_try(model_cache_dir: Path) -> None:
    llm = _embedded(model_cache_dir, n_ctx=1536)
    killed: list[int] = []
    done = threading.Event()

    def kill_each_new_worker() -> None:  # a model that segfaults while loading, every time
        while not done.is_set():
            pid = llm.worker.pid
            if pid and pid not in killed and llm.worker.info is None:
                try:
                    os.kill(pid, signal.SIGSEGV)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.005)

    llm.start()  # the first worker dies before anyone waits for it: that still counts as a failed start
    first = llm.worker.pid
    assert first is not None
    os.kill(first, signal.SIGSEGV)
    killed.append(first)
    while llm.worker.alive():
        time.sleep(0.005)
    watcher = threading.Thread(target=kill_each_new_worker, daemon=True)
    watcher.start()
    try:
        with pytest.raises(LLMUnavailable) as caught:
            llm.warm_up()
    finally:
        done.set()
        watcher.join()
    message = str(caught.value)
    assert "\n" not in message and len(killed) == 2, (killed, message)
    assert message.startswith("the embedded model stopped (signal 11, SIGSEGV) while starting, 2 times; try "), message
    assert llm.warm_up()["buffers"]  # once the cause is gone, the next question starts it normally
    llm.worker.stop()


def test_cli_survives_a_worker_crash_with_one_line_and_the_next_ask_answers(
        tmp_path: Path, bundled_index_dir: Path, model_cache_dir: Path) -> None:
    env = {**os.environ, "RAG_INDEX__INDEX_DIR": str(bundled_index_dir),
           "RAG_LLM__MODEL_CACHE_DIR": str(model_cache_dir), "RAG_LLM__BACKEND": "embedded", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "rag.app.cli", "ask", "-v", SENTINEL_QUESTION]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    lines = []
    for line in process.stderr:  # the question went to the worker, which is reading the prompt: crash it now
        lines.append(line)
        if "the embedded model is answering (worker pid" in line:
            break
    else:
        raise AssertionError("".join(lines))
    time.sleep(0.3)
    os.kill(int(lines[-1].rsplit("pid", 1)[1].strip(" )\n")), signal.SIGSEGV)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, (process.returncode, stderr)
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: the embedded model stopped (signal 11, SIGSEGV) while answering"), stderr

    again = subprocess.run(command[:4] + ["--json", SENTINEL_QUESTION], check=False, env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and "160" in again.stdout, again.stderr


def test_the_refusal_probability_is_read_from_the_models_own_token_probabilities(model_cache_dir: Path) -> None:
    """``prefer``: how likely the model was to start with the refusal instead of the answer it gave."""
    from tests.fakes import REFUSAL, SYSTEM_PROMPT

    llm = _embedded(model_cache_dir)
    source = ("Sources:\n[1] Whilst in Russia, managers briefed the Secretary General on Operation Sentinel. The "
              "Operation resulted in over 100 seizures of drugs; more than 160 kg ranging from heroin to opium.")

    def refusal_probability(question: str, answer: str) -> float | None:
        messages = [{"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": f"{source}\n\nQuestion: {question}"}]
        return llm.prefer(messages, REFUSAL, answer)

    answerable = refusal_probability("What did Operation Sentinel seize?", "Over 100 seizures of drugs [1].")
    trap = refusal_probability("How many people were arrested during Operation Sentinel?", "Over 100 [1].")
    assert answerable is not None and trap is not None
    assert 0.0 < answerable < 0.05 < trap < 1.0, (answerable, trap)
    assert refusal_probability("What did Operation Sentinel seize?", REFUSAL) == 0.5  # the same text: no preference


def test_a_worker_whose_app_is_killed_mid_prompt_exits(bundled_index_dir: Path, model_cache_dir: Path) -> None:
    """An orphaned worker would go on reading the prompt for nobody, on the cores the next app needs."""
    env = {**os.environ, "RAG_INDEX__INDEX_DIR": str(bundled_index_dir),
           "RAG_LLM__MODEL_CACHE_DIR": str(model_cache_dir), "RAG_LLM__BACKEND": "embedded", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "rag.app.cli", "ask", "-v", SENTINEL_QUESTION], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    worker = next(int(line.rsplit("pid", 1)[1].strip(" )\n")) for line in process.stderr
                  if "the embedded model is answering (worker pid" in line)
    process.kill()  # SIGKILL: the app cannot tell its worker anything
    process.wait(30)
    deadline = time.monotonic() + 3  # reading the prompt alone takes longer
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError("the worker outlived its app by 3 s")

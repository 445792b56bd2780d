"""The parent's handle on the embedded model's worker process (``rag.llm.llama_worker``).

Native code can segfault or be killed for memory. Ollama runs its models in runner
processes for that reason, and so does this: the worker dies, the question gets one
line, a new worker starts, and the app (Gradio server, the user's own program) lives on.

Example::

    worker = LlamaWorker(WorkerConfig(model_path="model.gguf", n_ctx=4096, ...))
    info = worker.ready()                    # starts it, waits for load + self-check
    for delta in worker.chat({"messages": [...], "max_tokens": 64, ...}):
        print(delta, end="")
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from rag.errors import LLMUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    """Everything the worker needs to load the model; also the key that shares one worker per model."""

    model_path: str
    n_ctx: int
    n_threads: int
    n_batch: int
    n_ubatch: int
    flash_attn: bool
    extra_buffers: bool
    seed: int
    prompt_lookup_tokens: int = 0  # 0: off; else tokens guessed ahead from the prompt (rag.llm.lookup)
    check_messages: tuple[tuple[tuple[str, str], ...], ...] = field(default=())  # hashable chat messages
    start_timeout: float = 180.0  # seconds for load + self-check
    token_timeout: float = 180.0  # seconds without a token before the worker is declared hung
    start_attempts: int = 2  # crashes in a row while starting before giving up with advice

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["check_messages"] = [dict(message) for message in self.check_messages]
        return data


class WorkerDied(Exception):
    """The worker process ended (crash, kill, OOM); ``str`` says how, in a few words."""


def describe_exit(code: int | None) -> str:
    if code is None:
        return "stopped responding"
    if code < 0:
        try:
            return f"stopped (signal {-code}, {signal.Signals(-code).name})"
        except ValueError:
            return f"stopped (signal {-code})"
    return f"exited with status {code}"


class LlamaWorker:
    """One worker process at a time; restarted after it dies. Calls are serialised by the caller."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.info: dict[str, Any] | None = None  # the worker's ready report: buffers, load time, system info
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._stderr: deque[str] = deque(maxlen=20)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Spawn the worker without waiting for it: loading overlaps whatever the caller does next."""
        self.stop()
        parent, child = socket.socketpair()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._process = subprocess.Popen([sys.executable, "-m", "rag.llm.llama_worker", str(child.fileno())],
                                         pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        child.close()
        self._conn = Connection(parent.detach())
        self._stderr = deque(maxlen=20)
        threading.Thread(target=self._drain, args=(self._process, self._stderr), daemon=True,
                         name="llama-worker-stderr").start()
        self.info = None
        try:
            self._conn.send(("config", self.config.payload()))
        except OSError:
            pass  # the worker died at once; the next _receive reports how it ended

    def ensure_started(self) -> None:
        """Spawn a worker unless one is loading or ready.

        A worker that died after being ready is simply replaced. One that died before it was ready is left for
        ``ready`` to report, so that it counts as a failed start and the count in the error is the true one."""
        if self._process is None or self._conn is None or (self.info is not None and not self.alive()):
            self.start()

    @staticmethod
    def _drain(process: subprocess.Popen[bytes], tail: deque[str]) -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                tail.append(line)
                log.debug("llama worker: %s", line)

    def stop(self) -> None:
        process, conn, self._process, self._conn = self._process, self._conn, None, None
        if conn is not None:
            try:
                conn.send(("stop", None))
            except OSError:
                pass
            conn.close()
        if process is not None and process.poll() is None:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def ready(self) -> dict[str, Any]:
        """Start the worker if needed and wait for its self-check; LLMUnavailable after repeated failures."""
        if self.info is not None and self.alive():
            return self.info
        last = ""
        for _ in range(self.config.start_attempts):
            self.ensure_started()
            try:
                kind, payload = self._receive(self.config.start_timeout)
            except WorkerDied as exc:
                last = f"{exc}{self._last_stderr()}"
                log.warning("the embedded model %s while starting", last)
                self.stop()
                continue
            if kind == "failed":
                self.stop()
                raise LLMUnavailable(f"cannot load the embedded model {os.path.basename(self.config.model_path)}: "
                                     f"{payload}")
            self.info = payload
            log.info("embedded model ready: load %.1fs, self-check %.1fs, weights in %s", payload["load_seconds"],
                     payload["check_seconds"], ", ".join(f"{k} {v:.0f} MiB" for k, v in payload["buffers"].items()))
            return payload
        raise LLMUnavailable(
            f"the embedded model {last} while starting, {self.config.start_attempts} times; try "
            "RAG_LLM__EXTRA_BUFFERS=false, a smaller RAG_LLM__N_CTX, another --gguf, or --llm ollama")

    def _last_stderr(self) -> str:
        return f": {self._stderr[-1][:200]}" if self._stderr else ""

    def _receive(self, timeout: float) -> tuple[str, Any]:
        """The next message; WorkerDied when the process ends or says nothing for ``timeout`` seconds."""
        assert self._conn is not None and self._process is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._conn.poll(0.2):
                    return self._conn.recv()
                if self._process.poll() is None:
                    if time.monotonic() < deadline:
                        continue
                    self._process.kill()
                    self._process.wait()
                    raise WorkerDied(f"stopped responding for {timeout:g}s")
            except (EOFError, OSError):
                pass  # the socket closed: the process is gone
            try:
                code = self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                code = self._process.wait()
            raise WorkerDied(describe_exit(code))

    # --- questions ------------------------------------------------------------------------------
    def chat(self, request: dict[str, Any]) -> Generator[str, None, dict[str, Any]]:
        """Yield text deltas; return the usage. A dead worker is restarted and the error says to ask again."""
        self.ready()
        assert self._conn is not None
        finished = False
        try:
            self._conn.send(("chat", request))
            log.info("the embedded model is answering (worker pid %s)", self.pid)
            while True:
                kind, payload = self._receive(self.config.token_timeout)
                if kind == "delta":
                    yield payload
                elif kind == "done":
                    finished = True
                    return payload
                else:
                    finished = True
                    raise LLMUnavailable(payload)
        except (WorkerDied, OSError) as exc:
            finished = True
            raise self._restarted(exc) from None
        finally:
            if not finished:  # the caller stopped reading: cancel, and drain so the next chat starts clean
                self._cancel()

    def _restarted(self, exc: Exception) -> LLMUnavailable:
        """Restart a worker that died mid-request; the one-line error for the caller."""
        how = str(exc) if isinstance(exc, WorkerDied) else describe_exit(self._process.poll() if self._process else None)
        detail = self._last_stderr()
        self.restarts += 1
        self.start()  # loads in the background while the user reads the error
        log.warning("the embedded model %s while answering%s; restarted it", how, detail)
        return LLMUnavailable(f"the embedded model {how} while answering; it has been restarted — ask again")

    def prefer(self, request: dict[str, Any]) -> float:
        """P(the reply continues as ``first`` rather than ``second``) (see ``llama_worker.prefer``)."""
        return float(self._ask("prefer", request)["p_first"])

    def choose(self, request: dict[str, Any]) -> dict[str, Any]:
        """The model's choice among ``options`` under a grammar, and its token counts (``llama_worker.choose``)."""
        self.ready()  # a worker still starting is waited for (and restarted) before the question is counted as sent
        log.info("the embedded model is answering (worker pid %s)", self.pid)
        return self._ask("choose", request)

    def _ask(self, kind: str, request: dict[str, Any]) -> dict[str, Any]:
        """One request with one reply; a dead worker is restarted and the error says to ask again."""
        self.ready()
        assert self._conn is not None
        try:
            self._conn.send((kind, request))
            answer, payload = self._receive(self.config.token_timeout)
        except (WorkerDied, OSError) as exc:
            raise self._restarted(exc) from None
        if answer != "done":
            raise LLMUnavailable(payload)
        return dict(payload)

    def _cancel(self) -> None:
        try:
            assert self._conn is not None
            self._conn.send(("cancel", None))
            while self._receive(self.config.token_timeout)[0] == "delta":
                pass
        except (WorkerDied, OSError, AssertionError):
            self.start()

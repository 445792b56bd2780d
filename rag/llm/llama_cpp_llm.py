"""Embedded backend: llama-cpp-python running a local GGUF, no server and no network.

The model runs in a worker process that this backend owns (``rag.llm.worker_process``):
a segfault or an out-of-memory kill in native code costs one answer, not the app. One
worker per model configuration serves the whole process (a 1 GB model is not loaded
twice), and its questions are serialised, because llama.cpp's context is single-threaded.
The worker keeps its KV cache between questions, so a prompt that starts like the last
one (the same system prompt) only pays for its new tokens.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from rag.errors import LLMUnavailable
from rag.llm.base import Message, Selection, TextStream, Usage, parse_choice
from rag.llm.worker_process import LlamaWorker, WorkerConfig

log = logging.getLogger(__name__)

_workers: dict[WorkerConfig, tuple[LlamaWorker, threading.Lock]] = {}
_workers_lock = threading.Lock()


def shared_worker(config: WorkerConfig) -> tuple[LlamaWorker, threading.Lock]:
    """The process-wide worker for ``config`` and the lock that serialises its questions."""
    with _workers_lock:
        if config not in _workers:
            _workers[config] = (LlamaWorker(config), threading.Lock())
        return _workers[config]


def stop_workers() -> None:
    """Stop every worker (tests, and a server shutting down); they restart on the next question."""
    with _workers_lock:
        for worker, lock in _workers.values():
            with lock:
                worker.stop()


class LlamaCppLLM:
    backend = "embedded"

    def __init__(self, config: WorkerConfig, temperature: float = 0.0, max_tokens: int = 512) -> None:
        self.config = config
        self.model_path = Path(config.model_path)
        self.model = self.model_path.name
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.worker, self._lock = shared_worker(config)

    def start(self) -> None:
        """Begin loading in the background (the CLI does this before it loads the embedder)."""
        if not self.model_path.is_file():
            raise LLMUnavailable(f"GGUF model not found: {self.model_path}")
        with self._lock:
            self.worker.ensure_started()

    def warm_up(self) -> dict[str, Any]:
        """Load the model and run the self-check (one tiny decode); the worker's ready report."""
        self.start()
        with self._lock:
            return self.worker.ready()

    def check(self) -> str:
        """One line on health; raises LLMUnavailable when the model cannot answer."""
        info = self.warm_up()
        buffers = ", ".join(f"{name} {size:.0f} MiB" for name, size in info["buffers"].items())
        return f"self-check passed (one decode); weights in {buffers or 'CPU'}"

    def stream(self, messages: list[Message], max_tokens: int | None = None) -> TextStream[Usage]:
        return TextStream(self._generate(messages, max_tokens or self.max_tokens))

    def _generate(self, messages: list[Message], max_tokens: int) -> Generator[str, None, Usage]:
        self.start()
        request = {"messages": messages, "max_tokens": max_tokens, "temperature": self.temperature,
                   "seed": self.config.seed}
        with self._lock:
            usage = yield from self.worker.chat(request)
        if "draft_proposed" in usage:  # prompt-lookup decoding is on (llm.prompt_lookup_tokens)
            log.debug("prompt lookup kept %s of %s guessed tokens in %s checks", usage["draft_accepted"],
                      usage["draft_proposed"], usage["draft_rounds"])
        return Usage(usage["prompt_tokens"], usage["completion_tokens"])

    def choose(self, messages: list[Message], options: Sequence[str], max_choices: int) -> Selection:
        """The model's choice under a GBNF grammar of the options (``llama_worker.choose``)."""
        self.start()
        request = {"messages": messages, "options": list(options), "max_choices": max_choices,
                   "max_tokens": 8 * max_choices + 4, "seed": self.config.seed}
        with self._lock:
            reply = self.worker.choose(request)
        return Selection(parse_choice(reply["text"], options, max_choices),
                      Usage(reply.get("prompt_tokens"), reply.get("completion_tokens")))

    def prefer(self, messages: list[Message], first: str, second: str) -> float | None:
        """Probability that the reply to ``messages`` goes on as ``first`` rather than ``second``."""
        self.start()
        with self._lock:
            return self.worker.prefer({"messages": messages, "first": first, "second": second})

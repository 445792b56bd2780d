"""Embedded backend: llama-cpp-python running a local GGUF, no server and no network.

The model is loaded once per process (a 1 GB mmap is not something to repeat) and
generation is serialised, because a ``Llama`` object is not thread-safe.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

from rag.errors import LLMUnavailable
from rag.llm.base import Message, TextStream, Usage

log = logging.getLogger(__name__)

_loaded: dict[tuple[str, int, int], Any] = {}
_load_lock = threading.Lock()


def load_llama(path: Path, n_ctx: int, n_threads: int) -> Any:
    key = (str(path), n_ctx, n_threads)
    with _load_lock:
        if key not in _loaded:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise LLMUnavailable("llama-cpp-python is not installed; run `pip install llama-cpp-python`") from None
            if not path.is_file():
                raise LLMUnavailable(f"GGUF model not found: {path}")
            log.info("loading embedded model %s (n_ctx=%d, threads=%d)", path.name, n_ctx, n_threads)
            try:
                _loaded[key] = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise LLMUnavailable(f"cannot load GGUF model {path}: {exc}") from None
        return _loaded[key]


class LlamaCppLLM:
    backend = "embedded"

    def __init__(self, model_path: Path, n_ctx: int = 4096, n_threads: int | None = None,
                 temperature: float = 0.0, max_tokens: int = 512, seed: int = 42) -> None:
        self.model_path = model_path
        self.model = model_path.name
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self._lock = threading.Lock()

    @property
    def llama(self) -> Any:
        return load_llama(self.model_path, self.n_ctx, self.n_threads)

    def stream(self, messages: list[Message], max_tokens: int | None = None) -> TextStream[Usage]:
        return TextStream(self._generate(messages, max_tokens or self.max_tokens))

    def _generate(self, messages: list[Message], max_tokens: int) -> Generator[str, None, Usage]:
        llama = self.llama
        with self._lock:
            completion_tokens = 0
            try:
                chunks = llama.create_chat_completion(
                    messages=messages, stream=True, temperature=self.temperature,
                    max_tokens=max_tokens, seed=self.seed)
                for chunk in chunks:
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        completion_tokens += 1
                        yield delta
            except ValueError as exc:  # e.g. prompt longer than the context window
                raise LLMUnavailable(f"embedded model could not answer: {exc}") from None
            # After generation the context holds prompt + completion tokens.
            return Usage(max(llama.n_tokens - completion_tokens, 0), completion_tokens)

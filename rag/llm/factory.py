"""Pick an LLM backend by config string: 'ollama', 'embedded' or 'auto'.

'auto' uses Ollama when a server answers and has the model, else the embedded
model, and says why. An explicit 'ollama' or 'embedded' never falls back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rag.errors import LLMUnavailable
from rag.llm.base import LLM
from rag.llm.gguf import assemble_packaged_model
from rag.llm.llama_cpp_llm import LlamaCppLLM
from rag.llm.ollama_llm import OllamaLLM
from rag.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LLMChoice:
    llm: LLM
    reason: str  # why this backend: shown in logs, the CLI and the UI


def make_ollama(settings: Settings, timeout: float | None = None) -> OllamaLLM:
    return OllamaLLM(settings.ollama_model, settings.ollama_host, timeout or settings.ollama_timeout,
                     settings.temperature, settings.max_answer_tokens, settings.seed, settings.n_ctx)


def make_embedded(settings: Settings, progress: bool = True) -> LlamaCppLLM:
    path = settings.gguf_path or assemble_packaged_model(settings.model_cache_dir.expanduser(), progress)
    return LlamaCppLLM(path.expanduser(), settings.n_ctx, settings.n_threads, settings.temperature,
                       settings.max_answer_tokens, settings.seed)


def _choose(settings: Settings, progress: bool) -> LLMChoice:
    if settings.llm == "ollama":
        return LLMChoice(make_ollama(settings), f"configured: ollama at {settings.ollama_host}")
    if settings.llm == "embedded":
        return LLMChoice(make_embedded(settings, progress), "configured: embedded")
    try:
        make_ollama(settings, timeout=settings.ollama_probe_timeout).check()
    except LLMUnavailable as exc:
        return LLMChoice(make_embedded(settings, progress), f"auto: fell back to embedded because {exc}")
    return LLMChoice(make_ollama(settings), f"auto: Ollama at {settings.ollama_host} has {settings.ollama_model}")


def make_llm(settings: Settings, progress: bool = True) -> LLMChoice:
    choice = _choose(settings, progress)
    log.info("LLM backend %s, model %s (%s)", choice.llm.backend, choice.llm.model, choice.reason)
    return choice

"""Pick an LLM backend by config string: 'ollama', 'embedded', 'openai', 'auto' or a class path.

'auto' uses Ollama when a server answers and has the model, else the embedded
model, and says why. An explicit 'ollama', 'embedded' or 'openai' (an OpenAI-compatible
server at ``base_url``; never chosen by 'auto') never falls back. A
"package.module:ClassName" backend (the escape hatch for another LLM) is constructed
with the ``LLMSettings`` section and must offer the ``rag.llm.base.LLM`` interface.
Every factory here receives only the ``llm`` section, never the whole ``Settings``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from embeddings.classpath import ClassPathError, import_class, is_class_path
from rag.errors import LLMUnavailable
from rag.llm.base import LLM, Message, shown_url
from rag.llm.gguf import assemble_packaged_model
from rag.llm.llama_cpp_llm import LlamaCppLLM
from rag.llm.worker_process import WorkerConfig
from rag.settings import LLMSettings

if TYPE_CHECKING:
    from rag.llm.ollama_llm import OllamaLLM
    from rag.llm.openai_llm import OpenAILLM

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LLMChoice:
    llm: LLM
    reason: str  # why this backend: shown in logs, the CLI and the UI


def make_ollama(settings: LLMSettings) -> OllamaLLM:
    """The Ollama server at ``ollama_host`` (its client and httpx load only for this backend and 'auto')."""
    from rag.llm.ollama_llm import OllamaLLM

    return OllamaLLM(settings.ollama_model, settings.ollama_host, settings.ollama_timeout, settings.temperature,
                     settings.max_answer_tokens, settings.seed, settings.n_ctx, settings.ollama_probe_timeout)


def make_openai(settings: LLMSettings) -> OpenAILLM:
    """The OpenAI-compatible server at ``base_url`` (the ``openai`` package loads only for this backend)."""
    if not settings.base_url:
        raise LLMUnavailable("--llm openai needs the server's address: set RAG_LLM__BASE_URL, e.g. "
                             "http://localhost:1234/v1 (LM Studio), http://localhost:8000/v1 (vLLM) or "
                             "http://localhost:8080/v1 (llama-server)")
    from rag.llm.openai_llm import OpenAILLM

    return OpenAILLM(settings.base_url, settings.openai_model, settings.api_key.get_secret_value(),
                     timeout=settings.openai_timeout, temperature=settings.temperature,
                     max_tokens=settings.max_answer_tokens, seed=settings.seed)


def make_embedded(settings: LLMSettings, progress: bool = True, warm_messages: list[Message] | None = None
                  ) -> LlamaCppLLM:
    """The embedded backend; ``warm_messages`` is its self-check prompt (best: the answer prompt's prefix)."""
    path = settings.gguf_path or assemble_packaged_model(settings.model_cache_dir.expanduser(), progress)
    check = warm_messages or [{"role": "user", "content": "Reply with OK."}]
    config = WorkerConfig(
        model_path=str(path.expanduser().resolve()), n_ctx=settings.n_ctx,
        n_threads=settings.n_threads or os.cpu_count() or 1, n_batch=settings.n_batch, n_ubatch=settings.n_ubatch,
        flash_attn=settings.flash_attn, extra_buffers=settings.extra_buffers, seed=settings.seed,
        prompt_lookup_tokens=settings.prompt_lookup_tokens,
        check_messages=tuple((("content", m["content"]), ("role", m["role"])) for m in check),
        start_timeout=settings.embedded_start_timeout, token_timeout=settings.embedded_token_timeout)
    return LlamaCppLLM(config, settings.temperature, settings.max_answer_tokens)


def _custom(settings: LLMSettings) -> LLM:
    """The class that ``settings.backend`` names, constructed with the whole ``llm`` section."""
    try:
        cls = import_class(settings.backend)
    except ClassPathError as exc:
        raise LLMUnavailable(str(exc)) from None
    llm: LLM = cls(settings)
    return llm


def _choose(settings: LLMSettings, progress: bool, warm: list[Message] | None) -> LLMChoice:
    if is_class_path(settings.backend):
        return LLMChoice(_custom(settings), f"configured: {settings.backend}")
    if settings.backend == "ollama":
        return LLMChoice(make_ollama(settings), f"configured: ollama at {settings.ollama_host}")
    if settings.backend == "openai":
        return LLMChoice(make_openai(settings), f"configured: openai-compatible server at {shown_url(settings.base_url)}")
    if settings.backend == "embedded":
        return LLMChoice(make_embedded(settings, progress, warm), "configured: embedded")
    try:
        make_ollama(settings).check()
    except LLMUnavailable as exc:
        return LLMChoice(make_embedded(settings, progress, warm), f"auto: fell back to embedded because {exc}")
    return LLMChoice(make_ollama(settings), f"auto: Ollama at {settings.ollama_host} has {settings.ollama_model}")


def make_llm(settings: LLMSettings, progress: bool = True, warm_messages: list[Message] | None = None) -> LLMChoice:
    """The configured backend; an embedded model starts loading in its worker at once."""
    choice = _choose(settings, progress, warm_messages)
    choice.llm.start()
    log.info("LLM backend %s, model %s (%s)", choice.llm.backend, choice.llm.model, choice.reason)
    return choice

"""The ``llm`` settings section: which backend answers and how it runs (``rag.llm.factory`` receives only this).

Its own module so that ``rag.settings.sections`` stays readable; ``rag.settings`` exports it with the others.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from embeddings.classpath import import_class, is_class_path
from embeddings.onnx_export import default_cache_dir
from rag.settings.base import Section

BUILTIN_BACKENDS = ("auto", "ollama", "embedded", "openai")
OLLAMA_DEFAULT_HOST = "http://127.0.0.1:11434"  # where `ollama serve` listens unless told otherwise


class LLMSettings(Section):
    """The answering model: which backend and how it runs (``rag.llm.factory`` receives only this)."""

    backend: str = Field(
        "auto", description="'auto' (Ollama if it answers, else embedded), 'ollama', 'embedded', 'openai' (an "
        "OpenAI-compatible server at base_url: LM Studio, vLLM, llama.cpp's llama-server; never chosen by 'auto'), "
        "or a 'package.module:ClassName' LLM constructed with this LLMSettings section.")
    ollama_host: str = Field(
        default_factory=lambda: os.environ.get("OLLAMA_HOST") or OLLAMA_DEFAULT_HOST,
        description="Ollama server; by default $OLLAMA_HOST (Ollama's own variable, which its `ollama` command "
        "reads too), else the local server.")
    ollama_model: str = Field("qwen2.5:3b", description="Model name on the Ollama server.")
    ollama_timeout: float = Field(120.0, description="Seconds before an Ollama request is abandoned.")
    ollama_probe_timeout: float = Field(1.5, description="Seconds 'auto' waits for Ollama before falling back.")
    base_url: str = Field(
        "", description="backend 'openai': the server's OpenAI API address, e.g. http://localhost:1234/v1 (LM Studio), "
        "http://localhost:8000/v1 (vLLM), http://localhost:8080/v1 (llama-server). No default: questions and "
        "reports go only to a server named here.")
    # Not $OPENAI_API_KEY: a hosted OpenAI key would go to whatever base_url names (a LAN server over plain http).
    api_key: SecretStr = Field(
        SecretStr(""), description="backend 'openai': the key sent to base_url, only ever from RAG_LLM__API_KEY "
        "(for a hosted endpoint: RAG_LLM__API_KEY=$OPENAI_API_KEY). Local servers that check no key need none. "
        "Never logged or shown.")
    openai_model: str = Field(
        "", description="backend 'openai': the model name on the server (`rag ask --model`); empty: the one "
        "model the server lists.")
    openai_timeout: float = Field(
        120.0, gt=0, description="backend 'openai': seconds before a request (or a pause in a stream) is abandoned.")
    gguf_path: Path | None = Field(
        None, description="A GGUF file for the embedded backend (default: the packaged model).")
    model_cache_dir: Path = Field(
        default_factory=default_cache_dir,  # ~/.cache/rag/models: the embeddings package's own default too
        description="Where the packaged GGUF is assembled, a faster embedder runtime exported (and compiled), and "
        "the language identifier's model kept decompressed, once each.",
    )
    n_ctx: int = Field(4096, description="Context window for the embedded model.")
    n_threads: int | None = Field(None, description="CPU threads for the embedded model (default: all cores).")
    n_batch: int = Field(512, ge=1, description="Prompt tokens the embedded model takes per decode call.")
    n_ubatch: int = Field(512, ge=1, description="Physical batch of the embedded model (at most n_batch).")
    flash_attn: bool = Field(True, description="Flash attention in the embedded model: reads a prompt about 15% "
                             "faster on CPUs (docs/embedded-runtime.md).")
    # The AMX segfault is llama.cpp issue 20824; the description is user-facing (docs/configuration.md).
    extra_buffers: bool = Field(
        False, description="Let llama.cpp repack weights into extra CPU buffer types (AMX, CPU_REPACK). Off by "
        "default: on AMX CPUs (Sapphire Rapids) llama.cpp's AMX path segfaults.")
    embedded_start_timeout: float = Field(180.0, gt=0, description="Seconds the embedded model may take to load "
                                                                  "and pass its self-check.")
    embedded_token_timeout: float = Field(180.0, gt=0, description="Seconds without a token before the embedded "
                                                                  "model's worker is declared hung and restarted.")
    prompt_lookup_tokens: int = Field(
        0, ge=0, le=32, description="Embedded model: tokens guessed ahead from the prompt (prompt-lookup decoding: "
        "an answer copies names and figures from its sources) and checked in one batch; the guess is kept up to "
        "the first token the model would not have chosen. 0: off. Changes only speed, though a near-tie between "
        "two tokens can go the other way (batched arithmetic rounds differently).")
    max_answer_tokens: int = Field(512, ge=16, description="Longest answer, in tokens.")
    temperature: float = Field(0.0, ge=0.0, description="Sampling temperature (0: greedy, the same answer every time).")
    seed: int = Field(42, description="Sampling seed.")

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        """A built-in name, or a class path that imports now (one line when the module or class is missing)."""
        if value in BUILTIN_BACKENDS:
            return value
        if not is_class_path(value):
            raise ValueError(f"{value!r} is not a backend: use 'auto', 'ollama', 'embedded', 'openai' or "
                             "'package.module:ClassName'")
        import_class(value)
        return value

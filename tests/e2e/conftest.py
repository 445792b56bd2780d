"""Fixtures of the end-to-end tier: a real OpenAI-API server, started once per session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag.llm.gguf import assemble_packaged_model
from tests.ollama_stack import MODEL_ALIAS, llama_cpp_server


@dataclass(frozen=True)
class OpenAIServer:
    url: str  # the OpenAI API address, ending in /v1
    key: str  # the API key it wants (a wrong one: 401)
    model: str = MODEL_ALIAS  # the one model it lists


@pytest.fixture(scope="session")
def openai_server(model_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAIServer]:
    """llama-cpp-python's OpenAI-compatible server over the packaged GGUF, on loopback, with an API key."""
    gguf = assemble_packaged_model(model_cache_dir, progress=False)
    key = "test-key-for-loopback"
    with llama_cpp_server(gguf, tmp_path_factory.mktemp("openai-server"), api_key=key) as url:
        yield OpenAIServer(url, key)

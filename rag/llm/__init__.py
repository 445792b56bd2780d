"""LLM backends behind one streaming interface; ``make_llm`` picks one by config string."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.llm.base import LLM, Message, TextStream, Usage
    from rag.llm.factory import LLMChoice, make_llm

# Imported on first use: the worker process (rag.llm.llama_worker) needs none of them.
_EXPORTS = {"LLM": "rag.llm.base", "Message": "rag.llm.base", "TextStream": "rag.llm.base", "Usage": "rag.llm.base",
            "LLMChoice": "rag.llm.factory", "make_llm": "rag.llm.factory"}
__all__ = ["LLM", "LLMChoice", "Message", "TextStream", "Usage", "make_llm"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rag.llm' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

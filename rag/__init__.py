"""Ask a folder of reports; every answer cites the paragraphs it rests on.

Example::

    from rag import ask
    a = ask("What did Operation Sentinel seize?")
    print(a.text)                     # the answer with [n] markers
    for n, c in enumerate(a.citations, 1):
        print(n, c.doc_id, c.paragraph)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.api import ask, default_pipeline
    from rag.errors import RagError
    from rag.pipeline import Pipeline
    from rag.settings import Settings
    from rag.types import Answer, Citation, Claim, ParagraphKey, Scope

# Imported on first use, so a light submodule (the LLM worker process) does not pay for torch.
_EXPORTS = {"Answer": "rag.types", "Citation": "rag.types", "Claim": "rag.types", "ParagraphKey": "rag.types",
            "Scope": "rag.types", "RagError": "rag.errors", "Pipeline": "rag.pipeline", "ask": "rag.api",
            "default_pipeline": "rag.api", "Settings": "rag.settings"}
__all__ = ["Answer", "Citation", "Claim", "ParagraphKey", "Pipeline", "RagError", "Scope", "Settings", "ask",
           "default_pipeline"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

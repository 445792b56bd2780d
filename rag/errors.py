"""Errors the user can act on. Each message is one line that says what to do.

The CLI prints ``str(error)`` and exits non-zero; the UI shows it in the chat.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: anything raised as a RagError is a user-facing, one-line message."""


class InvalidQuestion(RagError):
    """An empty or unusable question."""


class CorpusNotFound(RagError):
    """The folder to index does not exist or holds no readable documents."""


class IndexNotFound(RagError):
    pass


class IndexCorrupt(RagError):
    pass


class IndexMismatch(RagError):
    """The index was built with another embedder or an older format."""


class LLMUnavailable(RagError):
    """The LLM backend cannot answer: server down, model missing, timeout, stream cut."""


class ModelAssemblyError(RagError):
    """The packaged GGUF could not be assembled or failed its checksum."""

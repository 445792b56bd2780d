"""The eval package's one error, apart so that every module that reads a set can raise it without a cycle."""

from __future__ import annotations

from rag.errors import RagError


class EvalSetError(RagError):
    """The eval set cannot be read, or does not fit the corpus it is run against."""

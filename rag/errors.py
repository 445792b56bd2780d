"""Errors the user can act on. Each message is one line that says what to do.

The CLI prints ``str(error)`` and exits non-zero; the UI shows it in the chat.
"""

from __future__ import annotations


def one_line(exc: BaseException, last: bool = False) -> str:
    """An exception's message as one line (its first line, or its last with ``last``), else its type."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return (lines[-1] if last else lines[0]) if lines else type(exc).__name__


def literal(text: str, lines: bool = True) -> str:
    """Text from a report or a file name as it is, but never as terminal control.

    ESC, OSC and other control characters become visible escapes, so a report cannot
    retitle or recolour the user's terminal. Newlines and tabs stay in a report's text;
    with ``lines=False`` (a file name, a label, an error line) they become escapes too,
    so a name holding a newline cannot forge a line of output.
    """
    kept = "\n\t" if lines else ""
    return "".join(c if c.isprintable() or c in kept else f"\\x{ord(c):02x}" if ord(c) < 0x100
                   else f"\\u{ord(c):04x}" for c in text)


class RagError(Exception):
    """Base class: anything raised as a RagError is a user-facing, one-line message."""


class InvalidQuestion(RagError):
    """An empty or unusable question."""


class InvalidScope(RagError):
    """A limit on the reports to search that cannot be read: a date that is not YYYY-MM-DD, since after until."""


class NoMatchingReport(RagError):
    """The reports a question is limited to (names, dates) are none of the indexed ones."""


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


class UploadRejected(RagError):
    """An uploaded file was not added: unsupported type, empty, too large, or not readable text."""


class UnknownReport(RagError):
    """A report named for deleting, excluding, including or re-indexing is not in the index (or not excluded)."""

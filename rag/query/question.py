"""What counts as a question: a non-empty string of visible, well-formed text.

Everything that asks (``ask()``, the CLI, the UI, the eval) passes through ``validate_question``,
so a bad input is one ``InvalidQuestion`` line, never a ``TypeError`` from the tokenizer.

Example::

    validate_question("  What did   Operation Sentinel seize? ", 2000)  # "What did Operation Sentinel seize?"
    validate_question("\\u200b\\u200b", 2000)  # InvalidQuestion: the question is empty ...
"""

from __future__ import annotations

import unicodedata

from rag.errors import InvalidQuestion

_INVISIBLE = frozenset(("Cf", "Zs", "Zl", "Zp", "Cc"))  # format (zero-width), spaces, separators, controls


def validate_question(value: object, max_chars: int) -> str:
    """The question with runs of whitespace collapsed; InvalidQuestion (one line) for anything else."""
    if not isinstance(value, str):
        raise InvalidQuestion(f"the question must be text, not {type(value).__name__}")
    for position, char in enumerate(value):
        if 0xD800 <= ord(char) <= 0xDFFF:
            raise InvalidQuestion(f"the question is not valid Unicode (a lone surrogate at character {position + 1})")
        if unicodedata.category(char) == "Cc" and char not in "\t\n\r":
            raise InvalidQuestion(f"the question holds a control character (U+{ord(char):04X} at character "
                                  f"{position + 1}); remove it and ask again")
    question = " ".join(value.split())
    if not any(unicodedata.category(c) not in _INVISIBLE for c in question):
        raise InvalidQuestion("the question is empty; ask something about the reports")
    if len(question) > max_chars:
        raise InvalidQuestion(f"the question is {len(question)} characters long; the limit is {max_chars}")
    return question

"""Joining the lines of a paragraph where a word was hyphenated at a line end (PDF text, OCR text).

"cus-" + "toms" is "customs"; a capital after the hyphen ("Franco-" + "German") or a word the
document also writes with its hyphen inside a line ("well-known") keeps it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

HYPHEN = "\x02"  # PDFium's code for a hyphen it found at a line end
WORD_END = re.compile(rf"([^\W\d_]+)[-{HYPHEN}\u00ad]$")
_WORD_START = re.compile(r"[^\W\d_]+")
_COMPOUND = re.compile(r"[^\W\d_]+-[^\W\d_]+")


class Hyphenation:
    """Which line-end hyphens to keep: those of words the document also writes with a hyphen inside a line."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.compounds: set[str] = set()
        self.words: set[str] = set()
        for text in texts:
            self.compounds.update(m.lower() for m in _COMPOUND.findall(text))
            self.words.update(w.lower() for w in _WORD_START.findall(text))

    def join(self, before: str, after: str) -> str:
        """Two lines of one paragraph as one text."""
        end = WORD_END.search(before)
        if end is None:
            return f"{before} {after}"
        start = _WORD_START.match(after)
        head = before[:-1]
        if start is None or not after[0].islower():
            return f"{head}-{after}"  # "Franco-" + "German", "1990-" + "2000"
        word = f"{end.group(1)}-{start.group(0)}".lower()
        if word in self.compounds and word.replace("-", "") not in self.words:
            return f"{head}-{after}"
        return head + after

"""Does an answer state a fact? Compare after normalising the ways one fact is written.

``normalise`` folds case, accents, typographic quotes, every dash to "-", whitespace,
and number formats ("1,000" and "1 000" -> "1000", "160kg" -> "160 kg"), so "160 kg" in the gold set
matches "160 Kg", "160kg" and "160 kg," in an answer. Chinese and Japanese characters are each a token
("共有10个" -> "共 有 10 个"): those scripts write no spaces, and "10" must still be found. ``contains`` then requires
whole-token boundaries, so the fact "100" is not found inside "1000" or "2100".
"""

from __future__ import annotations

import re
import unicodedata

from rag.types import MARKER

_DASHES = re.compile(r"[\u2010-\u2015\u2212\u2043\ufe58\ufe63\uff0d]")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00ab": '"', "\u00bb": '"'})
_THOUSANDS = re.compile(r"\b\d{1,3}(?:[,\u00a0\u202f ]\d{3})+\b")  # "1,000" / "1 000"; not "2009 100"
_UNIT_GLUE = re.compile(r"(?<=\d)(?=[^\W\d_])")  # "160kg" -> "160 kg"
_DASH_SPACING = re.compile(r"\s*-\s*")  # "15 - 17" -> "15-17"
_IDEOGRAPH = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")


def _strip_accents(text: str) -> str:
    # Only Latin letters lose their accents ("communiqué" -> "communique"); "й" must stay "й".
    decomposed = unicodedata.normalize("NFD", text)
    kept = [c for i, c in enumerate(decomposed)
            if not (unicodedata.combining(c) and i and decomposed[i - 1].isascii())]
    return unicodedata.normalize("NFC", "".join(kept))


def normalise(text: str) -> str:
    """Lower-case, accent-, dash-, quote-, whitespace- and number-format-folded text without [n] markers."""
    text = unicodedata.normalize("NFKC", MARKER.sub(" ", text)).translate(_QUOTES)
    text = _strip_accents(text.casefold())
    text = _DASHES.sub("-", _IDEOGRAPH.sub(r" \1 ", text))
    text = " ".join(text.split())
    text = _THOUSANDS.sub(lambda m: re.sub(r"\D", "", m.group(0)), text)
    text = _UNIT_GLUE.sub(" ", text)
    return _DASH_SPACING.sub("-", text)


def contains(normalised_text: str, phrase: str) -> bool:
    """True when ``phrase`` (normalised here) occurs in already-normalised text as whole tokens."""
    needle = normalise(phrase)
    if not needle:
        return False
    pattern = r"(?<![^\W_])" + re.escape(needle) + r"(?![^\W_])"
    return re.search(pattern, normalised_text) is not None


def missing_fact_groups(answer: str, facts: list[list[str]]) -> list[list[str]]:
    """The fact groups of which the answer states no alternative."""
    text = normalise(answer)
    return [group for group in facts if not any(contains(text, alternative) for alternative in group)]


def forbidden_found(answer: str, forbidden: list[str]) -> list[str]:
    """The forbidden phrases the answer contains."""
    text = normalise(answer)
    return [phrase for phrase in forbidden if contains(text, phrase)]

"""Question validation: any input is either a question that retrieval can take, or one InvalidQuestion line.
10,000 seeded junk inputs through the real embedder and index: tests/integration/test_question.py."""

from __future__ import annotations

import re

import pytest

from rag.errors import InvalidQuestion
from rag.query.question import validate_question


@pytest.mark.parametrize(("value", "message"), [
    ("Who met \ud800 Mikuriya?", "not valid Unicode (a lone surrogate at character 9)"),
    ("Who met\x1b]0;pwned\x07 Mikuriya?", "control character (U+001B at character 8)"),
    ("\u200b\u200c\u2060\ufeff", "the question is empty"),
    ("   \n\t ", "the question is empty"),
    ("", "the question is empty"),
    (None, "must be text, not NoneType"),
    (42, "must be text, not int"),
    (b"What did Operation Sentinel seize?", "must be text, not bytes"),
    (["What?"], "must be text, not list"),
])
def test_bad_input_is_one_invalid_question_line(value: object, message: str) -> None:
    with pytest.raises(InvalidQuestion, match=re.escape(message)) as caught:
        validate_question(value, 2000)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("value", "expected"), [
    ("  What did\n Operation   Sentinel seize? ", "What did Operation Sentinel seize?"),
    ("Что изъяла операция «Страж»?", "Что изъяла операция «Страж»?"),
    ("ما الذي صادرته العملية؟\u200f", "ما الذي صادرته العملية؟\u200f"),  # a right-to-left mark is fine
    ("🚢 seizures?", "🚢 seizures?"),
])
def test_real_questions_in_any_script_pass(value: str, expected: str) -> None:
    assert validate_question(value, 2000) == expected

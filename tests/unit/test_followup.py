"""Follow-up questions are rewritten to stand alone before retrieval: the rewrite prompt and the clean-up of the
rewrite. Through the pipeline and the embedded model: tests/integration/test_followup.py."""

from __future__ import annotations

import pytest

from rag.query.followup import clean_rewrite, rewrite_messages
from tests.conftest import SENTINEL_QUESTION
from tests.fakes import PROMPTS, REWRITE_SYSTEM_PROMPT

HISTORY = [{"role": "user", "content": SENTINEL_QUESTION},
           {"role": "assistant", "content": "Operation Sentinel resulted in over 100 seizures of drugs; more than "
                                            "160 kg ranging from heroin to opium [1]."}]
FOLLOW_UP = "And when did it take place?"


def test_the_rewrite_prompt_holds_only_recent_turns_cut_short_without_markers() -> None:
    old = [{"role": "user", "content": "Who is Andrei Belyaninov?"}, {"role": "assistant", "content": "The head."}]
    long_answer = {"role": "assistant", "content": "word " * 500 + "[2]"}
    messages = rewrite_messages(FOLLOW_UP, old + HISTORY[:1] + [long_answer], turns=1, max_chars=100, prompts=PROMPTS)
    assert messages[0] == {"role": "system", "content": REWRITE_SYSTEM_PROMPT}
    prompt = messages[1]["content"]
    assert "Belyaninov" not in prompt  # older than the last turn
    assert f"User: {SENTINEL_QUESTION}" in prompt and f"Last question: {FOLLOW_UP}" in prompt
    assert "[2]" not in prompt and len(prompt) < 400


@pytest.mark.parametrize(("output", "expected"), [
    ("When did Operation Sentinel take place?", "When did Operation Sentinel take place?"),
    ('Rewritten question: "When did Operation Sentinel take place?"\nIt took place in 2009.',
     "When did Operation Sentinel take place?"),
    ("**Standalone question:** When was it?", "When was it?"),
    ("", FOLLOW_UP),
    ("  \n ", FOLLOW_UP),
    ("x" * 3000, FOLLOW_UP),
])
def test_the_rewrite_is_one_clean_line_or_the_question_as_asked(output: str, expected: str) -> None:
    assert clean_rewrite(output, FOLLOW_UP, max_chars=2000) == expected

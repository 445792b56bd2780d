"""Follow-up questions: chat history + "And when did it take place?" -> one standalone question.

Retrieval only sees the question, so "it" must become "Operation Sentinel" before
the index is searched. One short LLM call does the rewrite, and only when there is
history. The prompt holds only the last few turns, cut short, because on a CPU
the prompt length sets the latency.

Example::

    from rag.query.followup import standalone_question
    history = [{"role": "user", "content": "What did Operation Sentinel seize?"},
               {"role": "assistant", "content": "Over 100 seizures of drugs [1]."}]
    standalone_question(llm, "And when did it take place?", history, turns=2, max_chars=400, max_tokens=48,
                        prompts=settings.prompts)   # -> "When did Operation Sentinel take place?"
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rag.llm.base import LLM, Message
from rag.types import MARKER

if TYPE_CHECKING:
    from rag.settings import PromptSettings

log = logging.getLogger(__name__)

_PREFIX = re.compile(r"^\s*(?:\*\*)?(?:standalone|rewritten)?\s*question\s*:\s*(?:\*\*)?\s*", re.IGNORECASE)


def _shortened(text: str, max_chars: int) -> str:
    flat = " ".join(MARKER.sub("", text).split())
    return flat if len(flat) <= max_chars else flat[:max_chars].rsplit(" ", 1)[0] + " …"


def rewrite_messages(question: str, history: Sequence[Message], turns: int, max_chars: int, prompts: PromptSettings
                     ) -> list[Message]:
    """The rewrite prompt (``prompts.rewrite_*``): the last ``turns`` question/answer pairs, each message cut
    to ``max_chars``."""
    recent = [m for m in history if m.get("role") in ("user", "assistant") and m.get("content")][-2 * turns:]
    lines = [f"{'User' if m['role'] == 'user' else 'Assistant'}: {_shortened(m['content'], max_chars)}"
             for m in recent]
    conversation = "\n".join(lines)
    return [{"role": "system", "content": prompts.rewrite_system},
            {"role": "user", "content": prompts.rewrite_user.format(conversation=conversation, question=question)}]


def clean_rewrite(output: str, question: str, max_chars: int) -> str:
    """The first line of the model's output without labels or quotes; ``question`` if nothing usable is left."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    text = _PREFIX.sub("", lines[0]) if lines else ""
    text = text.strip().strip('"“”\'`*').strip()
    if not text or len(text) > max_chars:
        return question
    return text


def standalone_question(llm: LLM, question: str, history: Sequence[Message], turns: int, max_chars: int,
                        max_tokens: int, prompts: PromptSettings, max_question_chars: int = 2000) -> str:
    """``question`` rewritten to stand alone given ``history``; unchanged (and no LLM call) without history."""
    if turns <= 0 or not any(m.get("content") for m in history):
        return question
    stream = llm.stream(rewrite_messages(question, history, turns, max_chars, prompts), max_tokens=max_tokens)
    rewritten = clean_rewrite("".join(stream), question, max_question_chars)
    log.info("follow-up %r rewritten as %r", question, rewritten)
    return rewritten

"""Component: the prompt -> the model's raw answer, streamed, with what it cost.

The generator knows nothing of citations: it streams text and records the time to the first
token (what a user waits for on a CPU) and the total. ``refusal_probability`` asks the same model
how likely it was to refuse instead, one of the abstention signals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.errors import LLMUnavailable
from rag.llm.base import LLM, Selection, Usage
from rag.types import Message

if TYPE_CHECKING:
    from rag.settings import PromptSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generation:
    raw: str  # what the model wrote, before citation post-processing
    usage: Usage | None
    backend: str  # which backend and model answered: logged and returned with every answer
    model: str


class AnswerGenerator:
    def __init__(self, llm: Callable[[], LLM], prompts: PromptSettings) -> None:
        """``llm`` gives the backend (and may load it) when first needed; ``prompts.refusal`` is what it weighs."""
        self.llm, self.refusal = llm, prompts.refusal

    def warm_up(self) -> None:
        """Load the model and wait until it answers (raises LLMUnavailable, one line, when it cannot)."""
        self.llm().warm_up()

    def run(self, messages: list[Message], timings: dict[str, float]) -> Generator[str, None, Generation]:
        """Yield text deltas as they come; return the whole ``Generation``. Adds llm_first_token and llm_total."""
        llm = self.llm()
        mark = time.perf_counter()
        stream = llm.stream(messages)
        parts: list[str] = []
        for delta in stream:
            if not parts:
                timings["llm_first_token"] = time.perf_counter() - mark
            parts.append(delta)
            yield delta
        timings["llm_total"] = time.perf_counter() - mark
        return Generation("".join(parts), stream.result, llm.backend, llm.model)

    def choose(self, messages: list[Message], options: list[str], max_choices: int, timings: dict[str, float]
               ) -> Selection:
        """The options the model chooses as its evidence (extract mode); adds llm_choice seconds."""
        mark = time.perf_counter()
        selection = self.llm().choose(messages, options, max_choices)
        timings["llm_choice"] = time.perf_counter() - mark
        return selection

    def refusal_probability(self, messages: list[Message], answer: str) -> float | None:
        """How likely the model was to refuse instead; None when it cannot say (the answer is kept either way)."""
        try:
            return self.llm().prefer(messages, self.refusal, answer)
        except LLMUnavailable as exc:
            log.warning("no refusal probability for this answer: %s", exc)
            return None

"""Component: the asked question -> what is answered (standalone) and what is searched (English).

A follow-up ("When did it take place?") is rewritten with the conversation so that retrieval
understands it; a question in another language is translated, because all-MiniLM-L6-v2 cannot
match Russian to English. Each costs one short LLM call, so neither runs when it is not needed,
and the LLM is only asked for (and loaded) then.

Example::

    rewriter = QuestionRewriter(lambda: llm, settings.prompts, max_question_chars=2000)
    question = rewriter.run("When did it take place?", history=[...])
    question.standalone     # "When did Operation Sentinel take place?"
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.llm.base import LLM
from rag.query.followup import standalone_question
from rag.query.language import ENGLISH, load_language_model, looks_english, question_language, use_model_cache
from rag.query.question import validate_question
from rag.query.translation import english_questions
from rag.types import Message

if TYPE_CHECKING:
    from rag.settings import PromptSettings, QuestionSettings


@dataclass(frozen=True)
class RewrittenQuestion:
    asked: str  # as the user typed it (validated)
    standalone: str  # what is answered: the follow-up rewritten to stand alone, else ``asked``
    search: str  # what retrieval and the model see: ``standalone`` in English
    language: str = ENGLISH  # the asked question's language code: what the answer is written in
    renderings: tuple[str, ...] = ()  # a translated question's English renderings, ``search`` among them

    @property
    def rewritten(self) -> str | None:
        return self.standalone if self.standalone != self.asked else None

    @property
    def translated(self) -> str | None:
        return self.search if self.search != self.standalone else None


class QuestionRewriter:
    def __init__(self, llm: Callable[[], LLM], prompts: PromptSettings, *, max_question_chars: int,
                 followup_turns: int = 2, followup_max_chars: int = 400, followup_max_tokens: int = 48,
                 translate: bool = True, translation_max_tokens: int = 64, model_cache_dir: Path | None = None
                 ) -> None:
        """``llm`` is called only when a rewrite or a translation is needed (it may load the model);
        ``model_cache_dir`` keeps py3langid's model decompressed (``rag.query.language.use_model_cache``)."""
        if model_cache_dir is not None:
            use_model_cache(model_cache_dir)
        self.llm, self.prompts = llm, prompts
        self.max_question_chars = max_question_chars
        self.followup_turns, self.followup_max_chars, self.followup_max_tokens = (
            followup_turns, followup_max_chars, followup_max_tokens)
        self.translate, self.translation_max_tokens = translate, translation_max_tokens

    def warm_up(self) -> None:
        """The language identifier's model; the LLM is the generator's and warms up there."""
        load_language_model()

    def validate(self, question: str) -> str:
        """The question, normalised; raises InvalidQuestion (one line) for an empty or oversized one."""
        return validate_question(question, self.max_question_chars)

    def standalone(self, question: str, history: Sequence[Message]) -> str:
        """``question`` rewritten with ``history`` (no LLM call without history)."""
        if self.followup_turns <= 0 or not history:
            return question
        return self.validate(standalone_question(self.llm(), question, history, self.followup_turns,
                                                 self.followup_max_chars, self.followup_max_tokens, self.prompts,
                                                 self.max_question_chars))

    def english(self, question: str) -> list[str]:
        """What retrieval may search with: the question, or its English translations when it is in another
        language (``rag.query.translation.english_questions``)."""
        if not self.translate or looks_english(question):
            return [question]
        return english_questions(self.llm(), question, self.translation_max_tokens, self.prompts)

    @classmethod
    def from_settings(cls, s: QuestionSettings, max_question_chars: int, llm: Callable[[], LLM],
                      prompts: PromptSettings, model_cache_dir: Path | None = None) -> QuestionRewriter:
        return cls(llm, prompts, max_question_chars=max_question_chars, followup_turns=s.followup_turns,
                   followup_max_chars=s.followup_max_chars, followup_max_tokens=s.followup_max_tokens,
                   translate=s.translate, translation_max_tokens=s.translation_max_tokens,
                   model_cache_dir=model_cache_dir)

    def run(self, question: str, history: Sequence[Message] = (), timings: dict[str, float] | None = None
            ) -> RewrittenQuestion:
        """The question as asked, answered and searched; adds the seconds of rewrite and translate to ``timings``."""
        asked = self.validate(question)
        timings = {} if timings is None else timings
        mark = time.perf_counter()
        standalone = self.standalone(asked, history)
        if history:
            timings["rewrite"] = time.perf_counter() - mark
        mark = time.perf_counter()
        renderings = self.english(standalone)
        if renderings != [standalone]:
            timings["translate"] = time.perf_counter() - mark
        return RewrittenQuestion(asked, standalone, renderings[0], question_language(asked),
                                 tuple(renderings) if renderings != [standalone] else ())

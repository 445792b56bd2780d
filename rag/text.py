"""What counts as a word, a stop word, a word family and a sentence, for every check and for search.

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

Named variants, each kept because what was built or measured with it would move otherwise:

- ``ASKING_WORDS``: the words that ask ("how", "many", "report"), on top of ``QUESTION_STOP_WORDS``
  for a question's key terms; the abstention thresholds were tuned with them.
- ``search_tokens`` / ``search_stop_words``: bm25s' own tokens (lower-cased ``\\w\\w+`` runs minus bm25s'
  English list, no stemming), because the BM25 models on disk and Milvus' analysed fields were built with them.
- ``excerpt_terms``: bm25s' stop list and a 4-letter prefix as the stem, for the sentences a long
  paragraph shows in the prompt; the prompt budget was measured with it (``bench/prompt_budget.py``).

Sentences come from a rule list of abbreviations, not a model (``sentence_spans``), for every check and
for chunking (which keeps the plain split its indexes were built with).

Example::

    from rag.text import content_words, search_words, split_sentences, stem
    content_words("The Operation resulted in 100 seizures.")  # {"operation", "resulted", "100", "seizures"}
    stem("seizures")                                           # "seizur"
    split_sentences("Mr. Smith came. He left.")                # ["Mr. Smith came.", "He left."]
    search_words(["The Customs of Russia"])                    # [["customs", "russia"]]
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bm25s.tokenization import Tokenized

# A run of letters or digits: the word every check counts.
WORD = re.compile(r"[^\W_]+")
# A word as written; a possessive stays on its word ("Russia's", "1000's") so it can be taken off.
TOKEN = re.compile(WORD.pattern + r"(?:['’]s)?")
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
# Words that ask rather than say, never looked for in the sources (the abstention thresholds were tuned with them).
ASKING_WORDS = frozenset("""what which who whom whose when where why how many much did does do was were is are be been
being has have had the a an of in on at to for by with from as and or not no that this these those there their
its it he she they his her them name named called kind type long often far old also other another one any some
according report reports source sources say said says mention mentioned tell give list date dates day days year
years month months time times""".split())  # noqa: SIM905 (a word list reads best as text)


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


# --- Search (BM25): bm25s' tokens, the ones every index on disk and every Milvus analysed field holds.

@lru_cache(maxsize=1)
def search_stop_words() -> frozenset[str]:
    """bm25s' English list (33 words): what ``search_tokens`` removes, and Milvus' analyser removes too."""
    from bm25s.stopwords import STOPWORDS_EN  # loaded on first use: bm25s brings numpy and more

    return frozenset(STOPWORDS_EN)


def search_tokens(texts: list[str]) -> Tokenized:
    """bm25s' tokens of each text (ids and vocabulary): lower-cased ``\\w\\w+`` runs minus ``search_stop_words``."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG
    return bm25s.tokenize(texts, stopwords="en", show_progress=False)


def search_words(texts: list[str]) -> list[list[str]]:
    """``search_tokens`` as words, in order (Milvus' analysed field holds them space-joined)."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


def excerpt_terms(text: str) -> set[str]:
    """Content words cut to 4 characters (a crude stem), so "seize" meets "seizures" and "Customs" "customs".

    The prompt's excerpts rank sentences with it (``rag.answer.prompt.excerpt``); the prompt budget was
    measured with it (``bench/prompt_budget.py``), so it keeps bm25s' stop list and this stem.
    """
    stop = search_stop_words()
    return {w.lower()[:4] for w in WORD.findall(text) if w.lower() not in stop and (len(w) > 2 or w.isdigit())}


# --- Sentences

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-ZА-ЯЁ0-9])")
# A full stop after these does not end a sentence: titles, "No. 5", months, "e.g.", initials
# ("J. Smith"), dotted abbreviations ("U.S.", "U.N.") and Russian "г." / "им.".
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|Gen|Col|Lt|Capt|Sgt|Gov|Sen|Rep|Pres|Rev|Hon|Messrs|No|Nos|Nr|Art|"
    r"Fig|Vol|pp|vs|approx|ca|cf|Inc|Ltd|Co|Corp|Dept|Univ|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|"
    r"e\.g|i\.e|г|гг|им|ул|т\.е)|(?<![^\W\d_])[A-ZА-ЯЁ](?:\.[A-ZА-ЯЁ])*)\.$")


def sentence_spans(text: str, abbreviations: bool = True) -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``text``: a rule list of abbreviations, not a model (fast).

    ``abbreviations=False`` is the plain split that chunking has always used: existing indexes keep
    their chunks (unchanged files are never re-chunked), so retrieval stays what was measured.
    """
    spans: list[tuple[int, int]] = []
    position = 0
    for boundary in [*_SENTENCE_END.finditer(text), None]:
        # With abbreviations, a closing quote or bracket stays with its sentence.
        end = (boundary.end() if abbreviations else boundary.start()) if boundary else len(text)
        piece = text[position:end]
        if piece.strip():
            start = position + len(piece) - len(piece.lstrip())
            stop = position + len(piece.rstrip())
            if abbreviations and spans and _ABBREVIATION.search(text[spans[-1][0]:spans[-1][1]]):
                spans[-1] = (spans[-1][0], stop)  # "Mr." + "Sergey Glazyev ..." is one sentence
            else:
                spans.append((start, stop))
        position = boundary.end() if boundary else len(text)
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped (see ``sentence_spans``)."""
    return [text[start:end] for start, end in sentence_spans(text)]

"""Stage 8: decide from evidence, not from the model's say-so, whether the reports answer the question.

A small model answers questions that only *look* answerable: "What was removed from the list?"
when the paragraph says the gorge was *listed*. Such questions change one key term, so the
signal is the question's own terms (Snowball stems, numbers as written) checked against what
the answer cites:

- ``coverage``: share of the question's key terms found in the cited paragraphs;
- ``window_coverage``: the same, in the supporting sentences and their neighbours only;
- ``source_coverage``: the same, in every paragraph shown to the model (a term no shown
  paragraph holds, such as "ambassador" or "cocaine", is what the reports lack);
- ``type_ok``: a "how many" answer states a number, a "when" answer a date, in its cited claims;
- ``refusal_probability``: how likely the model was to start with the refusal sentence instead of
  the answer it gave, from its own token probabilities (a torn model is often answering a trap).

``Abstainer.refuses`` compares them with thresholds from ``Settings`` (cross-validated across both
bundled eval sets by ``bench/abstention.py``). A refusal keeps the closest citation and says what the
reports do not mention, so a false premise gets a useful answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from embeddings import Embedder
from rag.answer.injection import is_instruction, mask_instructions
from rag.text import ASKING_WORDS, QUESTION_STOP_WORDS, TOKEN, bare, is_content, split_sentences, stem, stems
from rag.types import Citation, Claim

if TYPE_CHECKING:
    from rag.settings import PromptSettings

# Given words and candidate words: each word's best similarity to any candidate.
Similar = Callable[[list[str], list[str]], list[float]]
_NUMERIC = re.compile(r"\b(?:how (?:many|much|long|old|far|large|big|often)|what (?:number|percentage|amount|share))\b",
                      re.IGNORECASE)
_TEMPORAL = re.compile(r"^\s*when\b|\b(?:what|which|in what) (?:year|date|day|month|century|decade|time)\b",
                       re.IGNORECASE)
_DATE = re.compile(r"\d|\b(?:january|february|march|april|may|june|july|august|september|october|november|"
                   r"december|century|centuries|decade|spring|summer|autumn|fall|winter)\b", re.IGNORECASE)
_QUANTITY = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|million|"
                       r"billion|several|few)\b", re.IGNORECASE)
_NOT_TERMS = QUESTION_STOP_WORDS | ASKING_WORDS  # never a key term of a question


def key_terms(question: str) -> dict[str, str]:
    """The question's content words that do not ask, stem -> the word as asked ("1000's" -> "1000")."""
    terms: dict[str, str] = {}
    for word in TOKEN.findall(question):
        asked = bare(word)
        if is_content(asked.lower(), _NOT_TERMS):
            terms.setdefault(stem(asked), asked)
    return terms


@dataclass(frozen=True)
class Evidence:
    """What the cited paragraphs show of the question (see module doc)."""

    coverage: float
    window_coverage: float
    source_coverage: float
    type_ok: bool
    missing: tuple[str, ...]  # key terms of the question no cited paragraph contains, as asked
    refusal_probability: float | None = None  # P(the model starts with the refusal, not its answer); None: unknown

    @classmethod
    def from_signals(cls, signals: dict[str, float]) -> Evidence:
        """The evidence back from ``signals()``, as an eval run records it (the missing terms are not kept)."""
        return cls(signals["coverage"], signals["window_coverage"], signals.get("source_coverage", 1.0),
                   bool(signals["type_ok"]), (), signals.get("refusal_probability"))

    def signals(self) -> dict[str, float]:
        values = asdict(self)
        del values["missing"]
        return {k: float(v) for k, v in values.items() if v is not None} | {"missing_terms": float(len(self.missing))}


def _window(paragraph: str, quote: str, neighbours: int) -> str:
    sentences = split_sentences(paragraph) or [paragraph]
    at = next((i for i, s in enumerate(sentences) if quote and (quote in s or s in quote)), 0)
    return " ".join(sentences[max(0, at - neighbours): at + neighbours + 1])


def _same_word(term: str, stem: str) -> bool:
    """Stems of one word family: equal, or one a 4+ letter prefix of the other ("seiz"/"seizur")."""
    if term == stem:
        return True
    short, long_ = sorted((term, stem), key=len)
    return len(short) >= 4 and long_.startswith(short) and not any(c.isdigit() for c in long_)


def found_terms(terms: dict[str, str], text: str, similar: Similar | None = None, similarity: float = 1.0
                ) -> set[str]:
    """The key terms ``text`` holds: same word family, or (with ``similar``) a word at least this similar."""
    text_stems = stems(text)
    found = {t for t in terms if any(_same_word(t, s) for s in text_stems)}
    missing = [t for t in terms if t not in found]
    if similar is not None and missing and similarity < 1.0:
        words = sorted({w.lower() for w in TOKEN.findall(text)} - ASKING_WORDS)
        if words:
            found |= {t for t, best in zip(missing, similar([terms[t] for t in missing], words)) if best >= similarity}
    return found


def embedding_similarity(embedder: Embedder) -> Similar:
    """Best cosine similarity of each word to any candidate word, under the index's embedder (cached)."""
    cache: dict[str, np.ndarray] = {}

    def best(words: list[str], candidates: list[str]) -> list[float]:
        if len(cache) > 50_000:
            cache.clear()
        todo = sorted({*words, *candidates} - cache.keys())
        if todo:
            cache.update(zip(todo, embedder.encode(todo)))
        matrix = np.stack([cache[c] for c in candidates])
        return [float((matrix @ cache[w]).max()) for w in words]

    return best


def _context(citations: Sequence[Citation]) -> str:
    return " ".join(f"{c.title} {c.date or ''} {c.text}" for c in citations)  # "in 2021": the report's date


def assess(question: str, claims: Sequence[Claim], citations: Sequence[Citation], sources: Sequence[Citation],
           neighbours: int = 1, similar: Similar | None = None, similarity: float = 1.0, with_quotes: bool = False
           ) -> Evidence:
    """How much of the question the cited evidence covers; a question with no key term is covered.

    ``with_quotes``: the claims' quotes count as stated for the answer type too (an answer written in another
    language than the question searched with: "diez" is no number to the English check, its quote's "10" is)."""
    terms = key_terms(question)
    cited_claims = [c for c in claims if c.kind == "claim" and c.markers]
    if not terms:
        return Evidence(1.0, 1.0, 1.0, True, ())
    answer = " ".join(f"{c.plain} {c.quote}" if with_quotes else c.plain for c in cited_claims)
    # A sentence stands under its report's title ("Harbour inspection in Port Aldeney"), which the
    # retriever also embeds with every chunk: the title's terms count for the window too.
    windows = [f"{citations[n - 1].title} {_window(citations[n - 1].text, claim.quote, neighbours)}"
               for claim in cited_claims for n in claim.markers if 0 < n <= len(citations)]
    found = found_terms(terms, _context(citations), similar, similarity)
    in_window = found_terms(terms, " ".join(windows), similar, similarity)
    anywhere = found | found_terms(terms, _context(sources), similar, similarity)
    return Evidence(len(found) / len(terms), len(in_window) / len(terms), len(anywhere) / len(terms),
                    states_answer_type(question, answer), tuple(terms[s] for s in terms if s not in found))


def states_answer_type(question: str, text: str) -> bool:
    """Whether ``text`` can answer the kind of question asked: a "how many" needs a number, a "when" a date
    the question does not already give; any other question any text."""
    if _NUMERIC.search(question):
        return bool(_QUANTITY.search(text))
    if _TEMPORAL.search(question):
        return bool(set(_DATE.findall(text)) - set(_DATE.findall(question)))
    return True


def closest_passage(question: str, sources: Sequence[Citation], min_coverage: float,
                    preferred: Sequence[Citation] = ()) -> Citation | None:
    """The shown source that holds most of the question's key terms (at least ``min_coverage`` of them),
    with its best sentence as the quote: what a refusal points the reader to.

    Ties go to a ``preferred`` source (what the refused answer cited), then to the better retrieved.
    """
    terms = set(key_terms(question))
    if not terms or not sources:
        return None
    coverage = [len(found_terms(dict.fromkeys(terms, ""), mask_instructions(s.text))) / len(terms) for s in sources]
    cited = {(c.doc_id, c.paragraph) for c in preferred}
    best = max(range(len(sources)), key=lambda i: (coverage[i], (sources[i].doc_id, sources[i].paragraph) in cited))
    if coverage[best] < min_coverage:
        return None
    sentences = [s for s in split_sentences(sources[best].text) or [sources[best].text] if not is_instruction(s)]
    if not sentences:  # the passage only gives the model orders (never quoted as evidence)
        return None
    quote = max(sentences, key=lambda sentence: len(found_terms(dict.fromkeys(terms, ""), sentence)))
    return replace(sources[best], quote=quote)


@dataclass(frozen=True)
class Abstainer:
    """Refuses an answer whose citations do not cover the question; thresholds come from ``Settings``."""

    min_coverage: float
    min_window_coverage: float
    check_type: bool = True
    min_source_coverage: float = 0.0
    max_refusal_probability: float = 1.0

    def refuses(self, evidence: Evidence) -> bool:
        return (evidence.coverage < self.min_coverage or evidence.window_coverage < self.min_window_coverage
                or evidence.source_coverage < self.min_source_coverage
                or (evidence.refusal_probability or 0.0) > self.max_refusal_probability
                or (self.check_type and not evidence.type_ok))


def with_closest(refusal: str, quote: str, prompts: PromptSettings) -> str:
    """A refusal followed by what the closest passage does say, cited as [1] (``prompts.refusal_with_closest``)."""
    return prompts.refusal_with_closest.format(refusal=refusal, quote=quote.rstrip(".")) if quote else refusal


def refusal_text(evidence: Evidence, quote: str, prompts: PromptSettings) -> str:
    """A useful refusal: what the reports do not mention, and what the closest passage does say [1]."""
    if evidence.missing:
        quoted = [f'"{t}"' for t in evidence.missing[:3]]
        terms = prompts.refusal_or.join(quoted) if len(quoted) < 3 else f"{quoted[0]}, {quoted[1]}{prompts.refusal_or}{quoted[2]}"
        said = prompts.refusal_not_mentioned.format(terms=terms)
    elif not evidence.type_ok:
        said = prompts.refusal_not_stated
    else:
        said = prompts.refusal_partial
    return with_closest(said, quote, prompts)

"""Stage 7: raw model text + the shown sources -> answer text whose ``[n]`` resolve to paragraphs.

The text is parsed once into ``Claim`` objects (``rag.answer.claims``); each pass below edits that list:

1. normalises marker variants (``[Source 2]``, ``【2】``, ``[1, 3]``, ``[1-2]``) to ``[n]``;
2. drops markers that point at no shown source, and counts them;
3. parses sentences into claims, refusals (which cite nothing) and fillers ("This is supported
   by source [1].", left out);
4. attributes each substantial claim that carries no marker to the source that supports it
   best, when that source is similar enough (small models forget markers);
5. verifies each cited claim: its source must hold its own words (else it is re-pointed to the
   shown source that does, or removed), every number it states, and the year the question asks
   about (a 2021 report cannot answer a question about 2009); a kept claim carries its quote;
6. marks the answer refused when no cited claim remains;
7. renumbers the surviving markers 1..m in order of first use, so that marker
   ``[n]`` is ``citations[n - 1]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from embeddings import Embedder
from rag.answer.claims import parse_claims, render
from rag.answer.injection import mask_instructions
from rag.text import WORD, content_stems, content_words, split_sentences
from rag.types import MARKER, NUMBERED, Citation, Claim

# Given answer sentences and source texts, the best source index and its similarity per sentence.
Attributor = Callable[[Sequence[str], Sequence[str]], list[tuple[int, float]]]

_VARIANTS = [
    (re.compile(r"【\s*(\d+)\s*】"), r"[\1]"),
    (re.compile(r"\[\^(\d+)\]"), r"[\1]"),
    (re.compile(r"[\[(]\s*(?:sources?|src|ref)\s*:?\s*(\d+(?:\s*(?:,|;|and|-|–)\s*\d+)*)\s*[\])]", re.IGNORECASE), r"[\1]"),
]
# A refusal speaks about the sources or the speaker, not about the world: "the agreement does
# not include X" is a claim, "the sources do not include X" is a refusal.
_SOURCES = r"(?:sources?|reports?|context|documents?|texts?|passages?|information (?:provided|given))"
_REFUSAL = re.compile(
    r"\b(?:i|we)\s+(?:cannot|can ?not|can't|could not|couldn't|am unable to|was unable to|do not|don't)\s+"
    r"(?:find|locate|determine|answer|see|know|tell)\b"
    rf"|\b{_SOURCES}\b[^.]{{0,60}}?\b(?:do(?:es)? not|don't|doesn't|cannot|can't|did not|didn't|fail to)\s+"
    r"(?:contain|mention|provide|include|say|state|specify|answer|have|give|discuss|cover)"
    r"|\bno (?:information|mention|details?|data) (?:about|on|regarding|of|is|was)\b"
    rf"|\bnot (?:mentioned|specified|stated|provided|found|available|given|covered) in (?:the |any of the )?{_SOURCES}",
    re.IGNORECASE,
)
MIN_ATTRIBUTABLE_WORDS = 4  # shorter fragments ("Yes.") carry no checkable claim
_TRAILING = re.compile(r"([.!?…])((?:\s*\[\d+\])+)")
_YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d\b")
_NUMBER = re.compile(r"(?<![\w\[])\d+(?:[.,]\d+)*(?![\w\]])")


@dataclass(frozen=True)
class Resolved:
    text: str
    citations: list[Citation]
    refused: bool
    dropped_markers: int
    attributed_sentences: int
    unsupported_sentences: int = 0  # cited sentences removed because their numbers are not in their sources
    claims: list[Claim] = field(default_factory=list)  # what the text is made of, each verified or flagged


def _expand(group: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", group):
        bounds = [int(n) for n in re.split(r"\s*[-–]\s*", part) if n]
        if len(bounds) == 2 and 0 < bounds[1] - bounds[0] < 20:
            numbers.extend(range(bounds[0], bounds[1] + 1))
        else:
            numbers.extend(bounds)
    return numbers


def normalise_markers(text: str) -> str:
    """Plain ``[n]`` markers, each inside the sentence it follows ("claim. [1]" -> "claim [1].")."""
    for pattern, replacement in _VARIANTS:
        text = pattern.sub(replacement, text)
    text = MARKER.sub(lambda m: "".join(f"[{n}]" for n in _expand(m.group(1))), text)
    return _TRAILING.sub(lambda m: " " + "".join(re.findall(r"\[\d+\]", m.group(2))) + m.group(1), text)


def numbers(text: str) -> set[str]:
    """Numbers as written, without thousands separators and markers: "1,200" -> "1200"."""
    return {n.replace(",", "") for n in _NUMBER.findall(MARKER.sub(" ", text))}


def is_grounded(sentence: str, cited: Sequence[str], question: str = "") -> bool:
    """A cited sentence may only state numbers found in its sources (or in the question), outside the sentences
    that tell an answer's writer what to write: a figure that only such a sentence gives is an injected one,
    whatever its wording made the model do (``rag.answer.injection``)."""
    allowed = numbers(question).union(*(numbers(mask_instructions(text)) for text in cited))
    return numbers(sentence) <= allowed


def is_refusal(text: str) -> bool:
    return bool(_REFUSAL.search(text))


@lru_cache(maxsize=8)
def refusal_pattern(refusal: str) -> re.Pattern[str]:
    """Refusals in general, and the configured refusal sentence (``prompts.refusal``) in whatever language."""
    sentence = re.escape(refusal.strip().rstrip(".!?").strip())
    return re.compile(f"{_REFUSAL.pattern}|{sentence}" if sentence else _REFUSAL.pattern, re.IGNORECASE)


def lexical_attributor(sentences: Sequence[str], sources: Sequence[str]) -> list[tuple[int, float]]:
    """Share of a sentence's content words found in each source (numbers count double)."""
    source_words = [content_words(s) for s in sources]
    results = []
    for sentence in sentences:
        words = content_words(sentence)
        weight = sum(2 if w.isdigit() else 1 for w in words) or 1
        scores = [sum(2 if w.isdigit() else 1 for w in words & sw) / weight for sw in source_words]
        best = max(range(len(sources)), key=scores.__getitem__)
        results.append((best, scores[best]))
    return results


def embedding_attributor(embedder: Embedder) -> Attributor:
    """Cosine similarity between each sentence and each source under the index's own embedder."""

    def attribute(sentences: Sequence[str], sources: Sequence[str]) -> list[tuple[int, float]]:
        vectors = embedder.encode([MARKER.sub("", s) for s in sentences] + list(sources))
        similarity = vectors[: len(sentences)] @ vectors[len(sentences):].T
        return [(int(row.argmax()), float(row.max())) for row in similarity]

    return attribute


def support(claim: str, source: str, question: str = "") -> float | None:
    """Share of the claim's own content words (not taken from the question) found in the source;
    None when the claim adds no word of its own."""
    words = content_stems(MARKER.sub("", claim)) - content_stems(question)
    if not words:
        return None
    found = content_stems(source)
    return len(words & found) / len(words)


def best_quote(claim: str, paragraph: str) -> str:
    """The sentence of ``paragraph`` sharing most content words with ``claim`` (for highlighting)."""
    sentences = split_sentences(paragraph) or [paragraph]
    words = content_words(MARKER.sub("", claim))
    return max(sentences, key=lambda s: len(words & content_words(s)))


def _years(text: str) -> set[str]:
    return set(_YEAR.findall(text))


def fits_question(source: Citation, question: str) -> bool:
    """False when the question names a year and the source is about other years only (its paragraph
    and its report's date): a claim about a 2021 forum cannot answer a question about January 2009."""
    asked = _years(question)
    if not asked:
        return True
    about = _years(source.text) | _years(source.date or "")
    return not about or bool(asked & about)


def _check_support(claim: Claim, sources: Sequence[Citation], question: str, min_support: float
                   ) -> Claim | None:
    """The claim citing a source that holds it (re-pointed if another shown source does), or None."""
    cited = [sources[n - 1] for n in claim.markers]
    share = support(claim.text, " ".join(c.text for c in cited), question)
    if (share is not None and share < min_support) or not all(fits_question(c, question) for c in cited):
        shares = [(support(claim.text, c.text, question) or 0.0) if fits_question(c, question) else -1.0
                  for c in sources]
        best = max(range(len(sources)), key=shares.__getitem__)
        if shares[best] < min_support or shares[best] < 0:
            return None
        first = re.search(r"\[\d+\]", claim.text)
        assert first is not None
        claim = replace(claim, text=claim.text[:first.start()] + f"[{best + 1}]"
                        + re.sub(r"\s*\[\d+\]", "", claim.text[first.end():]))
        cited = [sources[best]]
    if not is_grounded(claim.text, [c.text for c in cited], question):
        return None
    return replace(claim, supported=True, quote=best_quote(claim.text, cited[0].text))


def resolve_citations(raw: str, sources: Sequence[Citation], attributor: Attributor | None = None,
                      min_similarity: float = 0.45, question: str = "", min_support: float = 0.0, *,
                      refusal: str) -> Resolved:
    """Turn the model's text into an answer whose markers index its citation list (see module doc).

    ``refusal`` (``prompts.refusal``) is recognised as a refusal, and is the text when nothing else is left.
    """
    text = normalise_markers(raw.strip())
    dropped = 0

    def keep_valid(match: re.Match) -> str:
        nonlocal dropped
        number = int(match.group(1))
        if 1 <= number <= len(sources):
            return match.group(0)
        dropped += 1
        return ""

    text = re.sub(r"\[(\d+)\]", keep_valid, text)
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
    claims = parse_claims(text, refusal_pattern(refusal))  # a refusal cites nothing, whatever marker it carries

    attributed = 0
    if attributor is not None and sources:
        unmarked = [i for i, c in enumerate(claims) if c.kind == "claim" and not c.markers
                    and len(WORD.findall(c.text)) >= MIN_ATTRIBUTABLE_WORDS]
        if unmarked:
            found = attributor([claims[i].plain for i in unmarked], [c.text for c in sources])
            for i, (best, similarity) in zip(unmarked, found):
                if similarity >= min_similarity:
                    claims[i] = replace(claims[i].with_markers([best + 1]), attributed=True)
                    attributed += 1

    kept: list[Claim] = []
    unsupported = 0
    for claim in claims:
        if claim.kind == "claim" and claim.markers:
            checked = _check_support(claim, sources, question, min_support)
            if checked is None:
                unsupported += 1
                continue
            claim = checked
        kept.append(claim)

    if not any(c.kind == "claim" and c.markers for c in kept):
        kept = [c.with_markers([]) for c in kept]
        return Resolved(render(kept) or refusal, [], True, dropped, attributed, unsupported, kept)

    order: dict[int, int] = {}
    for claim in kept:
        if claim.kind != "filler":
            for number in claim.markers:
                order.setdefault(number, len(order) + 1)
    model_marked = {n for c in kept if not c.attributed for n in c.markers}
    claims_by_source: dict[int, list[str]] = {}
    for claim in kept:
        for number in claim.markers:
            claims_by_source.setdefault(number, []).append(claim.text)
    citations = [
        replace(sources[number - 1], quote=best_quote(" ".join(claims_by_source[number]), sources[number - 1].text),
                attributed=number not in model_marked)
        for number in order
    ]
    kept = [replace(c, text=NUMBERED.sub(lambda m: f"[{order[int(m.group(1))]}]", c.text)) if c.kind != "filler"
            else c for c in kept]
    return Resolved(render(kept), citations, False, dropped, attributed, unsupported, kept)

"""Extract, then answer: the model first chooses the sentences that answer, then writes from them.

A 1.5B model copies and chooses far better than it composes. So every sentence shown is numbered
(``[2.3]`` = source 2, sentence 3), and the model's first reply is a choice restricted to those ids or
``[none]`` (a grammar on the embedded model, a JSON schema on Ollama: ``LLM.choose``); the ranker's closest
sentence may join it (``with_best_sentence``). The chosen sentences are the answer and its citations by
construction, each with its document, paragraph and page, and its quote is exact. With
``citations.write_answer`` the model also writes a short answer from them in the same KV cache: ``ground``
ties each written sentence to the chosen sentences that hold it, and drops one whose numbers they do not hold.

Example::

    from rag.answer.extraction import number_sentences, ground
    sentences = number_sentences(["Over 100 seizures. It ended in 2009."])   # ids "1.1", "1.2"
    ground("It made over 100 seizures.", [sentences[0]], sources, "What did it seize?", refusal="...")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from rag.answer.abstention import found_terms, key_terms
from rag.answer.citations import Resolved, is_grounded, refusal_pattern, support
from rag.answer.claims import parse_claims, render
from rag.answer.injection import REMOVED
from rag.text import content_stems, sentence_spans
from rag.types import Citation, Claim

_ANY_MARKER = re.compile(r"\s*\[[^\[\]]{0,12}\]")  # "[1]", "[2.3]", "[none]": the writer's own markers go
_ELLIPSIS = re.compile(r"^[\s…]*$")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a shown source, as the model sees it and may choose it."""

    id: str  # "2.3": source 2, sentence 3
    source: int  # 1-based: the source it belongs to, ``Prompt.sources[source - 1]``
    text: str


def number_sentences(shown: Sequence[str]) -> list[Sentence]:
    """The choosable sentences of each shown source text (an excerpt, instructions masked), numbered per source.

    A gap ("…") and a masked instruction are shown but get no id: the model cannot choose them.
    """
    numbered = []
    for source, text in enumerate(shown, 1):
        count = 0
        for piece in text.split(REMOVED):
            for start, end in sentence_spans(piece) or [(0, len(piece))]:
                sentence = piece[start:end].strip().removeprefix("…").removesuffix("…").strip()
                if _ELLIPSIS.match(sentence):
                    continue
                count += 1
                numbered.append(Sentence(f"{source}.{count}", source, sentence))
    return numbered


def evidence_text(chosen: Sequence[Sentence]) -> str:
    """Sentences one per line, each after its id: what the model chooses from, and what the writing step repeats."""
    return "\n".join(f"[{s.id}] {s.text}" for s in chosen)


def numbered_text(sentences: Sequence[Sentence], source: int) -> str:
    """One source's sentences as the model chooses from them."""
    return evidence_text([s for s in sentences if s.source == source])


def choice_text(chosen: Sequence[Sentence]) -> str:
    """The model's choice as it would have written it: what the writing step sees as its reply."""
    return " ".join(f"[{s.id}]" for s in chosen) or "[none]"


def evidence_citations(chosen: Sequence[Sentence], sources: Sequence[Citation]) -> list[Citation]:
    """One citation per chosen sentence, its quote the sentence itself (the exact words shown)."""
    return [replace(sources[s.source - 1], quote=s.text) for s in chosen]


def best_sentence(question: str, sentences: Sequence[Sentence], encode: Callable[[list[str]], np.ndarray],
                  term_weight: float = 0.5) -> Sentence | None:
    """The shown sentence closest to the question: cosine similarity under the index's embedder plus
    ``term_weight`` x the share of the question's key terms it holds (``rag.answer.abstention.key_terms``)."""
    if not sentences:
        return None
    vectors = encode([question, *(s.text for s in sentences)])
    terms = key_terms(question)
    scores = [float(vectors[i + 1] @ vectors[0]) + term_weight * len(found_terms(terms, s.text)) / max(len(terms), 1)
              for i, s in enumerate(sentences)]
    return sentences[max(range(len(sentences)), key=scores.__getitem__)]


def with_best_sentence(chosen: list[Sentence], question: str, options: Sequence[Sentence],
                       encode: Callable[[list[str]], np.ndarray], where: str, most: int) -> list[Sentence]:
    """The model's choice and, after it, the ranker's best sentence (``best_sentence``) when it is not chosen
    yet and there is room (``most``): from any shown paragraph (``where="any"``), from one the model chose
    from or the best retrieved one ("chosen-or-top"), only from one the model chose from ("same-paragraph"),
    or never ("off")."""
    if where == "off" or not chosen or len(chosen) >= most:
        return chosen
    sources = {c.source for c in chosen} | ({1} if where == "chosen-or-top" else set())
    pool = [s for s in options if where == "any" or s.source in sources]
    best = best_sentence(question, pool, encode)
    return chosen if best is None or best in chosen else [*chosen, best]


def _cited(claim: str, evidence: Sequence[Citation], question: str) -> list[int]:
    """The evidence (1-based) a claim rests on: each quote that holds a word of its own, or else the first."""
    own = content_stems(claim) - content_stems(question)
    holding = [n for n, c in enumerate(evidence, 1) if own & content_stems(c.quote)]
    return holding or [1]


def ground(raw: str, chosen: Sequence[Sentence], sources: Sequence[Citation], question: str, *, refusal: str,
           min_support: float = 0.5, same_language: bool = True) -> Resolved:
    """The written answer as claims, each citing the chosen sentences that hold it (``[n]`` = evidence n).

    A claim is dropped when it states a number no chosen sentence holds, or when less than ``min_support``
    of its own words (not the question's) are in them. If nothing the model wrote survives (or it wrote
    nothing: ``citations.write_answer`` off), the answer is the chosen sentences themselves: an exact quote is
    a verified answer. A written refusal is a refusal. An answer written in another language than the sentences
    (``same_language`` False) shares no words with them: only its numbers are checked.
    """
    evidence = evidence_citations(chosen, sources)
    text = " ".join(_ANY_MARKER.sub("", raw).split())
    claims = parse_claims(text, refusal_pattern(refusal))
    quotes = [c.quote for c in evidence]
    kept: list[Claim] = []
    dropped = 0
    for claim in claims:
        if claim.kind != "claim":
            kept.append(claim)
            continue
        share = support(claim.text, " ".join(quotes), question) if same_language else None
        if not is_grounded(claim.text, quotes, question) or (share is not None and share < min_support):
            dropped += 1
            continue
        markers = _cited(claim.plain, evidence, question)
        kept.append(replace(claim.with_markers(markers), supported=True, quote=quotes[markers[0] - 1]))
    if any(c.kind == "refusal" for c in kept) and not any(c.kind == "claim" for c in kept):
        refused = [replace(c, text=c.plain) for c in kept if c.kind == "refusal"]
        return Resolved(render(refused) or refusal, [], True, 0, 0, dropped, refused)
    if not any(c.kind == "claim" for c in kept):  # the evidence itself, each sentence citing itself
        kept = [replace(Claim(c.quote).with_markers([n]), supported=True, quote=c.quote)
                for n, c in enumerate(evidence, 1)]
    used = sorted({n for c in kept if c.kind == "claim" for n in c.markers})
    order = {old: new for new, old in enumerate(used, 1)}
    renumbered = [c.with_markers([order[n] for n in c.markers]) if c.kind == "claim" else c for c in kept
                  if c.kind != "filler"]
    return Resolved(render(renumbered), [evidence[n - 1] for n in used], False, 0, 0, dropped, renumbered)

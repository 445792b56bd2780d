"""Components: the raw answer -> claims whose citations are checked -> the answer, or a refusal.

``CitationResolver`` turns the model's ``[n]`` markers into citations that point at the
sources that hold each claim (``rag.answer.citations``). ``AnswerVerifier`` then weighs whether
those citations cover the question (``rag.answer.abstention``) and, if they do not, refuses while
quoting the passage closest to the question, so the reader can still check the reports.

Both are public so that ``bench/replay_citations.py`` replays recorded answers through the very
same decisions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from embeddings import Embedder
from rag.answer.abstention import Abstainer, Evidence, Similar, assess, closest_passage, refusal_text, with_closest
from rag.answer.citations import Attributor, Resolved, embedding_attributor, lexical_attributor, resolve_citations
from rag.answer.injection import is_instruction
from rag.types import Claim, Source

if TYPE_CHECKING:
    from rag.settings import AbstentionSettings, CitationSettings, PromptSettings

log = logging.getLogger(__name__)


def make_attributor(kind: Literal["embedding", "lexical", "off"], embedder: Embedder) -> Attributor | None:
    """How a sentence without a marker finds its source: by the index's embedder, by shared words, or not at all."""
    if kind == "embedding":
        return embedding_attributor(embedder)
    return lexical_attributor if kind == "lexical" else None


class CitationResolver:
    def __init__(self, attributor: Attributor | None, refusal: str, min_similarity: float = 0.45,
                 min_support: float = 0.0) -> None:
        """``refusal``: the configured refusal sentence (``prompts.refusal``)."""
        self.attributor, self.min_similarity, self.min_support = attributor, min_similarity, min_support
        self.refusal = refusal

    @classmethod
    def from_settings(cls, s: CitationSettings, embedder: Embedder, prompts: PromptSettings) -> CitationResolver:
        return cls(make_attributor(s.attribution, embedder), prompts.refusal, s.attribution_min_similarity,
                   s.min_support)

    def warm_up(self) -> None:
        """Nothing to load: the attributor shares the retriever's embedder."""

    def run(self, raw: str, sources: Sequence[Source], question: str) -> Resolved:
        return resolve_citations(raw, sources, self.attributor, self.min_similarity, question, self.min_support,
                                 refusal=self.refusal)


class AnswerVerifier:
    def __init__(self, abstainer: Abstainer, similar: Callable[[], Similar], prompts: PromptSettings,
                 window_sentences: int = 1, term_similarity: float = 1.0, related_min_coverage: float = 0.5,
                 cite_refused_claim: bool = True, translated_coverage_scale: float = 1.0) -> None:
        """``similar`` gives the word similarity for paraphrased question terms; used when ``term_similarity`` < 1.
        ``prompts`` holds the refusal texts. ``cite_refused_claim``: when no passage is close to the question, a
        refusal cites what the refused claim rested on (write-first; in the extract mode that is only the model's
        choice, which is no closer, so nothing is cited)."""
        self.abstainer, self.similar, self.prompts = abstainer, similar, prompts
        self.window_sentences, self.term_similarity = window_sentences, term_similarity
        self.related_min_coverage, self.cite_refused_claim = related_min_coverage, cite_refused_claim
        # A translated question is held to a share of each coverage threshold (abstention.translated_coverage_scale).
        scale = translated_coverage_scale
        self.translated = replace(abstainer, min_coverage=abstainer.min_coverage * scale,
                                  min_window_coverage=abstainer.min_window_coverage * scale,
                                  min_source_coverage=abstainer.min_source_coverage * scale)

    @classmethod
    def from_settings(cls, s: AbstentionSettings, similar: Callable[[], Similar], prompts: PromptSettings,
                      cite_refused_claim: bool = True) -> AnswerVerifier:
        abstainer = Abstainer(s.min_coverage, s.min_window_coverage, s.check_answer_type, s.min_source_coverage,
                              s.max_refusal_probability)
        return cls(abstainer, similar, prompts, s.window_sentences, s.term_similarity, s.refusal_related_min_coverage,
                   cite_refused_claim, s.translated_coverage_scale)

    def _similar(self) -> Similar | None:
        return self.similar() if self.term_similarity < 1.0 else None

    def warm_up(self) -> None:
        self._similar()

    def run(self, resolved: Resolved, question: str, sources: list[Source],
            refusal_probability: Callable[[], float | None], *, prompts: PromptSettings | None = None,
            with_quotes: bool = False, translated: bool = False) -> tuple[Resolved, Evidence | None]:
        """The answer, or a refusal that keeps its closest citation when the evidence does not cover the question;
        and that evidence (None when the answer was refused before it was weighed).

        ``question`` is what was searched (in English); ``prompts`` replaces the refusal texts (a question in another
        language is refused in it: ``PromptSettings.for_language``); ``with_quotes``: see ``assess``; ``translated``:
        ``question`` is a translation, held to a share of the coverage thresholds."""
        prompts = prompts or self.prompts
        if resolved.refused:  # the model's own refusal also points to the closest passage, when one is close
            related = closest_passage(question, sources, self.related_min_coverage)
            if related is None:
                return resolved, None
            text = with_closest(resolved.text, related.quote, prompts)
            return replace(resolved, text=text, citations=[related],
                           claims=[*resolved.claims, Claim(text[len(resolved.text):].strip(), "refusal",
                                                           quote=related.quote)]), None
        evidence = replace(assess(question, resolved.claims, resolved.citations, sources, self.window_sentences,
                                  self._similar(), self.term_similarity, with_quotes),
                           refusal_probability=refusal_probability())
        if not (self.translated if translated else self.abstainer).refuses(evidence):
            return resolved, evidence
        # Point to the passage closest to the question, not to what backed the refused claim: that may be
        # an order hidden in a report, or the wrong entity (measured in eval.injection).
        # Ties go to what the refused answer cited first (the model's own choice, not a sentence added beside it).
        closest = closest_passage(question, sources, self.related_min_coverage, resolved.citations[:1])
        if closest is None and self.cite_refused_claim:
            closest = next((replace(resolved.citations[c.markers[0] - 1], quote=c.quote) for c in resolved.claims
                            if c.kind == "claim" and c.markers and c.quote and not is_instruction(c.quote)), None)
        text = refusal_text(evidence, closest.quote if closest else "", prompts)
        log.info("refused: the cited evidence does not cover the question (%s)", evidence.signals())
        return replace(resolved, text=text, refused=True, citations=[closest] if closest else [],
                       claims=[Claim(text, "refusal", quote=closest.quote if closest else "")]), evidence

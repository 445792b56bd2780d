"""The pipeline object: question -> retrieval -> prompt -> LLM -> cited ``Answer``.

One ``Pipeline`` serves ``ask()``, the CLI, the UI and the eval. Heavy parts (the
embedding model, the index, the LLM) load lazily on first use and once per process.

Example::

    from rag import Pipeline, Settings
    pipeline = Pipeline(Settings(k=5))
    answer = pipeline.ask("What did Operation Sentinel seize?")
    print(answer.text, [c.label() for c in answer.citations])

    stream = pipeline.stream("When did it take place?", history=[
        {"role": "user", "content": "What did Operation Sentinel seize?"},
        {"role": "assistant", "content": answer.text}])
    for delta in stream:
        print(delta, end="", flush=True)
    print(stream.result.rewritten_question, stream.result.citations)  # "When did Operation Sentinel ...?"
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import replace
from functools import cached_property
from pathlib import Path

from embeddings import Embedder, make_embedder
from rag.answer.abstention import (
    Abstainer,
    Evidence,
    Similar,
    assess,
    closest_passage,
    embedding_similarity,
    refusal_text,
    with_closest,
)
from rag.answer.citations import Attributor, Resolved, embedding_attributor, lexical_attributor, resolve_citations
from rag.answer.injection import is_instruction
from rag.answer.prompt import REFUSAL, build_messages, select_sources, warm_up_messages
from rag.errors import LLMUnavailable
from rag.ingest.index import FaissIndex
from rag.ingest.indexer import IndexReport, update_index
from rag.ingest.integrity import is_empty
from rag.llm import LLM, LLMChoice, Message, TextStream, make_llm
from rag.query.followup import standalone_question
from rag.query.question import validate_question
from rag.query.retrieval import Hit, Retriever
from rag.query.translation import english_question, looks_english
from rag.settings import Settings
from rag.types import Answer, Citation, Claim

log = logging.getLogger(__name__)


def _as_citation(hit: Hit) -> Citation:
    return Citation(hit.doc_id, hit.number, hit.paragraph.text, round(hit.score, 4), hit.title, hit.date)


class Pipeline:
    def __init__(self, settings: Settings | None = None, progress: bool = False, *,
                 embedder: Embedder | None = None, llm: LLM | None = None) -> None:
        """``embedder`` and ``llm`` replace the configured ones (a test's fakes, or an LLM built elsewhere)."""
        self.settings = settings or Settings()
        self.progress = progress  # show progress bars for indexing and model assembly
        self._lock = threading.RLock()
        self._embedder: Embedder | None = embedder
        self._index: FaissIndex | None = None
        self._llm: LLMChoice | None = LLMChoice(llm, "given to the pipeline") if llm is not None else None
        self._retriever: Retriever | None = None

    @cached_property
    def term_similarity(self) -> Similar:
        """Word similarity under the index's embedder, cached across questions (paraphrased question terms)."""
        return embedding_similarity(self.embedder)

    @property
    def abstainer(self) -> Abstainer:
        s = self.settings
        return Abstainer(s.abstention.min_coverage, s.abstention.min_window_coverage, s.abstention.check_answer_type,
                         s.abstention.min_source_coverage, s.abstention.max_refusal_probability)

    # --- lazily loaded parts ------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings.index.embedder, self.settings.index.embed_batch_size)
            return self._embedder

    @property
    def index(self) -> FaissIndex:
        """The configured index, opened read-only: a missing or damaged one is a one-line error, never rebuilt.

        The one exception is the first run of the bundled sample in the default location.
        """
        with self._lock:
            if self._index is None:
                directory = self.settings.resolved_index_dir()
                if self.settings.is_first_run_default() and is_empty(directory):
                    log.info("first run: indexing the bundled sample reports into %s", directory)
                    self.reindex()
                else:
                    index = FaissIndex.load(directory)
                    index.check_embedder(self.embedder.name, self.embedder.dim)
                    self._index = index
            assert self._index is not None
            return self._index

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            index = self.index
            if self._retriever is None or self._retriever.index is not index:
                s = self.settings
                self._retriever = Retriever(index, self.embedder, s.retrieval.mode, s.retrieval.candidates,
                                            s.retrieval.rrf_k)
            return self._retriever

    @property
    def llm(self) -> LLMChoice:
        with self._lock:
            if self._llm is None:
                self._llm = make_llm(self.settings.llm, progress=self.progress, warm_messages=warm_up_messages())
            return self._llm

    def reindex(self, corpus_dir: Path | None = None, force: bool = False) -> IndexReport:
        """Update the index from ``corpus_dir`` (default: the configured corpus) and use the result.

        ``force`` builds into a folder that holds files but no valid index (see ``update_index``).
        """
        with self._lock:
            self._index, report = update_index(corpus_dir or self.settings.resolved_corpus_dir(),
                                               self.settings.resolved_index_dir(), self.embedder,
                                               self.settings.index, progress=self.progress, force=force)
            return report

    def adopt(self, index: FaissIndex) -> None:
        """Answer from ``index``, which another writer has just saved to this pipeline's index folder."""
        index.check_embedder(self.embedder.name, self.embedder.dim)
        with self._lock:
            self._index = index

    # --- questions ----------------------------------------------------------------------------
    def _validated(self, question: str) -> str:
        return validate_question(question, self.settings.retrieval.max_question_chars)

    def retrieve(self, question: str, k: int | None = None, timings: dict[str, float] | None = None) -> list[Hit]:
        """The ``k`` best paragraphs; pass ``timings`` to receive the seconds spent embedding and searching."""
        return self._search(self._validated(question), k or self.settings.retrieval.k,
                            {} if timings is None else timings)

    def _search(self, question: str, k: int, timings: dict[str, float]) -> list[Hit]:
        retriever = self.retriever
        mark = time.perf_counter()
        vector = retriever.embed(question)
        timings["embed"] = time.perf_counter() - mark
        mark = time.perf_counter()
        hits = retriever.search_vector(vector, k, question)
        timings["search"] = time.perf_counter() - mark
        return hits

    def stream(self, question: str, k: int | None = None, history: list[Message] | None = None
               ) -> TextStream[Answer]:
        """Iterate for the raw answer text as it is generated; ``.result`` is the final Answer.

        With ``history`` (earlier {"role", "content"} messages) a follow-up question is first
        rewritten to stand alone; ``.result.rewritten_question`` says what was answered.
        """
        question = self._validated(question)
        return TextStream(self._answer(question, k or self.settings.retrieval.k, history or []))

    def ask(self, question: str, k: int | None = None, history: list[Message] | None = None) -> Answer:
        stream = self.stream(question, k, history)
        for _ in stream:
            pass
        assert stream.result is not None
        return stream.result

    def standalone_question(self, question: str, history: list[Message]) -> str:
        """``question`` rewritten with ``history`` so that retrieval understands it (no LLM call without history)."""
        s = self.settings
        if s.questions.followup_turns <= 0 or not history:
            return question
        return self._validated(standalone_question(self.llm.llm, question, history, s.questions.followup_turns,
                                                   s.questions.followup_max_chars, s.questions.followup_max_tokens,
                                                   s.retrieval.max_question_chars))

    def search_question(self, question: str) -> str:
        """What retrieval searches with: an English translation when the question is in another language."""
        s = self.settings
        if not s.questions.translate or looks_english(question):
            return question
        return english_question(self.llm.llm, question, s.questions.translation_max_tokens)

    def _attributor(self) -> Attributor | None:
        if self.settings.citations.attribution == "embedding":
            return embedding_attributor(self.embedder)
        return lexical_attributor if self.settings.citations.attribution == "lexical" else None

    def verified(self, resolved: Resolved, question: str, sources: list[Citation],
                 refusal_probability: Callable[[], float | None]) -> tuple[Resolved, Evidence | None]:
        """The answer, or a refusal that keeps its closest citation when the evidence does not cover the question;
        and that evidence (None when the answer was refused before it was weighed).

        Public so that ``bench/replay_citations.py`` can replay recorded answers through the same decision.
        """
        if resolved.refused:  # the model's own refusal also points to the closest passage, when one is close
            related = closest_passage(question, sources, self.settings.abstention.refusal_related_min_coverage)
            if related is None:
                return resolved, None
            text = with_closest(resolved.text, related.quote)
            return replace(resolved, text=text, citations=[related],
                           claims=[*resolved.claims, Claim(text[len(resolved.text):].strip(), "refusal",
                                                           quote=related.quote)]), None
        s = self.settings
        similar = self.term_similarity if s.abstention.term_similarity < 1.0 else None
        evidence = replace(assess(question, resolved.claims, resolved.citations, sources,
                                  s.abstention.window_sentences, similar, s.abstention.term_similarity),
                           refusal_probability=refusal_probability())
        if not self.abstainer.refuses(evidence):
            return resolved, evidence
        # Point to the passage closest to the question, not to what backed the refused claim: that may be
        # an order hidden in a report, or the wrong entity (measured in eval.injection).
        closest = closest_passage(question, sources, s.abstention.refusal_related_min_coverage,
                                  resolved.citations) or next(
            (replace(resolved.citations[c.markers[0] - 1], quote=c.quote) for c in resolved.claims
             if c.kind == "claim" and c.markers and c.quote and not is_instruction(c.quote)), None)
        text = refusal_text(evidence, closest.quote if closest else "")
        log.info("refused: the cited evidence does not cover the question (%s)", evidence.signals())
        return replace(resolved, text=text, refused=True, citations=[closest] if closest else [],
                       claims=[Claim(text, "refusal", quote=closest.quote if closest else "")]), evidence

    @staticmethod
    def _refusal_probability(llm: LLM, messages: list[Message], answer: str) -> float | None:
        """How likely the model was to refuse instead; None when it cannot say (the answer is kept either way)."""
        try:
            return llm.prefer(messages, REFUSAL, answer)
        except LLMUnavailable as exc:
            log.warning("no refusal probability for this answer: %s", exc)
            return None

    def _answer(self, asked: str, k: int, history: list[Message]) -> Generator[str, None, Answer]:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        choice = self.llm  # an embedded model now loads in its worker while the question is searched
        question = self.standalone_question(asked, history)
        rewritten = question if question != asked else None
        if history:
            timings["rewrite"] = time.perf_counter() - started
        mark = time.perf_counter()
        searched = self.search_question(question)
        if searched != question:
            timings["translate"] = time.perf_counter() - mark
        hits = select_sources(self._search(searched, k, timings), self.settings.retrieval.min_source_score_ratio)
        sources = [_as_citation(hit) for hit in hits]
        translated = searched if searched != question else None
        if not hits:
            return Answer(asked, REFUSAL, True, [], sources=sources, timings=timings, rewritten_question=rewritten,
                          search_question=translated)

        mark = time.perf_counter()
        # A translated question is also what the model answers: an English answer to English sources
        # keeps the [n] attribution working (all-MiniLM-L6-v2 cannot match Russian to English).
        messages = build_messages(searched, hits, self.settings.retrieval.max_source_chars)
        generation = choice.llm.stream(messages)
        parts: list[str] = []
        for delta in generation:
            if not parts:
                timings["llm_first_token"] = time.perf_counter() - mark
            parts.append(delta)
            yield delta
        timings["llm_total"] = time.perf_counter() - mark

        raw = "".join(parts)
        resolved, evidence = self.verified(resolve_citations(raw, sources, self._attributor(),
                                                             self.settings.citations.attribution_min_similarity,
                                                             searched, self.settings.citations.min_support),
                                           searched, sources,
                                           lambda: self._refusal_probability(choice.llm, messages, raw))
        timings["total"] = time.perf_counter() - started
        usage = generation.result
        log.info("answered by %s model %s in %.1fs, first token %.1fs (%d citations%s)", choice.llm.backend,
                 choice.llm.model, timings["total"], timings.get("llm_first_token", 0.0), len(resolved.citations),
                 ", refused" if resolved.refused else "")
        return Answer(
            question=asked, rewritten_question=rewritten, search_question=translated, text=resolved.text,
            refused=resolved.refused, citations=resolved.citations,
            backend=choice.llm.backend, model=choice.llm.model, dropped_markers=resolved.dropped_markers,
            attributed_sentences=resolved.attributed_sentences,
            unsupported_sentences=resolved.unsupported_sentences, sources=sources, raw_text=raw,
            timings=timings, claims=resolved.claims, abstention=evidence.signals() if evidence else {},
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )


_default: Pipeline | None = None
_default_lock = threading.Lock()


def default_pipeline() -> Pipeline:
    """The process-wide pipeline built from ``Settings()`` (environment and defaults)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Pipeline(progress=True)  # first use may index and assemble the model: show it
        return _default


def ask(question: str) -> Answer:
    """Answer a question about the configured reports, with citations.

    Example::

        from rag import ask
        a = ask("What did Operation Sentinel seize?")
        a.text        # "... over 100 seizures ... more than 160 kg ... [1]"
        a.refused     # False
        a.citations   # [Citation(doc_id="002_50d104ffb6a67dba.txt", paragraph=9, text=..., score=...)]
    """
    return default_pipeline().ask(question)

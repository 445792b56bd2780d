"""The pipeline: the wiring of the stages that turn a question into a cited ``Answer``.

    rewriter -> retriever -> prompt builder -> generator -> citation resolver -> verifier

In the ``extract`` mode (``citations.mode``, the default) the generator first chooses the sentences
that answer, under a grammar, and then writes from them; ``rag.answer.extraction`` ties the answer to
them instead of the citation resolver (``_extract``).

Each stage is a component with a ``run()`` and a ``warm_up()`` in its own module (``rag.query``,
``rag.answer``), built from its settings. This class only wires them over the heavy parts it holds
(``pipeline.resources``, a ``rag.resources.Resources``) and collects the timings in one dict. It
answers; only a first question on a fresh checkout writes an index, the bundled sample's (``ensure_index``).

Example::

    from rag import Pipeline, Scope, Settings
    pipeline = Pipeline(Settings(retrieval={"k": 5}))
    answer = pipeline.ask("What did Operation Sentinel seize?")
    print(answer.text, [c.label() for c in answer.citations])
    stream = pipeline.stream("When did it take place?", history=[{"role": "user", "content": "What did ..."},
                                                                  {"role": "assistant", "content": answer.text}])
    print("".join(stream), stream.result.rewritten_question)  # "When did Operation Sentinel ...?"
    # only from some reports: names as globs, dates inclusive (a report without a date is outside any range)
    pipeline.ask("Who opened the seminar?", scope=Scope.of("004*", since="2009-01-01"))
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import replace
from functools import cache, cached_property
from pathlib import Path

from embeddings import Embedder
from rag.answer.abstention import Evidence, embedding_similarity, found_terms, key_terms
from rag.answer.citations import Resolved
from rag.answer.extraction import choice_text, evidence_citations, evidence_text, ground, with_best_sentence
from rag.answer.generation import AnswerGenerator, Generation
from rag.answer.prompt import Prompt, PromptBuilder
from rag.answer.verification import AnswerVerifier, CitationResolver
from rag.index_changes import IndexChange
from rag.indexing import IndexReport
from rag.llm import LLM, LLMChoice, TextStream, Usage
from rag.query.language import ENGLISH, language_name
from rag.query.retrieval import Allowed, Hit, Retriever
from rag.query.rewrite import QuestionRewriter, RewrittenQuestion
from rag.resources import Resources
from rag.settings import PromptSettings, Settings
from rag.store.index import SegmentedIndex
from rag.types import Answer, Citation, Message, Scope

log = logging.getLogger(__name__)


class Pipeline:
    """The stages wired over the heavy parts that ``resources`` loads (``index``, ``embedder``, ``llm``).

    Held, not inherited: the stages only read the heavy parts, so the pipeline exposes those reads (and
    ``reindex`` / ``ensure_index``, which callers of ``Pipeline`` use) and leaves the rest to ``resources``.
    """

    def __init__(self, settings: Settings | None = None, progress: bool = False, *,
                 embedder: Embedder | None = None, llm: LLM | None = None) -> None:
        """``progress``: show progress bars for indexing and model assembly; ``embedder`` and ``llm`` replace
        the configured ones (a test's fakes, or an LLM built elsewhere)."""
        self.resources = Resources(settings, progress, embedder=embedder, llm=llm)
        self._lock = threading.Lock()  # the retriever follows the index; one rebuild at a time
        self._retriever: Retriever | None = None

    @property
    def settings(self) -> Settings:
        return self.resources.settings

    @property
    def embedder(self) -> Embedder:
        return self.resources.embedder

    @property
    def index(self) -> SegmentedIndex:
        """Opened read-only, never built (see ``Resources.index``)."""
        return self.resources.index

    @property
    def llm(self) -> LLMChoice:
        return self.resources.llm

    def ensure_index(self) -> SegmentedIndex:
        """The index, building the bundled sample on its first run (see ``Resources.ensure_index``)."""
        return self.resources.ensure_index()

    def reindex(self, corpus_dir: Path | None = None, force: bool = False, compact: bool = False,
                change: IndexChange | None = None) -> IndexReport:
        """Update the index from ``corpus_dir`` and answer from the result (see ``Resources.reindex``)."""
        return self.resources.reindex(corpus_dir, force, compact, change)

    @property
    def retriever(self) -> Retriever:
        """Over the current index. Answering is what builds the bundled sample on its first run (explicitly,
        here), so ``Pipeline().ask(...)`` answers on a fresh checkout as ``rag ask`` does; ``index`` never builds."""
        with self._lock:
            index = self.resources.ensure_index()
            if self._retriever is None or self._retriever.index is not index:
                self._retriever = Retriever.from_settings(self.settings.retrieval, index, self.embedder)
            return self._retriever

    @cached_property
    def rewriter(self) -> QuestionRewriter:
        return QuestionRewriter.from_settings(self.settings.questions, self.settings.retrieval.max_question_chars,
                                              lambda: self.llm.llm, self.settings.prompts,
                                              self.settings.llm.model_cache_dir)

    @cached_property
    def prompt_builder(self) -> PromptBuilder:
        return PromptBuilder.from_settings(self.settings.retrieval, self.settings.prompts, self.settings.citations.mode)

    @cached_property
    def generator(self) -> AnswerGenerator:
        return AnswerGenerator(lambda: self.llm.llm, self.settings.prompts)

    @cached_property
    def resolver(self) -> CitationResolver:
        return CitationResolver.from_settings(self.settings.citations, self.embedder, self.settings.prompts)

    @cached_property
    def verifier(self) -> AnswerVerifier:
        similar = cache(lambda: embedding_similarity(self.embedder))
        return AnswerVerifier.from_settings(self.settings.abstention, similar, self.settings.prompts,
                                            cite_refused_claim=self.settings.citations.mode == "write-first")

    def warm_up(self) -> None:
        """Load the index, the embedder and the LLM now instead of on the first question."""
        for stage in (self.rewriter, self.retriever, self.prompt_builder, self.generator, self.resolver,
                      self.verifier):
            stage.warm_up()

    # --- questions --------------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None, timings: dict[str, float] | None = None,
                 scope: Scope | None = None) -> list[Hit]:
        """The ``k`` best paragraphs (of the reports inside ``scope``; None: all); pass ``timings`` to receive the
        seconds spent embedding and searching."""
        question = self.rewriter.validate(question)  # before the index is opened: a bad question costs nothing
        retriever = self.retriever
        return retriever.run(question, k or self.settings.retrieval.k, {} if timings is None else timings,
                             retriever.allowed(scope))

    def stream(self, question: str, k: int | None = None, history: list[Message] | None = None,
               scope: Scope | None = None) -> TextStream[Answer]:
        """Iterate for the raw answer text as it is generated; ``.result`` is the final Answer. With ``history``
        (earlier messages) a follow-up is first rewritten to stand alone: ``.result.rewritten_question``.
        With ``scope`` only those reports are searched and cited (``NoMatchingReport`` when it matches none)."""
        return TextStream(self._answer(self.rewriter.validate(question), k or self.settings.retrieval.k, history or [],
                                       scope))

    def ask(self, question: str, k: int | None = None, history: list[Message] | None = None,
            scope: Scope | None = None) -> Answer:
        return self.stream(question, k, history, scope).drain()

    def _answer(self, question: str, k: int, history: list[Message],
                scope: Scope | None = None) -> Generator[str, None, Answer]:
        started, timings = time.perf_counter(), dict[str, float]()
        if scope is None:  # nothing to check first: an embedded model starts loading while the index opens
            self.generator.llm()
        allowed = self.retriever.allowed(scope)  # before any model runs: a scope that matches nothing costs nothing
        self.generator.llm()  # an embedded model starts loading in its worker while the question is searched
        rewritten = self.rewriter.run(question, history, timings)
        searched = rewritten.search
        # The extract mode writes in the question's language; write-first answers (and refuses) in English.
        language = rewritten.language if self.settings.citations.mode == "extract" else ENGLISH
        prompts = self.settings.prompts.for_language(language)
        hits = self.retriever.run(searched, k, timings, allowed)
        if len(rewritten.renderings) > 1:
            rewritten, hits = self._best_rendering(rewritten, hits, k, timings, allowed)
            searched = rewritten.search
        prompt = self.prompt_builder.run(searched, hits)
        refused = Answer(question, prompts.refusal, True, sources=prompt.sources, timings=timings,
                         rewritten_question=rewritten.rewritten, search_question=rewritten.translated,
                         language=language)
        if not prompt.hits:
            return refused
        if prompt.sentences:
            generated, resolved, chosen = yield from self._extract(searched, prompt, timings, language, prompts)
            refusal_probability: Callable[[], float | None] = lambda: None
        else:
            generated = yield from self.generator.run(prompt.messages, timings)
            resolved, chosen = self.resolver.run(generated.raw, prompt.sources, searched), []
            refusal_probability = cache(lambda: self.generator.refusal_probability(prompt.messages, generated.raw))
        resolved, evidence = self._verify(resolved, rewritten, prompt.sources, refusal_probability, prompts,
                                          language != ENGLISH)
        timings["total"] = time.perf_counter() - started
        log.info("answered by %s model %s in %.1fs, first token %.1fs (%d citations%s)", generated.backend,
                 generated.model, timings["total"], timings.get("llm_first_token", 0.0), len(resolved.citations),
                 ", refused" if resolved.refused else "")
        usage = generated.usage or Usage()
        return replace(refused, text=resolved.text, refused=resolved.refused, citations=resolved.citations,
                       backend=generated.backend, model=generated.model, raw_text=generated.raw,
                       dropped_markers=resolved.dropped_markers, attributed_sentences=resolved.attributed_sentences,
                       unsupported_sentences=resolved.unsupported_sentences, claims=resolved.claims,
                       abstention=evidence.signals() if evidence else {}, prompt_tokens=usage.prompt_tokens,
                       completion_tokens=usage.completion_tokens, chosen=chosen)

    def _best_rendering(self, rewritten: RewrittenQuestion, hits: list[Hit], k: int, timings: dict[str, float],
                        allowed: Allowed
                        ) -> tuple[RewrittenQuestion, list[Hit]]:
        """Of a question's English renderings, the one whose key terms the paragraphs it finds hold most of (ties:
        the first), with those paragraphs. A poorly translated word finds nothing ("incautated", or "arrested"
        where the reports say "seizures"), a well translated one the words of the paragraph that answers."""
        def held(question: str, found: list[Hit]) -> float:
            terms = key_terms(question)
            text = " ".join(f"{hit.title} {hit.paragraph.text}" for hit in found)
            return len(found_terms(terms, text)) / len(terms) if terms else 0.0

        best = (held(rewritten.search, hits), rewritten.search, hits)
        for other in rewritten.renderings:
            if other != rewritten.search:
                other_hits = self.retriever.run(other, k, timings, allowed)
                if (score := held(other, other_hits)) > best[0]:
                    best = (score, other, other_hits)
        if best[1] != rewritten.search:
            log.info("searched as %r: the paragraphs it finds hold more of its terms", best[1])
        return replace(rewritten, search=best[1]), best[2]

    def _verify(self, resolved: Resolved, rewritten: RewrittenQuestion, sources: list[Citation],
                refusal_probability: Callable[[], float | None], prompts: PromptSettings, with_quotes: bool
                ) -> tuple[Resolved, Evidence | None]:
        """The verifier's decision on the English search question. A translated question it would refuse on the
        evidence gets a second opinion: the other translation, whose key terms must find the evidence wanting too.
        One poorly translated word ("incautó": "incautated") is not the reports' silence: translation must not
        refuse what the English question would have answered."""
        translated = rewritten.translated is not None
        checked, evidence = self.verifier.run(resolved, rewritten.search, sources, refusal_probability,
                                              prompts=prompts, with_quotes=with_quotes, translated=translated)
        if not checked.refused or evidence is None or rewritten.translated is None:
            return checked, evidence
        again = next((other for other in rewritten.renderings if other != rewritten.search), None)
        if again is None:
            return checked, evidence
        second, second_evidence = self.verifier.run(resolved, again, sources, refusal_probability, prompts=prompts,
                                                    with_quotes=with_quotes, translated=True)
        if second.refused:
            return checked, evidence
        log.info("not refused: the evidence covers the question as translated again, %r", again)
        return second, second_evidence

    def _extract(self, question: str, prompt: Prompt, timings: dict[str, float], language: str = ENGLISH,
                 prompts: PromptSettings | None = None
                 ) -> Generator[str, None, tuple[Generation, Resolved, list[Citation]]]:
        """Choose the evidence and show it, then (``citations.write_answer``, or a question in another language)
        write from it, in the question's language; the answer, and the chosen sentences as quotes (as the reports
        write them). The raw text is the model's choice, then what it wrote."""
        by_id = {s.id: s for s in prompt.sentences}
        s = self.settings
        prompts = prompts or s.prompts
        name = language_name(language)
        most = s.citations.max_evidence_sentences
        selection = self.generator.choose(prompt.messages, list(by_id), most, timings)
        chosen = [by_id[i] for i in selection.chosen]
        choice = choice_text(chosen)
        llm = self.generator.llm()
        if not chosen:
            log.info("evidence chosen: none")
            refused = Resolved(prompts.refusal, [], True, 0, 0)
            return Generation(choice, selection.usage, llm.backend, llm.model), refused, []
        chosen = with_best_sentence(chosen, question, prompt.sentences, self.embedder.encode,
                                    s.citations.add_best_sentence, most)
        log.info("evidence chosen: %s (model), %s", choice, choice_text(chosen))
        timings["llm_first_token"] = timings["llm_choice"]  # what the reader sees first: the evidence
        yield "".join(f"> {c.text} [{c.id}]\n" for c in chosen) + "\n"  # the evidence first, as it streams
        generated = Generation("", selection.usage, llm.backend, llm.model)
        if s.citations.write_answer or (name and s.citations.write_other_languages):
            write = prompts.extract_write.format(evidence=evidence_text(chosen))
            if name:  # only then: an English question's prompt stays as it was
                write += "\n" + prompts.answer_language.format(language=name)
            follow: list[Message] = [*prompt.messages, {"role": "assistant", "content": choice},
                                     {"role": "user", "content": write}]
            generated = yield from self.generator.run(follow, timings)
            timings["llm_first_token"] = timings["llm_choice"]
        resolved = ground(generated.raw, chosen, prompt.sources, question, refusal=prompts.refusal,
                          min_support=s.citations.min_support, same_language=name is None)
        return (replace(generated, raw=f"{choice}\n{generated.raw}"), resolved,
                evidence_citations(chosen, prompt.sources))

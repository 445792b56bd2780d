"""Each stage on its own, as ``Pipeline`` wires it: a component is usable, and testable, without the others.

Fakes stand in for the models (``tests.fakes``); the index is a real FAISS index on disk.
"""

from __future__ import annotations

from pathlib import Path

from rag.answer.generation import AnswerGenerator
from rag.answer.prompt import PromptBuilder
from rag.pipeline import Pipeline
from rag.query.retrieval import DenseRanker, KeywordRanker, RankFusion, Retriever
from rag.query.rewrite import QuestionRewriter
from rag.settings import Settings
from rag.store.index import SegmentedIndex
from rag.types import ParagraphKey
from tests.conftest import SENTINEL, SENTINEL_QUESTION
from tests.fakes import PROMPTS, REFUSAL, FakeEmbedder, FakeLLM


def test_rank_fusion_joins_rankings_by_reciprocal_rank() -> None:
    a, b, c = ParagraphKey("a.txt", 1), ParagraphKey("b.txt", 1), ParagraphKey("c.txt", 1)
    assert RankFusion(60).run([[a, b]]) == [a, b]  # one ranking passes through
    assert RankFusion(60).run([[a, b, c], [b, c]]) == [b, c, a]  # near the top of both beats first in one


def test_the_retriever_fuses_its_rankers_and_scores_one_hit_per_paragraph(fake_index_dir: Path) -> None:
    index = SegmentedIndex.load(fake_index_dir)
    hybrid = Retriever(index, FakeEmbedder(), "hybrid")
    assert [type(r) for r in hybrid.rankers] == [DenseRanker, KeywordRanker]
    assert [type(r) for r in Retriever(index, FakeEmbedder(), "dense").rankers] == [DenseRanker]
    timings: dict[str, float] = {}
    hits = hybrid.run(SENTINEL_QUESTION, 5, timings)
    assert SENTINEL in [hit.key for hit in hits] and len({hit.key for hit in hits}) == len(hits) == 5
    assert set(timings) == {"embed", "search"}
    sentinel = next(hit for hit in hits if hit.key == SENTINEL)
    assert sentinel.number == SENTINEL[1] and sentinel.paragraph.text.startswith("Whilst in Russia")


def test_the_rewriter_calls_the_llm_only_when_it_must() -> None:
    asked: list[str] = []
    llm = FakeLLM(["When did Operation Sentinel take place?"])
    rewriter = QuestionRewriter(lambda: asked.append("llm") or llm, PROMPTS, max_question_chars=2000)
    plain = rewriter.run(SENTINEL_QUESTION)
    assert (plain.asked, plain.standalone, plain.search, plain.rewritten, plain.translated) == (
        SENTINEL_QUESTION, SENTINEL_QUESTION, SENTINEL_QUESTION, None, None)
    assert asked == []  # neither a follow-up nor another language: the model is not even loaded
    history = [{"role": "user", "content": SENTINEL_QUESTION}, {"role": "assistant", "content": "Seizures [1]."}]
    followed = rewriter.run("When did it take place?", history)  # type: ignore[arg-type]
    assert followed.rewritten == "When did Operation Sentinel take place?" and asked == ["llm"]


def test_the_prompt_builder_numbers_what_it_shows(fake_index_dir: Path) -> None:
    hits = Retriever(SegmentedIndex.load(fake_index_dir), FakeEmbedder()).search(SENTINEL_QUESTION, 5)
    prompt = PromptBuilder(PROMPTS, max_source_chars=700, min_source_score_ratio=0.0).run(SENTINEL_QUESTION, hits)
    assert [source.key for source in prompt.sources] == [hit.key for hit in hits]
    assert prompt.messages[-1]["content"].endswith(f"Question: {SENTINEL_QUESTION}")
    assert all(f"[{n}] (from" in prompt.messages[-1]["content"] for n in range(1, 6))
    assert PromptBuilder(PROMPTS).run(SENTINEL_QUESTION, []).messages == []  # nothing to show: no prompt at all


def test_the_generator_streams_and_says_which_model_answered() -> None:
    llm = FakeLLM(["Over 100 seizures [1]."], preference=0.25)
    generator = AnswerGenerator(lambda: llm, PROMPTS)
    timings: dict[str, float] = {}
    stream = generator.run([{"role": "user", "content": "Sources: ..."}], timings)
    deltas = []
    try:
        while True:
            deltas.append(next(stream))
    except StopIteration as done:
        generation = done.value
    assert "".join(deltas) == generation.raw == "Over 100 seizures [1]."
    assert (generation.backend, generation.model) == (llm.backend, llm.model)
    assert {"llm_first_token", "llm_total"} <= set(timings)
    assert generator.refusal_probability([], generation.raw) == 0.25
    assert llm.prefer_calls[-1].first == REFUSAL and llm.prefer_calls[-1].second == generation.raw


def test_warm_up_loads_every_heavy_part_before_the_first_question(fake_index_dir: Path) -> None:
    llm = FakeLLM()
    pipeline = Pipeline(Settings(index={"index_dir": fake_index_dir}), embedder=FakeEmbedder(), llm=llm)
    assert pipeline.resources._index is None and not llm.started
    pipeline.warm_up()
    assert pipeline.resources._index is not None and llm.started
    assert llm.calls == []  # ready without spending an answer

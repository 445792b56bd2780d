"""The doubles keep the contracts of what they replace, so that a fast test that passes means something."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings import Embedder
from rag.answer.prompt import build_messages
from rag.errors import LLMUnavailable
from rag.llm import LLM
from rag.query.followup import rewrite_messages
from rag.query.translation import translation_messages
from rag.types import Message
from tests.fakes import PROMPTS, REFUSAL, FakeEmbedder, FakeLLM


def test_the_fake_embedder_keeps_the_embedder_contract() -> None:
    embedder: Embedder = FakeEmbedder(dim=64, max_tokens=12)
    assert isinstance(embedder, Embedder) and embedder.name == "fake-hashed-words-64" and embedder.dim == 64
    texts = ["Operation Sentinel seized drugs", "seizures of drugs in Operation Sentinel",
             "The seminar opened in Moscow", "", "the of and"]
    vectors = embedder.encode(texts)
    assert vectors.shape == (5, 64) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)  # unit rows, even without words
    assert vectors[0] @ vectors[1] > 0.9 and abs(vectors[0] @ vectors[2]) < 0.3  # shared word families are near
    np.testing.assert_array_equal(embedder.encode(texts[:1])[0], vectors[0])  # alone or in a batch, the same
    assert embedder.encode([]).shape == (0, 64)
    assert embedder.count_tokens("Operation Sentinel seized drugs.") == 6  # 4 words and 2 special tokens
    long = " ".join(f"word{i}" for i in range(40))
    np.testing.assert_array_equal(embedder.encode([long]), embedder.encode([" ".join(long.split()[:10])]))


def test_the_fake_llm_streams_caps_and_records_like_a_backend() -> None:
    llm: LLM = FakeLLM(["Over 100 seizures of drugs [1].", "second"])
    assert (llm.backend, llm.model) == ("fake", "fake-llm") and llm.check().startswith("fake model")
    prompt: list[Message] = [{"role": "user", "content": "one two three"}]
    stream = llm.stream(prompt)
    deltas = list(stream)
    assert "".join(deltas) == "Over 100 seizures of drugs [1]." and len(deltas) == 6
    assert stream.result is not None and (stream.result.prompt_tokens, stream.result.completion_tokens) == (3, 6)
    assert "".join(llm.stream(prompt, max_tokens=1)) == "second"
    with pytest.raises(AssertionError, match="ran out of scripted replies after 2 calls"):
        llm.stream(prompt)
    assert isinstance(llm, FakeLLM) and [c.max_tokens for c in llm.calls] == [None, 1, None]
    assert "".join(FakeLLM(["a b c d"]).stream(prompt, max_tokens=2)) == "a b "  # a capped completion stops


def test_the_unscripted_fake_llm_answers_each_kind_of_prompt() -> None:
    llm = FakeLLM()
    rewrite = rewrite_messages("And when?", [{"role": "user", "content": "Who?"}], turns=2, max_chars=100,
                               prompts=PROMPTS)
    assert "".join(llm.stream(rewrite)) == "And when?"
    assert "".join(llm.stream(translation_messages("¿Cuándo?", PROMPTS.translate_system))) == "¿Cuándo?"
    assert "".join(llm.stream(build_messages("Why?", [], 700, PROMPTS))) == REFUSAL  # no source shown
    assert "".join(FakeLLM(refuse=True).stream(build_messages("Why?", [], 700, PROMPTS))) == REFUSAL
    assert llm.prefer(rewrite, REFUSAL, "x") is None and FakeLLM(preference=0.3).prefer(rewrite, "a", "b") == 0.3


def test_an_unavailable_fake_llm_fails_where_a_backend_does() -> None:
    llm = FakeLLM(unavailable="Ollama is not reachable")
    stream = llm.stream([{"role": "user", "content": "q"}])  # like the real generators: fails when iterated
    with pytest.raises(LLMUnavailable, match="^Ollama is not reachable$"):
        list(stream)
    for call in (llm.check, lambda: llm.prefer([], "a", "b")):
        with pytest.raises(LLMUnavailable, match="^Ollama is not reachable$"):
            call()
    assert len(llm.calls) == 1 and len(llm.prefer_calls) == 1  # recorded all the same

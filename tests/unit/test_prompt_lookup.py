"""Prompt-lookup decoding (``rag.llm.lookup``): the setting reaches the worker, the counts, and which batches ask
llama.cpp for every position's logits. Fakes stand in for llama-cpp-python."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from rag.llm import llama_worker
from rag.llm.factory import make_embedded
from rag.llm.lookup import DraftCounter, attach, common_prefix, detach
from rag.settings import Settings


def test_the_setting_is_off_by_default_and_reaches_the_worker_config(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    assert Settings().llm.prompt_lookup_tokens == 0
    assert make_embedded(Settings(llm={"gguf_path": gguf}).llm, progress=False).config.prompt_lookup_tokens == 0
    monkeypatch.setenv("RAG_LLM__PROMPT_LOOKUP_TOKENS", "6")
    llm = make_embedded(Settings(llm={"gguf_path": gguf}).llm, progress=False)
    assert llm.config.prompt_lookup_tokens == 6 and llm.config.payload()["prompt_lookup_tokens"] == 6


@pytest.mark.parametrize("value", [-1, 33])
def test_a_guess_length_out_of_range_is_refused(value: int) -> None:
    with pytest.raises(ValidationError, match="prompt_lookup_tokens"):
        Settings(llm={"prompt_lookup_tokens": value})


def test_the_counter_counts_what_was_kept_of_each_resolved_guess() -> None:
    guesses = iter([[7, 8, 9], [], [4, 5]])
    counter = DraftCounter(lambda ids: np.array(next(guesses), dtype=np.intc))
    prompt = [1, 2, 3, 4]
    counter(np.array(prompt + [7], dtype=np.intc))  # the prompt and the first token; the guess: 7 8 9
    assert counter.prompt_tokens == 4 and counter.checking
    counter(np.array(prompt + [7, 7, 8, 6], dtype=np.intc))  # 7 8 kept, 6 chosen instead of 9
    assert not counter.checking  # an empty guess: the next batch is one token
    counter(np.array(prompt + [7, 7, 8, 6, 3], dtype=np.intc))  # nothing guessed, one token
    assert counter.stats() == {"draft_rounds": 2, "draft_proposed": 3, "draft_accepted": 2}
    counter.begin()
    assert counter.stats() == {"draft_rounds": 0, "draft_proposed": 0, "draft_accepted": 0}
    assert counter.prompt_tokens is None


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2 and common_prefix([], [1]) == 0 and common_prefix([5], [5]) == 1


class FakeBatch:
    def __init__(self) -> None:
        self.sets: list[tuple[list[int], int, bool]] = []

    def set_batch(self, batch: list[int], n_past: int, logits_all: bool) -> None:
        self.sets.append((list(batch), n_past, logits_all))


class FakeContext:
    def __init__(self) -> None:
        self.removed: list[int] = []
        self.decoded = 0

    def kv_cache_seq_rm(self, seq: int, p0: int, p1: int) -> bool:
        self.removed.append(p0)
        return True

    def decode(self, batch: FakeBatch) -> None:
        self.decoded += 1


class FakeLlama:
    """What ``Llama.eval`` and ``generate`` touch, plus the chat and choice entry points the worker calls."""

    def __init__(self, n_batch: int = 4, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.n_batch = n_batch
        self.n_tokens = 0
        self.input_ids = np.zeros(64, dtype=np.intc)
        self._batch = FakeBatch()
        self._ctx = FakeContext()
        self._requires_eval = True
        self.draft_model: Any = None
        self.seen_draft: list[Any] = []

    def eval(self, tokens: list[int]) -> None:  # the class's own: plain decoding
        raise AssertionError("the lookup eval replaces this one")

    def create_chat_completion(self, **kwargs: Any) -> Any:
        self.seen_draft.append(self.draft_model)
        if kwargs.get("stream"):
            return self._stream()
        return {"choices": [{"message": {"content": "[1.1]"}}], "usage": {"prompt_tokens": 9, "completion_tokens": 3}}

    def _stream(self) -> Any:
        prompt = [1, 2, 3, 4, 5, 6]
        self.n_tokens = len(prompt) + 4  # the last guess is evaluated but never checked
        self.draft_model(np.array(prompt + [9], dtype=np.intc))
        for text in ("Ten", " services"):
            yield {"choices": [{"delta": {"content": text}}]}


def test_only_a_batch_that_checks_a_guess_asks_for_every_positions_logits() -> None:
    llama = FakeLlama(n_batch=4)
    counter = attach(llama, 10)
    assert counter.draft.num_pred_tokens == 3  # type: ignore[attr-defined] - a guess and its token fit one batch
    llama.eval([1, 2, 3, 4, 5, 6])  # the prompt: two batches, the last position's logits only
    assert llama._batch.sets == [([1, 2, 3, 4], 0, False), ([5, 6], 4, False)] and llama.n_tokens == 6
    counter.checking = True  # the draft was just asked
    llama.eval([9, 7, 8])
    assert llama._batch.sets[-1] == ([9, 7, 8], 6, True) and not counter.checking
    assert list(llama.input_ids[:9]) == [1, 2, 3, 4, 5, 6, 9, 7, 8] and llama._ctx.removed == [0, 6]
    llama.eval([4])
    assert llama._batch.sets[-1] == ([4], 9, False)
    detach(llama)
    assert llama.draft_model is None
    with pytest.raises(AssertionError, match="replaces"):
        llama.eval([1])


@pytest.fixture()
def fake_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """``llama_cpp`` with the fake ``Llama``, the real draft class's interface and a grammar that parses nothing."""
    module = types.ModuleType("llama_cpp")
    module.Llama = FakeLlama  # type: ignore[attr-defined]
    module.LlamaGrammar = types.SimpleNamespace(from_string=lambda text, verbose: text)  # type: ignore[attr-defined]
    speculative = types.ModuleType("llama_cpp.llama_speculative")

    class LookupDecoding:
        def __init__(self, max_ngram_size: int, num_pred_tokens: int) -> None:
            self.num_pred_tokens = num_pred_tokens

        def __call__(self, ids: Any) -> Any:
            return np.array([7, 8], dtype=np.intc)

    speculative.LlamaPromptLookupDecoding = LookupDecoding  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "llama_cpp", module)
    monkeypatch.setitem(sys.modules, "llama_cpp.llama_speculative", speculative)
    monkeypatch.setattr(llama_worker, "set_extra_buffers", lambda enabled: None)
    return module


CONFIG = {"model_path": "m.gguf", "n_ctx": 512, "n_threads": 1, "n_batch": 64, "n_ubatch": 64, "flash_attn": False,
          "seed": 1, "extra_buffers": False}


class FakeConn:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def send(self, message: tuple[str, Any]) -> None:
        self.sent.append(message)

    def poll(self) -> bool:
        return False


@pytest.mark.usefixtures("fake_llama_cpp")
def test_the_worker_loads_without_lookup_unless_asked() -> None:
    plain = llama_worker.load({**CONFIG, "prompt_lookup_tokens": 0})
    assert plain.draft_model is None and llama_worker.lookup_counter(plain) is None
    assert "draft_model" not in plain.kwargs  # never Llama(draft_model=...): it fails past n_batch prompt tokens
    looking = llama_worker.load({**CONFIG, "prompt_lookup_tokens": 8})
    assert isinstance(looking.draft_model, DraftCounter) and looking.draft_model.draft.num_pred_tokens == 8


@pytest.mark.usefixtures("fake_llama_cpp")
def test_a_chat_reports_the_prompt_without_the_unchecked_guess_and_the_counts() -> None:
    llama = llama_worker.load({**CONFIG, "prompt_lookup_tokens": 4})
    conn = FakeConn()
    llama_worker.chat(llama, conn, {"messages": [], "temperature": 0.0, "max_tokens": 8, "seed": 1})  # type: ignore[arg-type]
    kind, usage = conn.sent[-1]
    assert kind == "done" and usage["prompt_tokens"] == 6 and usage["completion_tokens"] == 2
    assert usage["draft_rounds"] == 0  # the only guess was never checked


@pytest.mark.usefixtures("fake_llama_cpp")
def test_a_choice_is_made_without_lookup_and_lookup_is_back_after_it() -> None:
    llama = llama_worker.load({**CONFIG, "prompt_lookup_tokens": 4})
    counter = llama.draft_model
    conn = FakeConn()
    llama_worker.choose(llama, conn, {"messages": [], "options": ["1.1"], "max_choices": 1,  # type: ignore[arg-type]
                                      "max_tokens": 8, "seed": 1})
    assert llama.seen_draft == [None] and llama.draft_model is counter
    assert conn.sent[-1][0] == "done" and conn.sent[-1][1]["text"] == "[1.1]"

"""Batched decoding is correct: several sequences in one llama_batch generate the tokens each would alone.

bench/batched.py measures whether batching pays; these checks make sure it measures a batching that gives the
same greedy answers, on the real packaged GGUF, at tiny sizes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bench.batched_llama import Config, Model, measure
from rag.llm.gguf import assemble_packaged_model

pytestmark = pytest.mark.llm

TINY = Config(prompt_tokens=48, shared=16, generate=6)


@pytest.fixture(scope="module")
def model(model_cache_dir: Path) -> Iterator[Model]:
    loaded = Model(assemble_packaged_model(model_cache_dir, progress=False))
    yield loaded
    loaded.close()


def test_two_sequences_decoded_together_give_the_tokens_each_gives_alone(model: Model) -> None:
    """One KV stream per sequence (the default): each sequence's attention has the shapes of a serial run, so
    the logits, and the greedy tokens, are the same to the bit."""
    row = measure(model, 2, TINY)
    serial, batched = row["serial_tokens"], row["batched_tokens"]
    assert [len(tokens) for tokens in serial] == [TINY.generate + 1] * 2
    assert serial[0] != serial[1]  # distinct prompts: a mix-up of the sequences would show
    assert batched == serial, (serial, batched)
    assert all(row[rate] > 0 for rate in ("prefill_serial", "prefill_batched", "decode_serial", "decode_batched"))


def test_a_unified_kv_cache_keeps_the_sequences_apart(model: Model) -> None:
    """One KV buffer for both: attention over both sequences at once takes other kernels (its shapes differ),
    so logits differ in the third decimal and a near tie can flip a later greedy token. A mix-up of the
    sequences would change the first tokens; those are compared."""
    row = measure(model, 2, replace(TINY, kv_unified=True))
    assert [tokens[:2] for tokens in row["batched_tokens"]] == [tokens[:2] for tokens in row["serial_tokens"]]


def test_prompts_share_exactly_the_configured_start(model: Model) -> None:
    prompts = model.prompts(3, TINY)
    assert [len(p) for p in prompts] == [TINY.prompt_tokens] * 3
    assert prompts[0][:TINY.shared] == prompts[1][:TINY.shared] == prompts[2][:TINY.shared]
    assert len({tuple(p[TINY.shared:]) for p in prompts}) == 3

"""Prompt-lookup decoding in the real worker (``llm.prompt_lookup_tokens``): the same greedy text as without it,
with guesses kept, on a prompt longer than the batch (where ``Llama(draft_model=...)`` fails)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.llm.factory import make_embedded
from rag.llm.llama_cpp_llm import stop_workers
from rag.settings import Settings

pytestmark = pytest.mark.llm

SENTENCE = ("The Operation involved the 10 Customs services in the CIS region and resulted in over 100 seizures of "
            "drugs; more than 160 kg ranging from heroin to opium, and from cannabis to marijuana.")
# A copying task: every next token is far ahead of the runner-up, so batched and one-at-a-time arithmetic agree.
MESSAGES = [{"role": "system", "content": "You copy text exactly. Reply with the copied sentence only."},
            {"role": "user", "content": f"Report: {SENTENCE}\n\nCopy the report's sentence exactly."}]


def _answer(model_cache_dir: Path, lookup: int) -> tuple[str, dict[str, object]]:
    """The text and usage of one greedy answer from a worker with a 32-token batch (the prompt takes several)."""
    settings = Settings(llm={"backend": "embedded", "model_cache_dir": model_cache_dir, "n_ctx": 512,
                             "n_batch": 32, "n_ubatch": 32, "prompt_lookup_tokens": lookup})
    llm = make_embedded(settings.llm, progress=False)
    try:
        chat = llm.worker.chat({"messages": MESSAGES, "max_tokens": 64, "temperature": 0.0, "seed": 1})
        text = ""
        while True:
            try:
                text += next(chat)
            except StopIteration as done:
                return text, done.value
    finally:
        stop_workers()


def test_lookup_keeps_guesses_and_writes_the_same_greedy_text(model_cache_dir: Path) -> None:
    plain, plain_usage = _answer(model_cache_dir, 0)
    looked, usage = _answer(model_cache_dir, 8)
    assert "draft_proposed" not in plain_usage
    assert looked == plain and "160 kg" in looked, (plain, looked)
    assert isinstance(usage["prompt_tokens"], int) and usage["prompt_tokens"] > 32  # several batches
    assert usage["prompt_tokens"] == plain_usage["prompt_tokens"]
    assert 0 < usage["draft_accepted"] <= usage["draft_proposed"], usage  # type: ignore[operator]

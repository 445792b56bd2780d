"""Prompt-lookup decoding for the embedded model: guess the next tokens from the prompt, check them in one batch.

An answer copies names and figures from its sources, so the tokens after the last one or two
generated often already stand in the prompt. llama-cpp-python's ``generate`` evaluates the
sampled token together with such a guess, samples every position of that batch and keeps the
guess up to the first token the model would not have chosen: with greedy sampling the text is
the one the model writes without guesses.

Its own switch, ``Llama(draft_model=...)``, fails in llama-cpp-python 0.3.x: a draft model forces
``_logits_all`` on (llama.py, ``self._logits_all = logits_all if draft_model is None else True``)
while the logits array keeps the ``n_batch`` rows sized from the ``logits_all`` argument, so the
first prompt that reaches row ``n_batch`` fails in ``Llama.eval`` ("could not broadcast input array
from shape (77791232,) into shape (60318592,)": 512 rows into the 397 left). ``logits_all=True``
avoids the crash but keeps every prompt token's logits: ``n_ctx`` x 152k floats (2.5 GB at 4096)
and the output layer run for every prompt token, on the path the first token waits for.

``attach`` gives the guess to an existing ``Llama`` instead and replaces its ``eval`` so that only
a batch checking a guess asks llama.cpp for every position's logits. Sampling reads them from
the llama.cpp context (``LlamaSampler.sample(ctx, idx)``), never from the Python array, which
stays untouched. Example::

    llama = Llama(model_path="model.gguf", n_ctx=4096)
    counter = attach(llama, 10)
    llama.create_chat_completion(messages=[...], temperature=0.0)
    print(counter.proposed, counter.accepted)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

# The longest run of last tokens looked up in the prompt (llama-cpp-python's default); without a match it tries
# shorter runs down to the last token alone. The first place the prompt holds the run supplies the guess.
LOOKUP_NGRAM = 2

Draft = Callable[[npt.NDArray[np.intc]], npt.NDArray[np.intc]]


class DraftCounter:
    """Wraps a draft model: counts its guesses and what the model kept of them, and marks the batch that checks one.

    ``generate`` calls the draft with the text kept so far (prompt + generated) right before it
    evaluates the last sampled token and the guess, so the next call shows how much of the previous
    guess was kept. The last guess of an answer is never resolved and not counted.
    """

    def __init__(self, draft: Draft) -> None:
        self.draft = draft
        self.checking = False  # the next eval is a sampled token followed by a guess
        self.begin()

    def begin(self) -> None:
        """Start the counts of one completion."""
        self.rounds = 0  # resolved guesses, including empty ones (no match in the prompt)
        self.proposed = 0  # tokens in resolved guesses
        self.accepted = 0  # of those, kept
        self.prompt_tokens: int | None = None  # known from the first call: the prompt and the first token
        self._last: tuple[int, list[int]] | None = None  # kept length at the last call, and its guess

    def __call__(self, input_ids: npt.NDArray[np.intc], /, **kwargs: Any) -> npt.NDArray[np.intc]:
        kept = int(input_ids.shape[0])
        if self._last is None:
            self.prompt_tokens = kept - 1
        else:
            length, guess = self._last
            self.rounds += 1
            self.proposed += len(guess)
            self.accepted += common_prefix(input_ids[length:].tolist(), guess)
        guess_ids = self.draft(input_ids)
        self._last = (kept, [int(token) for token in guess_ids])
        self.checking = len(guess_ids) > 0
        return guess_ids

    def stats(self) -> dict[str, int]:
        return {"draft_rounds": self.rounds, "draft_proposed": self.proposed, "draft_accepted": self.accepted}


def common_prefix(first: Sequence[int], second: Sequence[int]) -> int:
    count = 0
    for a, b in zip(first, second):
        if a != b:
            break
        count += 1
    return count


def attach(llama: Any, num_pred_tokens: int, max_ngram_size: int = LOOKUP_NGRAM) -> DraftCounter:
    """Turn prompt-lookup decoding on for ``llama`` (a ``Llama`` built without ``draft_model``); the counter is
    ``llama.draft_model``. A guess is at most ``n_batch - 1`` tokens, so its check is one decode call."""
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    size = max(1, min(num_pred_tokens, llama.n_batch - 1))
    counter = DraftCounter(LlamaPromptLookupDecoding(max_ngram_size=max_ngram_size, num_pred_tokens=size))
    llama.draft_model = counter
    llama.eval = _checking_eval(llama, counter)
    return counter


def detach(llama: Any) -> None:
    """Back to plain decoding (the class's own ``eval``)."""
    llama.draft_model = None
    llama.__dict__.pop("eval", None)


def _checking_eval(llama: Any, counter: DraftCounter) -> Callable[[Sequence[int]], None]:
    """``Llama.eval`` of llama-cpp-python 0.3 without the Python logits copy, every position's logits only when
    ``counter`` says the batch checks a guess (else llama.cpp computes the last position's only, as without a
    draft)."""

    def eval_tokens(tokens: Sequence[int]) -> None:
        every = counter.checking
        counter.checking = False
        llama._ctx.kv_cache_seq_rm(-1, llama.n_tokens, -1)
        for start in range(0, len(tokens), llama.n_batch):
            batch = tokens[start:start + llama.n_batch]
            n_past = llama.n_tokens
            llama._batch.set_batch(batch=batch, n_past=n_past, logits_all=every)
            llama._ctx.decode(llama._batch)
            llama.input_ids[n_past:n_past + len(batch)] = batch
            llama.n_tokens += len(batch)
            llama._requires_eval = False

    return eval_tokens

"""The llama.cpp side of bench/batched.py: the packaged GGUF through the C API, N sequences in one context.

Usage (what bench/batched.py does for each N)::

    model = Model(assemble_packaged_model(Settings().llm.model_cache_dir))
    row = measure(model, 2, Config(prompt_tokens=600, generate=64), repeat=3)
    row["decode_batched"] / row["decode_serial"], row["batched_tokens"] == row["serial_tokens"]
    model.close()

Low-level, not ``Llama``: only the C API puts several sequences into one ``llama_batch``.
"""

from __future__ import annotations

import ctypes
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# ggml.h's log levels run NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (llama_cpp/_logger.py has an older order).
GGML_LOG_LEVEL_ERROR = 4
# Report-like words for the prompts: distinct text per question, about two tokens per word.
WORDS = ["customs", "seizure", "operation", "report", "border", "cooperation", "officials", "cargo", "container",
         "drugs", "heroin", "seminar", "delegation", "agreement", "training", "exhibition", "Moscow", "enforcement",
         "risk", "analysis", "tonnes", "inspection", "smuggling", "declaration"]
WARM_UP_TOKENS = 16  # a short prompt and one single-token step before timing: weights paged in, both graphs made

Entry = tuple[int, int, int, bool]  # token, position, sequence, whether its logits are wanted


@dataclass(frozen=True)
class Config:
    """One measurement's sizes and runtime knobs."""

    prompt_tokens: int = 600
    shared: int = 90
    generate: int = 64
    threads: int = 2
    n_batch: int = 512
    n_ubatch: int = 512
    flash_attn: bool = False
    kv_unified: bool = False


def _text(salt: int, words: int) -> str:
    return " ".join(f"{WORDS[(i * 7 + salt) % len(WORDS)]}{(i * 13 + salt) % 97}" for i in range(words))


class Model:
    """The GGUF loaded with llama.cpp's C API, weights in plain CPU buffers (extra buffer types off, as the product)."""

    def __init__(self, path: Path) -> None:
        import llama_cpp.llama_cpp as lib

        self.lib = lib
        self.log: deque[str] = deque(maxlen=20)  # llama.cpp's last lines, for an error message

        @lib.llama_log_callback
        def callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
            line = text.decode("utf-8", "replace").strip()
            self.log.extend([line] if line else [])
            if line and level == GGML_LOG_LEVEL_ERROR:
                print(line, file=sys.stderr)

        self._callback = callback  # referenced for as long as llama.cpp may call it
        lib.llama_log_set(callback, ctypes.c_void_p(0))
        lib.llama_backend_init()
        params = lib.llama_model_default_params()
        if "use_extra_bufts" in {field[0] for field in lib.llama_model_params._fields_}:
            params.use_extra_bufts = False  # what rag.llm.llama_worker.set_extra_buffers does for Llama()
        self.model = lib.llama_model_load_from_file(str(path).encode(), params)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {path}: " + " | ".join(self.log))
        self.vocab = lib.llama_model_get_vocab(self.model)
        self.n_vocab = lib.llama_vocab_n_tokens(self.vocab)

    def tokenize(self, text: str) -> list[int]:
        data = text.encode()
        buffer = (self.lib.llama_token * (len(data) + 8))()
        count = self.lib.llama_tokenize(self.vocab, data, len(data), buffer, len(buffer), False, False)
        return list(buffer[:count])

    def prompts(self, n: int, config: Config) -> list[list[int]]:
        """N prompts of ``prompt_tokens`` tokens; the first ``shared`` are the same in all of them."""
        prefix = self.tokenize(_text(0, config.shared))[:config.shared]
        rest = config.prompt_tokens - len(prefix)
        return [prefix + self.tokenize(_text(1 + i, rest))[:rest] for i in range(n)]

    def close(self) -> None:
        self.lib.llama_model_free(self.model)


class Context:
    """A context for ``n`` sequences, a batch to fill and greedy picks from the logits."""

    def __init__(self, model: Model, n: int, config: Config) -> None:
        lib = self.lib = model.lib
        self.model, self.n_batch = model, config.n_batch
        needed = config.prompt_tokens + config.generate + 1
        params = lib.llama_context_default_params()
        params.n_ctx = n * -(-needed // 256) * 256  # split evenly between the sequences' KV streams
        params.n_batch, params.n_ubatch, params.n_seq_max = config.n_batch, config.n_ubatch, n
        params.n_threads = params.n_threads_batch = config.threads
        params.flash_attn_type = (lib.LLAMA_FLASH_ATTN_TYPE_ENABLED if config.flash_attn
                                  else lib.LLAMA_FLASH_ATTN_TYPE_DISABLED)
        params.kv_unified = config.kv_unified
        self.ctx = lib.llama_init_from_model(model.model, params)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not make the context: " + " | ".join(model.log))
        if lib.llama_n_ctx_seq(self.ctx) < needed:
            raise RuntimeError(f"context per sequence is {lib.llama_n_ctx_seq(self.ctx)} tokens, {needed} needed")
        self.memory = lib.llama_get_memory(self.ctx)
        self.batch = lib.llama_batch_init(config.n_batch, 0, 1)

    def decode(self, entries: list[Entry]) -> dict[int, int]:
        """Decode the entries in ``n_batch`` chunks; the greedy next token of each sequence whose logits were asked."""
        lib, batch, picks = self.lib, self.batch, {}
        for start in range(0, len(entries), self.n_batch):
            chunk = entries[start:start + self.n_batch]
            for k, (token, pos, seq, wanted) in enumerate(chunk):
                batch.token[k], batch.pos[k], batch.n_seq_id[k] = token, pos, 1
                batch.seq_id[k][0], batch.logits[k] = seq, wanted
            batch.n_tokens = len(chunk)
            code = lib.llama_decode(self.ctx, batch)
            if code != 0:
                raise RuntimeError(f"llama_decode returned {code}: " + " | ".join(self.model.log))
            for k, (_, _, seq, wanted) in enumerate(chunk):
                if wanted:
                    logits = lib.llama_get_logits_ith(self.ctx, k)
                    picks[seq] = int(np.ctypeslib.as_array(logits, shape=(self.model.n_vocab,)).argmax())
        return picks

    def timed(self, entries: list[Entry]) -> tuple[dict[int, int], float]:
        started = time.perf_counter()
        picks = self.decode(entries)
        self.lib.llama_synchronize(self.ctx)
        return picks, time.perf_counter() - started

    def close(self) -> None:
        self.lib.llama_batch_free(self.batch)
        self.lib.llama_free(self.ctx)


Run = tuple[float, float, list[list[int]]]  # prefill seconds, decode seconds, each sequence's greedy tokens


def _prefill(prompts: list[list[int]], seqs: list[int], shared: int) -> list[Entry]:
    """The new (not shared) tokens of these sequences' prompts, logits for each one's last."""
    return [(prompts[s][pos], pos, s, pos == len(prompts[s]) - 1) for s in seqs for pos in range(shared, len(prompts[s]))]


def _serial(ctx: Context, prompts: list[list[int]], config: Config) -> Run:
    """Each sequence alone: its prompt, then its tokens one by one; its new tokens removed before the next."""
    prefill = decode = 0.0
    tokens = []
    for seq, prompt in enumerate(prompts):
        picks, seconds = ctx.timed(_prefill(prompts, [seq], config.shared))
        prefill += seconds
        generated = [picks[seq]]
        for step in range(config.generate):
            picks, seconds = ctx.timed([(generated[-1], len(prompt) + step, seq, True)])
            decode += seconds
            generated.append(picks[seq])
        tokens.append(generated)
        ctx.lib.llama_memory_seq_rm(ctx.memory, seq, config.shared, -1)
    return prefill, decode, tokens


def _batched(ctx: Context, prompts: list[list[int]], config: Config) -> Run:
    """All sequences together: their prompts in one batch, then one token of each per ``llama_decode``."""
    seqs = list(range(len(prompts)))
    picks, prefill = ctx.timed(_prefill(prompts, seqs, config.shared))
    tokens = [[picks[seq]] for seq in seqs]
    decode = 0.0
    for step in range(config.generate):
        picks, seconds = ctx.timed([(tokens[s][-1], len(prompts[s]) + step, s, True) for s in seqs])
        decode += seconds
        for seq in seqs:
            tokens[seq].append(picks[seq])
    for seq in seqs:
        ctx.lib.llama_memory_seq_rm(ctx.memory, seq, config.shared, -1)
    return prefill, decode, tokens


def measure(model: Model, n: int, config: Config, repeat: int = 1) -> dict[str, Any]:
    """Aggregate prefill and decode tokens/s for ``n`` sequences, serial and batched (medians of ``repeat`` rounds,
    which of the two goes first alternating), and the greedy tokens each way gave in the first round."""
    prompts = model.prompts(n, config)
    ctx = Context(model, n, config)
    lib = model.lib
    rates: dict[str, list[float]] = {}
    tokens: dict[str, list[list[int]]] = {}
    new, steps = n * (config.prompt_tokens - config.shared), n * config.generate
    try:
        warm = [(t, pos, 0, False) for pos, t in enumerate(prompts[0][:WARM_UP_TOKENS])]
        ctx.decode(warm[:-1])
        ctx.decode([(warm[-1][0], len(warm) - 1, 0, True)])
        lib.llama_memory_clear(ctx.memory, True)
        if config.shared:  # the system prompt: decoded once, as the product's warm KV cache holds it
            ctx.decode([(t, pos, 0, False) for pos, t in enumerate(prompts[0][:config.shared])])
            for seq in range(1, n):  # a whole-sequence copy: the only kind a per-sequence KV stream allows
                lib.llama_memory_seq_cp(ctx.memory, 0, seq, -1, -1)
        for round_ in range(repeat):
            modes = [("serial", _serial), ("batched", _batched)]
            for mode, run in modes if round_ % 2 == 0 else modes[::-1]:
                prefill, decode, generated = run(ctx, prompts, config)
                rates.setdefault(f"prefill_{mode}", []).append(new / prefill)
                rates.setdefault(f"decode_{mode}", []).append(steps / max(decode, 1e-9))
                tokens.setdefault(f"{mode}_tokens", generated)
    finally:
        ctx.close()
    return {"n": n, **{name: statistics.median(values) for name, values in rates.items()}, **tokens}

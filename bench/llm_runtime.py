"""Prefill and decode speed of the embedded model, per runtime setting, next to the hardware limits.

Usage::

    .venv/bin/python bench/llm_runtime.py                       # the default settings
    .venv/bin/python bench/llm_runtime.py --extra-buffers both  # repack/AMX buffers off and on
    .venv/bin/python bench/llm_runtime.py --n-ubatch 128 512 --flash-attn both

Each configuration runs in a fresh worker process (the same one the product uses). A prompt
of ``--prompt-tokens`` distinct tokens is evaluated with a 1-token answer (prefill), then a
64-token answer is generated from a cached prompt (decode). Medians of ``--repeat`` runs.

The limits (written for this 1.5B Q4_K_M model on 2 cores):
- prefill is compute-bound: about 3 GOP per token; 2 cores of int8 VNNI give about 1.5 TOPS,
  so about 500 tokens/s;
- decode is bandwidth-bound: each token reads about 1 GB of weights; at about 14 GB/s that is
  about 14 tokens/s.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.llm.factory import make_embedded
from rag.llm.llama_cpp_llm import stop_workers
from rag.settings import LLMSettings, Settings

PREFILL_LIMIT = 500.0  # tokens/s, see the module docstring
DECODE_LIMIT = 14.0


def _prompt(tokens: int, salt: int) -> list[dict[str, str]]:
    """About ``tokens`` tokens of varied report-like text; ``salt`` makes each prompt new to the KV cache."""
    words = ["customs", "seizure", "operation", "report", "border", "cooperation", "officials", "cargo", "container", "drugs", "heroin", "seminar", "delegation", "agreement", "training", "exhibition", "Moscow", "enforcement", "risk", "analysis"]
    body = " ".join(f"{words[(i * 7 + salt) % len(words)]}{(i * 13 + salt) % 97}" for i in range(tokens // 2))
    return [{"role": "user", "content": f"{salt}: {body}\nReply with one word."}]


def run(settings: LLMSettings, prompt_tokens: int, repeat: int) -> dict[str, float]:
    llm = make_embedded(settings, progress=False)
    mark = time.perf_counter()
    info = llm.warm_up()
    ready = time.perf_counter() - mark
    prefill, decode = [], []
    for attempt in range(repeat):
        messages = _prompt(prompt_tokens, 1000 + attempt)
        mark = time.perf_counter()
        stream = llm.stream(messages, max_tokens=1)
        "".join(stream)
        elapsed = time.perf_counter() - mark
        assert stream.result is not None and stream.result.prompt_tokens
        prefill.append(stream.result.prompt_tokens / elapsed)
        # Decode: the same prompt again is cached, so the time is (almost) all generation.
        follow = [*messages, {"role": "assistant", "content": "OK"},
                  {"role": "user", "content": "Now count from one to forty in words, separated by commas."}]
        "".join(llm.stream(follow, max_tokens=8))  # caches the prompt
        mark = time.perf_counter()
        first = None
        stream = llm.stream(follow, max_tokens=64)
        for _ in stream:
            first = first or time.perf_counter()
        end = time.perf_counter()
        assert stream.result is not None and first is not None
        decode.append((stream.result.completion_tokens - 1) / max(end - first, 1e-9))
    stop_workers()
    return {"ready_s": ready, "prefill_tok_s": statistics.median(prefill), "decode_tok_s": statistics.median(decode),
            "buffers": ", ".join(f"{k} {v:.0f}MiB" for k, v in info["buffers"].items())}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra-buffers", choices=["off", "on", "both"], default="off")
    parser.add_argument("--flash-attn", choices=["off", "on", "both"], default="off")
    parser.add_argument("--n-ubatch", type=int, nargs="+", default=[Settings().llm.n_ubatch])
    parser.add_argument("--n-threads", type=int, nargs="+", default=[os.cpu_count() or 1])
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    both = {"off": [False], "on": [True], "both": [False, True]}
    print(f"llm runtime: {os.cpu_count()} cores, {options.prompt_tokens}-token prompt, median of {options.repeat}; "
          f"limits: prefill ~{PREFILL_LIMIT:.0f} tok/s (compute), decode ~{DECODE_LIMIT:.0f} tok/s (bandwidth)")
    print(f"{'extra bufs':>10} {'flash':>5} {'ubatch':>6} {'thr':>3} {'ready s':>7} {'prefill/s':>9} "
          f"{'of limit':>8} {'decode/s':>8} {'of limit':>8}  weights")
    for extra, flash, ubatch, threads in itertools.product(both[options.extra_buffers], both[options.flash_attn],
                                                           options.n_ubatch, options.n_threads):
        settings = Settings(llm={"backend": "embedded", "extra_buffers": extra, "flash_attn": flash, "n_ubatch": ubatch,
                                 "n_batch": max(ubatch, Settings().llm.n_batch), "n_threads": threads}).llm
        r = run(settings, options.prompt_tokens, options.repeat)
        print(f"{'on' if extra else 'off':>10} {'on' if flash else 'off':>5} {ubatch:>6} {threads:>3} "
              f"{r['ready_s']:7.1f} {r['prefill_tok_s']:9.1f} {r['prefill_tok_s'] / PREFILL_LIMIT:8.2f} "
              f"{r['decode_tok_s']:8.1f} {r['decode_tok_s'] / DECODE_LIMIT:8.2f}  {r['buffers']}", flush=True)


if __name__ == "__main__":
    main()

"""Whether batched decoding (several questions in one ``llama_batch``) raises answers per minute on this CPU.

Usage::

    .venv/bin/python bench/batched.py                                   # N = 1 2 4, 600-token prompts, 64 tokens
    .venv/bin/python bench/batched.py --parallel 1 2 --prompt-tokens 64 --generate 8   # a quick check
    .venv/bin/python bench/batched.py --flash-attn on --kv-unified on --repeat 3

The packaged GGUF is loaded once through llama.cpp's low-level API (extra buffer types off, as in the
product). For each N a context with N sequences is made; the shared start of the prompts (the system prompt,
``--shared`` tokens) is decoded once into sequence 0 and copied to the others (``llama_memory_seq_cp``), as the
product's warm KV cache holds it. Then, for N distinct prompts of ``--prompt-tokens`` tokens:

- serial: each prompt's new tokens are decoded alone, then ``--generate`` tokens greedily, one at a time;
- batched: all N prompts' new tokens in one batch (cut into ``n_batch`` chunks), then the N sequences generate
  together, one token per sequence per ``llama_decode``.

Rates are aggregate tokens/s over all sequences (medians of ``--repeat`` rounds; serial and batched take turns
going first). Answers/minute follow from them for the extract workload (the prompt's new tokens and 5 generated)
and a write workload (80 generated). ``same tokens`` says whether batched greedy decoding chose the serial tokens:
with one KV stream per sequence (the default) it must; with ``--kv-unified on`` attention runs over all sequences
at once with other kernels, logits differ slightly and a near tie can flip a later token.
Writes bench/results/batched-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.batched_llama import WARM_UP_TOKENS, Config, Model, measure
from rag.llm.gguf import assemble_packaged_model
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# Generated tokens per answer: the extract mode writes a few JSON ids, the write presets a short answer.
EXTRACT_TOKENS = 5
WRITE_TOKENS = 80


def answers_per_minute(prefill_tokens: int, decode_tokens: int, prefill_rate: float, decode_rate: float) -> float:
    """Answers a minute when each costs these tokens at these aggregate rates (tokens/s over all sequences)."""
    return 60.0 / (prefill_tokens / prefill_rate + decode_tokens / decode_rate)


def workloads(rates: dict[str, float], new_tokens: int) -> dict[str, float]:
    """Answers/minute serial and batched, and their ratio, for the extract and write workloads."""
    result: dict[str, float] = {}
    for name, generated in (("extract", EXTRACT_TOKENS), ("write", WRITE_TOKENS)):
        for mode in ("serial", "batched"):
            result[f"{name}_{mode}"] = answers_per_minute(new_tokens, generated, rates[f"prefill_{mode}"],
                                                          rates[f"decode_{mode}"])
        result[f"{name}_ratio"] = result[f"{name}_batched"] / result[f"{name}_serial"]
    return result


def _same(serial: list[list[int]], batched: list[list[int]]) -> str:
    """"yes", or the first generated token (counted from 0) where a sequence's batched tokens differ."""
    differ = [next(i for i, (a, b) in enumerate(zip(s, t)) if a != b) for s, t in zip(serial, batched) if s != t]
    return f"from token {min(differ)}" if differ else "yes"


def report(rows: list[dict[str, Any]], config: Config, repeat: int) -> None:
    """The rates table and the answers/minute table."""
    new = config.prompt_tokens - config.shared
    print(f"batched decoding: {config.threads} threads, prompt {config.prompt_tokens} tokens ({config.shared} shared, "
          f"cached), {config.generate} generated, n_batch {config.n_batch}, n_ubatch {config.n_ubatch}, "
          f"flash_attn {'on' if config.flash_attn else 'off'}, kv_unified {'on' if config.kv_unified else 'off'}, "
          f"median of {repeat}")
    print(f"{'N':>3} {'prefill serial/s':>16} {'batched/s':>9} {'ratio':>5}   {'decode serial/s':>15} "
          f"{'batched/s':>9} {'ratio':>5}  same tokens")
    for r in rows:
        same = _same(r["serial_tokens"], r["batched_tokens"])
        print(f"{r['n']:>3} {r['prefill_serial']:16.1f} {r['prefill_batched']:9.1f} "
              f"{r['prefill_batched'] / r['prefill_serial']:5.2f}   {r['decode_serial']:15.1f} "
              f"{r['decode_batched']:9.1f} {r['decode_batched'] / r['decode_serial']:5.2f}  {same}")
    print(f"answers/minute, {new} new prompt tokens each; extract {EXTRACT_TOKENS}, write {WRITE_TOKENS} generated:")
    print(f"{'N':>3} {'extract serial':>14} {'batched':>8} {'ratio':>5}   {'write serial':>12} {'batched':>8} {'ratio':>5}")
    for r in rows:
        w = r["answers_per_minute"]
        print(f"{r['n']:>3} {w['extract_serial']:14.1f} {w['extract_batched']:8.1f} {w['extract_ratio']:5.2f}   "
              f"{w['write_serial']:12.1f} {w['write_batched']:8.1f} {w['write_ratio']:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults, llm = Config(), Settings().llm
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 2, 4], help="sequences decoded together")
    parser.add_argument("--prompt-tokens", type=int, default=defaults.prompt_tokens)
    parser.add_argument("--shared", type=int, default=defaults.shared, help="prompt tokens all questions share")
    parser.add_argument("--generate", type=int, default=defaults.generate, help="tokens generated per sequence")
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--n-batch", type=int, default=llm.n_batch)
    parser.add_argument("--n-ubatch", type=int, default=llm.n_ubatch)
    parser.add_argument("--flash-attn", choices=["off", "on"], default="on" if llm.flash_attn else "off")
    parser.add_argument("--kv-unified", choices=["off", "on"], default="off",
                        help="one KV buffer for all sequences (on) or one stream per sequence (off)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per N; the medians are reported")
    options = parser.parse_args()
    if not 0 <= options.shared < options.prompt_tokens or options.prompt_tokens < WARM_UP_TOKENS:
        parser.error(f"--prompt-tokens must be at least {WARM_UP_TOKENS} and more than --shared (0 or more)")
    config = Config(prompt_tokens=options.prompt_tokens, shared=options.shared, generate=options.generate,
                    threads=options.threads, n_batch=options.n_batch, n_ubatch=options.n_ubatch,
                    flash_attn=options.flash_attn == "on", kv_unified=options.kv_unified == "on")
    model = Model(llm.gguf_path or assemble_packaged_model(llm.model_cache_dir.expanduser(), progress=False))
    rows = []
    try:
        for n in options.parallel:
            row = measure(model, n, config, options.repeat)
            row["answers_per_minute"] = workloads(row, config.prompt_tokens - config.shared)
            rows.append(row)
    finally:
        model.close()
    report(rows, config, options.repeat)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / time.strftime("batched-%Y%m%dT%H%M%S.json")
    path.write_text(json.dumps({"config": asdict(config), "repeat": options.repeat, "cores": os.cpu_count(),
                                "rows": rows}, indent=2))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

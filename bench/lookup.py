"""Prompt-lookup decoding on write-first answers: guesses kept, decode speed with and without, the same text or not.

Usage::

    .venv/bin/python bench/lookup.py                          # 4 questions, lookup off vs 10 guessed tokens
    .venv/bin/python bench/lookup.py --questions 8 --tokens 4 10 16
    .venv/bin/python bench/lookup.py --questions 2 --max-tokens 64 --threads 2   # a quick check

The first N answerable questions of the customs eval set are retrieved over the bundled reports
(an index built under ``--index-dir``, by default a folder in /tmp) and put into the write-first
prompt (``RAG_PRESET=write-first``: the model writes the answer with [n] markers). One in-process
model (the worker's own ``load``) then answers each prompt greedily, once without lookup and once
per ``--tokens`` value (``llm.prompt_lookup_tokens``). The KV cache is cleared before every answer,
so every variant reads the prompt in the same batches and differs only in how it generates.

Per answer: tokens generated (the text tokenized again), guesses checked, tokens proposed and
kept (``rag.llm.lookup.DraftCounter``; the last guess of an answer is never checked and not
counted), the kept rate, seconds to the first token, decode tokens/s after it, and whether the
text is the plain one (else where it first differs). A batched check rounds differently from
one token at a time, so a near-tie between two tokens can go the other way; the model still
picks its own top token at every position.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval.evalset import load_eval_set
from rag.llm import llama_worker
from rag.llm.factory import make_embedded
from rag.llm.lookup import LOOKUP_NGRAM, DraftCounter, attach, detach
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.types import Message

DEFAULT_INDEX = Path(tempfile.gettempdir()) / "rag-bench-lookup-index"


@dataclass
class Run:
    """One answer of one variant."""

    text: str
    tokens: int
    first_token: float
    decode: float  # seconds from the first token to the last
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def decode_rate(self) -> float:
        return (self.tokens - 1) / self.decode if self.tokens > 1 and self.decode > 0 else 0.0


def prompts(count: int, index_dir: Path) -> list[tuple[str, list[Message]]]:
    """The write-first messages of the first ``count`` answerable questions (retrieval only: no model yet)."""
    pipeline = Pipeline(Settings(preset="write-first", index={"index_dir": index_dir}))
    if not index_dir.is_dir() or not any(index_dir.iterdir()):
        pipeline.reindex()  # the bundled reports, once
    chosen = [q for q in load_eval_set() if q.answerable][:count]
    found = []
    for question in chosen:
        prompt = pipeline.prompt_builder.run(question.question, pipeline.retrieve(question.question))
        if prompt.messages:
            found.append((question.id, prompt.messages))
    return found


def answer(llama: Any, messages: list[Message], max_tokens: int, counter: DraftCounter | None) -> Run:
    llama.reset()  # the prompt is read from scratch, in the same batches, by every variant
    if counter is not None:
        counter.begin()
    started = time.perf_counter()
    first = last = started
    parts: list[str] = []
    for chunk in llama.create_chat_completion(messages=messages, stream=True, temperature=0.0, max_tokens=max_tokens):
        delta = chunk["choices"][0]["delta"].get("content")
        if delta:
            last = time.perf_counter()
            if not parts:
                first = last
            parts.append(delta)
    text = "".join(parts)
    tokens = len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0
    return Run(text, tokens, first - started, last - first, counter.stats() if counter else {})


def divergence(plain: str, other: str) -> str:
    """'same', or where ``other`` first leaves ``plain``, with a few characters of each."""
    if plain == other:
        return "same"
    at = next((i for i, (a, b) in enumerate(zip(plain, other)) if a != b), min(len(plain), len(other)))
    return f"differs at char {at}: {plain[at:at + 24]!r} vs {other[at:at + 24]!r}"


def row(name: str, run: Run, plain: Run) -> str:
    proposed, kept = run.stats.get("draft_proposed", 0), run.stats.get("draft_accepted", 0)
    rate = f"{kept / proposed:.0%}" if proposed else "-"
    speed = f"{run.decode_rate / plain.decode_rate:.2f}x" if plain.decode_rate else "-"
    return (f"  {name:>8} | {run.tokens:>6} | {run.stats.get('draft_rounds', '-'):>6} | {proposed:>8} | {kept:>5} | "
            f"{rate:>5} | {run.first_token:>7.2f} | {run.decode_rate:>8.1f} | {speed:>6} | "
            f"{divergence(plain.text, run.text)}")


HEADER = ("  variant  | tokens | checks | proposed | kept  | rate  | first s | decode/s | speed  | text\n"
          "  " + "-" * 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=4, help="first N answerable questions of the customs set")
    parser.add_argument("--tokens", type=int, nargs="+", default=[10], help="guess lengths to try (0 is plain)")
    parser.add_argument("--ngram", type=int, default=LOOKUP_NGRAM, help="longest n-gram looked up in the prompt")
    parser.add_argument("--max-tokens", type=int, default=Settings().llm.max_answer_tokens)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: the llm setting)")
    parser.add_argument("--index-dir", type=Path, default=DEFAULT_INDEX, help="built on first use")
    args = parser.parse_args()

    asked = prompts(args.questions, args.index_dir)
    llm_settings = Settings(llm={"backend": "embedded", "n_threads": args.threads}).llm
    config = make_embedded(llm_settings, progress=True).config.payload()
    llama = llama_worker.load({**config, "prompt_lookup_tokens": 0})
    print(f"{len(asked)} write-first prompts, n_ctx {config['n_ctx']}, n_batch {config['n_batch']}, "
          f"{config['n_threads']} threads, max {args.max_tokens} answer tokens, n-grams up to {args.ngram}")
    variants = [n for n in args.tokens if n > 0]
    totals: dict[str, list[Run]] = {"plain": [], **{f"look {n}": [] for n in variants}}
    for question_id, messages in asked:
        detach(llama)
        plain = answer(llama, messages, args.max_tokens, None)
        totals["plain"].append(plain)
        print(f"\n{question_id}: {plain.text[:90]!r}\n{HEADER}\n{row('plain', plain, plain)}", flush=True)
        for tokens in variants:
            counter = attach(llama, tokens, args.ngram)
            run = answer(llama, messages, args.max_tokens, counter)
            totals[f"look {tokens}"].append(run)
            print(row(f"look {tokens}", run, plain), flush=True)
    summary(totals)


def summary(totals: dict[str, list[Run]]) -> None:
    """All answers together: kept rate over all checked guesses, decode rate over all decode seconds."""
    plain = totals["plain"]
    print(f"\nall answers\n{HEADER}")
    for name, runs in totals.items():
        stats = {key: sum(run.stats.get(key, 0) for run in runs) for key in ("draft_rounds", "draft_proposed",
                                                                              "draft_accepted")}
        joined = Run(" ".join(run.text for run in runs), sum(run.tokens - 1 for run in runs) + 1,
                     statistics.median(run.first_token for run in runs), sum(run.decode for run in runs), stats)
        reference = Run(" ".join(run.text for run in plain), sum(run.tokens - 1 for run in plain) + 1,
                        0.0, sum(run.decode for run in plain))
        same = sum(run.text == base.text for run, base in zip(runs, plain))
        print(row(name, joined, reference).rsplit("|", 1)[0] + f"| {same}/{len(runs)} texts the plain one")


if __name__ == "__main__":
    main()

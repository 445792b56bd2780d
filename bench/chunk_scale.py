"""Does chunking one huge paragraph grow linearly with its size? (real tokenizer, wall clock)

Usage::

    .venv/bin/python bench/chunk_scale.py                       # 200 KB, 400 KB, 800 KB
    .venv/bin/python bench/chunk_scale.py --sizes 2000000       # the 2 MB one-line file of issue 13

A one-line file is one paragraph: it is cut into sentences, an over-long sentence into word
windows, and every candidate window is measured with the embedder's own ``count_tokens``.
For each size, with and without full stops, prints the seconds, the tokenizer calls and the
characters tokenized per input character (the work: it must stay flat as the size doubles),
and the time ratio to the previous size (2.0 when linear). tests/unit/test_chunking.py asserts the
same on work counts, without a clock.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings import make_embedder
from rag.documents.paragraphs import chunk_documents
from rag.documents.readers import Document

WORDS = ["customs", "officers", "seized", "goods", "at", "the", "border", "after", "a", "long", "cross-check",
         "of", "declarations", "Vladivostok", "narcotics", "2019", "kg"]


def one_line(chars: int, stops: bool, seed: int = 0) -> str:
    """A run of words of about ``chars`` characters, with a full stop every 15 words or none."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(WORDS)
        if stops and len(parts) % 15 == 14:
            word += "."
        elif stops and len(parts) % 15 == 0:
            word = word.capitalize()
        parts.append(word)
        size += len(word) + 1
    return " ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 400_000, 800_000])
    options = parser.parse_args()
    embedder = make_embedder()
    embedder.count_tokens("load the tokenizer before timing")
    calls = tokenized = 0

    def count_tokens(text: str) -> int:
        nonlocal calls, tokenized
        calls += 1
        tokenized += len(text)
        return embedder.count_tokens(text)

    print(f"{'stops':>5} {'chars':>9} {'chunks':>7} {'seconds':>8} {'ratio':>6} {'calls':>7} {'work/char':>9}")
    for stops in (False, True):
        previous = None
        for size in options.sizes:
            text = one_line(size, stops)
            calls = tokenized = 0
            started = time.perf_counter()
            _, chunks = chunk_documents([Document("big.txt", text, "A title", None, "0")], count_tokens,
                                        embedder.max_tokens, 1, 2)
            seconds = time.perf_counter() - started
            ratio = f"{seconds / previous:6.2f}" if previous else f"{'':>6}"
            print(f"{stops!s:>5} {len(text):9d} {len(chunks):7d} {seconds:8.2f} {ratio} {calls:7d} "
                  f"{tokenized / len(text):9.1f}", flush=True)
            previous = seconds


if __name__ == "__main__":
    main()

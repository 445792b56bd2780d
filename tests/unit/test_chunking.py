"""Chunking: work linear in the text (issue 13, bounded costs), on a stand-in tokenizer. The golden digests of the
bundled reports' chunks need the real one: tests/integration/test_chunking.py."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from bench.chunk_scale import one_line  # the benchmark's own generator: one definition of the input
from rag.documents.paragraphs import _last_fitting, _pack, chunk_documents
from rag.documents.readers import Document


def _scan(n: int, first: int, fits: Callable[[int, int], bool]) -> int:
    """The chunker's former loop: add one unit at a time while the window fits."""
    last = first
    while last + 1 < n and fits(first, last + 1):
        last += 1
    return last


def test_window_search_ends_where_the_unit_by_unit_scan_ends() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        n = rng.randint(1, 60)
        first = rng.randint(0, n - 1)
        limit = rng.randint(0, 70)
        ends = sorted(rng.sample(range(1, 200), n))

        def fits(a: int, b: int, ends: list[int] = ends, limit: int = limit) -> bool:
            return ends[b] - (ends[a - 1] if a else 0) <= limit

        assert _last_fitting(n, first, fits, rng.randint(-5, n + 5)) == _scan(n, first, fits)


def _scan_pack(units: list[tuple[int, int]], count: Callable[[int, int], int], limit: int, overlap: int
               ) -> list[tuple[int, int]]:
    """The chunker's former packing, on top of ``_scan``."""
    def fits(first: int, last: int) -> bool:
        return count(units[first][0], units[last][1]) <= limit

    windows, first = [], 0
    while first < len(units):
        last = _scan(len(units), first, fits)
        windows.append((units[first][0], units[last][1]))
        if last + 1 >= len(units):
            break
        first = max(last + 1 - overlap, first + 1)
    return windows


def test_packing_matches_the_scan_with_overlap() -> None:
    rng = random.Random(11)
    for _ in range(300):
        weights = [rng.randint(1, 9) for _ in range(rng.randint(1, 80))]
        units = [(sum(weights[:i]), sum(weights[:i + 1])) for i in range(len(weights))]
        limit, overlap, title = rng.randint(1, 40), rng.randint(0, 3), rng.randint(0, 5)

        def count(a: int, b: int, title: int = title) -> int:
            return title + (b - a) // 2 + 2  # not additive, but never shrinks as the window grows

        assert _pack(units, count, limit, overlap) == _scan_pack(units, count, limit, overlap)


def _work(text: str, max_tokens: int) -> int:
    """Characters handed to the tokenizer to chunk ``text`` (a word-count tokenizer stands in for the model's)."""
    tokenized = 0

    def count_tokens(piece: str) -> int:
        nonlocal tokenized
        tokenized += len(piece)
        return 2 + sum(1 + len(word) // 5 for word in piece.split())

    chunk_documents([Document("big.txt", text, "A title", None, "0")], count_tokens, max_tokens, 1, 2)
    return tokenized


@pytest.mark.parametrize("stops", [False, True])
def test_chunking_work_is_linear_in_the_text_and_not_in_the_window(stops: bool) -> None:
    """Re-counting a growing window per word cost text x window: 136 characters tokenized per input character."""
    small, large = one_line(50_000, stops, seed=50_000), one_line(100_000, stops, seed=100_000)
    assert _work(large, 256) <= 2.2 * _work(small, 256)
    per_char = {window: _work(large, window) / len(large) for window in (64, 256, 1024)}
    assert max(per_char.values()) <= 12  # a constant: the text, its sentences, their windows, a few probes each
    assert per_char[1024] <= 1.5 * per_char[64]

"""bench/batched.py's arithmetic: answers per minute from measured token rates. The measuring itself needs the
model: tests/integration/test_batched_decoding.py."""

from __future__ import annotations

import pytest

from bench.batched import EXTRACT_TOKENS, WRITE_TOKENS, answers_per_minute, workloads


def test_answers_per_minute_adds_the_prefill_and_decode_time_of_one_answer() -> None:
    # 500 tokens at 250/s (2 s) and 10 tokens at 5/s (2 s): 4 s an answer, 15 a minute.
    assert answers_per_minute(500, 10, 250.0, 5.0) == pytest.approx(15.0)


def test_workloads_compare_serial_and_batched_rates() -> None:
    rates = {"prefill_serial": 100.0, "prefill_batched": 100.0, "decode_serial": 10.0, "decode_batched": 20.0}
    result = workloads(rates, 100)
    # The prefill costs 1 s either way; batching halves only the decode time.
    assert result["extract_serial"] == pytest.approx(60.0 / (1 + EXTRACT_TOKENS / 10))
    assert result["extract_batched"] == pytest.approx(60.0 / (1 + EXTRACT_TOKENS / 20))
    assert result["write_ratio"] == pytest.approx((1 + WRITE_TOKENS / 10) / (1 + WRITE_TOKENS / 20))
    assert 1.0 < result["extract_ratio"] < result["write_ratio"] < 2.0

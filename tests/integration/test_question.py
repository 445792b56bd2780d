"""Question validation: 10,000 seeded junk inputs, each either one InvalidQuestion line or a question the real
embedder and index answer with hits. Chosen inputs: tests/unit/test_question.py."""

from __future__ import annotations

import random
from pathlib import Path

from rag.errors import InvalidQuestion
from rag.pipeline import Pipeline
from rag.settings import BUNDLED_CORPUS, Settings

FUZZ_INPUTS = 10_000


def _fuzz_inputs(seed: int, count: int) -> list[object]:
    """Seeded junk: code points from every awkward range, mixed with words, plus values that are not text."""
    rng = random.Random(seed)
    ranges = [(0x00, 0x1F), (0x20, 0x7E), (0x7F, 0x9F), (0xA0, 0x24F), (0x300, 0x36F), (0x400, 0x4FF),
              (0x600, 0x6FF), (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x206F), (0x4E00, 0x4FFF),
              (0xD800, 0xDFFF), (0xE000, 0xE0FF), (0xFEFF, 0xFEFF), (0xFFF0, 0xFFFF), (0x1F300, 0x1F6FF),
              (0xE0000, 0xE007F), (0x10FFF0, 0x10FFFF)]
    words = ["Operation", "Sentinel", "seize", "WCO", "Mikuriya", "2009", "?", " ", "\n", "\t"]
    inputs: list[object] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.02:
            inputs.append(rng.choice([None, 0, 1.5, b"bytes", ["a"], {"q": 1}, True]))
            continue
        parts = []
        for _ in range(rng.randint(0, 12)):
            if rng.random() < 0.3:
                parts.append(rng.choice(words))
            else:
                low, high = rng.choice(ranges)
                parts.append(chr(rng.randint(low, high)))
        inputs.append("".join(parts))
    return inputs


def test_fuzzed_questions_give_a_result_or_invalid_question_only(bundled_index_dir: Path) -> None:
    """10,000 seeded inputs through validation, and every accepted one through the real embedder and index."""
    pipeline = Pipeline(Settings(index={"index_dir": bundled_index_dir, "corpus_dir": BUNDLED_CORPUS}, retrieval={"k": 1}))
    accepted = refused = 0
    for value in _fuzz_inputs(20261130, FUZZ_INPUTS):
        try:
            hits = pipeline.retrieve(value)  # type: ignore[arg-type]
        except InvalidQuestion as exc:
            assert str(exc) and "\n" not in str(exc)
            refused += 1
            continue
        assert isinstance(hits, list)
        accepted += 1
    assert accepted + refused == FUZZ_INPUTS
    assert accepted > 1000 and refused > 1000  # both paths were exercised

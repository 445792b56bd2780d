"""Twenty users at once on one embedded model, through the real server: no errors, no cross-talk.

Runs ``bench/load.py`` (which starts `rag serve` as its own process) with one question per
user, so CI stays within its budget; the benchmark's default of three questions per user
gives the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.llm
def test_twenty_concurrent_users_each_get_their_own_correct_answer(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), "--users", "20", "--rounds", "1",
                             "--json", str(out)], capture_output=True, text=True, timeout=1800, check=False)
    assert out.exists(), result.stdout + result.stderr
    figures = json.loads(out.read_text(encoding="utf-8"))
    print(result.stdout)
    assert figures["requests"] == 20 and figures["errors"] == 0, result.stdout
    assert figures["wrong"] == 0 and figures["warm_up_correct"], result.stdout  # each answer is its own question's
    assert result.returncode == 0

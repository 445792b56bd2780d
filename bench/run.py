"""Speed and memory figures for the bundled corpus, measured the way a user meets them.

Usage::

    .venv/bin/python bench/run.py            # or: make bench
    .venv/bin/python bench/run.py --repeat 3

Each figure is a separate process (so "cold" really is cold, and peak RSS is that
process's own): ``rag index`` into a fresh directory, ``rag ask`` from a cold start,
and the Sentinel question answered twice in one process on the embedded model
(the first includes the model load; the second, a different question, is warm). Prints a table with
ratios and writes the numbers to bench/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What did Operation Sentinel seize?"
# A different second question: repeating the first would hit llama.cpp's prompt-prefix cache.
WARM_QUESTION = "Who opened the Russian-American Supply Chain Security seminar?"

# Runs inside a child process: two questions on one pipeline, figures as JSON on stdout.
_IN_PROCESS = """
import json, sys, time
started = time.perf_counter()
from rag import Pipeline, Settings
imported = time.perf_counter() - started
pipeline = Pipeline(Settings(llm="embedded", index_dir=sys.argv[1]))
runs = []
for question, expected, source in [(sys.argv[2], "160", ("002_50d104ffb6a67dba.txt", 9)),
                                   (sys.argv[3], "Konovalenko", ("004_94483c790ad03595.txt", 5))]:
    mark = time.perf_counter()
    answer = pipeline.ask(question)
    runs.append({"wall": time.perf_counter() - mark, **answer.timings,
                 "prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
                 "correct": expected in answer.text and source in [(c.doc_id, c.paragraph) for c in answer.citations]})
print(json.dumps({"import": imported, "runs": runs}))
"""


def measure(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB and stdout of one child process (rusage from wait4)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as stderr:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, text=True)
        stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            stderr.seek(0)
            raise SystemExit(f"{' '.join(args[2:4])} failed: {stderr.read().strip()[-500:]}")
    return wall, usage.ru_maxrss / 1024, stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="repeat each measurement and report the median")
    options = parser.parse_args()
    rag = [sys.executable, "-m", "rag.cli"]
    results: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(options.repeat):
            index_dir = Path(tmp) / f"index-{time.monotonic_ns()}"
            wall, rss, _ = measure(rag + ["index", str(ROOT / "data" / "reports"), "--index-dir", str(index_dir)])
            record("index_build_s", wall)
            record("index_peak_rss_mib", rss)
            wall, rss, stdout = measure(rag + ["ask", "--json", "--llm", "embedded", "--index-dir", str(index_dir),
                                               QUESTION])
            record("ask_cold_start_s", wall)
            record("ask_peak_rss_mib", rss)
            _, rss, stdout = measure([sys.executable, "-c", _IN_PROCESS, str(index_dir), QUESTION, WARM_QUESTION])
            figures = json.loads(stdout)
            cold, warm = figures["runs"]
            record("import_s", figures["import"])
            record("first_question_ttft_s", cold["llm_first_token"])
            record("first_question_total_s", cold["wall"])
            record("warm_ttft_s", warm["llm_first_token"])
            record("warm_total_s", warm["wall"])
            record("prompt_tokens", warm["prompt_tokens"])
            record("completion_tokens", warm["completion_tokens"])
            record("prompt_tok_per_s", warm["prompt_tokens"] / warm["llm_first_token"])
            record("gen_tok_per_s", (warm["completion_tokens"] - 1) / max(warm["llm_total"] - warm["llm_first_token"], 1e-9))
            record("retrieval_ms", 1000 * (warm["embed"] + warm["search"]))
            record("answers_correct", float(cold["correct"] and warm["correct"]))
            record("two_question_peak_rss_mib", rss)

    median = {name: statistics.median(values) for name, values in results.items()}
    ratios = {
        "ttft_share_of_warm_answer": median["warm_ttft_s"] / median["warm_total_s"],
        "cold_start_over_warm_answer": median["ask_cold_start_s"] / median["warm_total_s"],
        "prompt_over_generation_speed": median["prompt_tok_per_s"] / median["gen_tok_per_s"],
    }
    width = max(map(len, [*median, *ratios]))
    print(f"bench: {os.cpu_count()} cores, question {QUESTION!r}, median of {options.repeat}")
    for name, value in {**median, **ratios}.items():
        print(f"  {name:<{width}}  {value:10.2f}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / time.strftime("%Y%m%dT%H%M%S.json")
    path.write_text(json.dumps({"median": median, "ratios": ratios, "raw": results}, indent=2))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Speed and memory figures for the bundled corpus, measured the way a user meets them.

Usage::

    .venv/bin/python bench/run.py                 # one user's figures (about 1.5 min)
    .venv/bin/python bench/run.py --repeat 3
    .venv/bin/python bench/run.py --peer --load   # or: make bench; also LlamaIndex and 20 users (about 10 min)

Each figure is a separate process (so "cold" really is cold, and peak RSS is that
process's own): ``rag index`` into a fresh directory, ``rag ask`` from a cold start,
and three questions in one process on the embedded model: the Sentinel question (includes
the model load), another question, then the Sentinel question again, warm (its sources
differ from the question before, so only the shared system prompt is cached). Prints a
table with the targets and the hardware limits beside the figures, as ratios, and writes
the numbers to bench/results/<timestamp>.json. ``--peer`` then runs ``bench/peer.py`` (the same
questions through LlamaIndex's CitationQueryEngine, one process after another) and ``--load``
runs ``bench/load.py`` (20 users, one question each, all at once on ``rag serve``); their figures
join the table.
Nothing runs at the same time as anything else: timings on 2 cores would mean nothing.

Where the limits come from (Qwen2.5-Coder-1.5B Q4_K_M on 2 cores):
- prefill is compute-bound: about 3 GOP per token; 2 cores of int8 VNNI give about
  1.5 TOPS, so about 500 tokens/s;
- decode is bandwidth-bound: each token reads about 1 GB of weights; at about 14 GB/s of
  memory bandwidth that is about 14 tokens/s (a machine with more bandwidth beats it).
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
# A different second question, so the third (Sentinel again) cannot reuse the first one's whole prompt.
OTHER_QUESTION = "Who opened the Russian-American Supply Chain Security seminar?"
# The speed targets (seconds; a ratio; answers a minute) and the hardware limits (tokens/s), see the docstring.
TARGETS = {"warm_ttft_s": 1.5, "warm_total_s": 3.0, "ask_cold_start_s": 5.0}
AT_LEAST = {"llamaindex_over_ours": 4.0, "answers_per_min_20_users": 15.0}
LIMITS = {"prompt_tok_per_s": 500.0, "gen_tok_per_s": 14.0}

# Runs inside a child process: three questions on one pipeline, figures as JSON on stdout.
_IN_PROCESS = """
import json, sys, time
started = time.perf_counter()
from rag import Pipeline, Settings
imported = time.perf_counter() - started
pipeline = Pipeline(Settings(llm={"backend": "embedded"}, index={"index_dir": sys.argv[1]}))
runs = []
sentinel = (sys.argv[2], "100", ("002_50d104ffb6a67dba.txt", 9))  # "160 kg" is the model's choice (tests/conftest.py)
for question, expected, source in [sentinel, (sys.argv[3], "Konovalenko", ("004_94483c790ad03595.txt", 5)), sentinel]:
    mark = time.perf_counter()
    answer = pipeline.ask(question)
    runs.append({"wall": time.perf_counter() - mark, **answer.timings,
                 "prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
                 "correct": expected in answer.text and source in [(c.doc_id, c.paragraph) for c in answer.citations]})
# How many prompt tokens the shared start (system prompt) has: those are cached in a warm question.
from rag.answer.prompt import warm_up_messages
shared = pipeline.llm.llm.stream(warm_up_messages(pipeline.settings.prompts, pipeline.settings.citations.mode),
                                 max_tokens=1)
"".join(shared)
print(json.dumps({"import": imported, "runs": runs, "cached_tokens": shared.result.prompt_tokens}))
"""


def measure(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB and stdout of one child process (rusage from wait4)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as stderr:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, text=True)
        stdout = process.stdout.read() if process.stdout else ""
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            stderr.seek(0)
            raise SystemExit(f"{' '.join(args[2:4])} failed: {stderr.read().strip()[-500:]}")
    return wall, usage.ru_maxrss / 1024, stdout


def others(peer: bool, load: bool) -> dict[str, float]:
    """The side-by-side with LlamaIndex and the many-users figure, each from its own bench, run after ours."""
    figures: dict[str, float] = {}
    if peer:
        subprocess.run([sys.executable, str(ROOT / "bench" / "peer.py")], check=True)
        runs = json.loads(max((ROOT / "bench" / "results").glob("peer-*.json")).read_text())
        medians = {run["side"]: statistics.median(a["total"] for a in run["answers"]) for run in runs}
        figures["peer_ours_median_s"] = medians["ours"]
        figures["peer_llamaindex_256_median_s"] = medians["LlamaIndex (chunk 256)"]
        figures["llamaindex_over_ours"] = medians["LlamaIndex (chunk 256)"] / medians["ours"]
    if load:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "load.json"
            subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), "--users", "20", "--rounds", "1",
                            "--json", str(out)], check=True)
            crowd = json.loads(out.read_text())
        figures["answers_per_min_20_users"] = crowd["answers_per_min"]
        figures["wait_p95_20_users_s"] = crowd["wait_p95_s"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="repeat each measurement and report the median")
    parser.add_argument("--peer", action="store_true", help="also run bench/peer.py (LlamaIndex, same questions)")
    parser.add_argument("--load", action="store_true", help="also run bench/load.py (20 users at once)")
    options = parser.parse_args()
    rag = [sys.executable, "-m", "rag.app.cli"]
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
            _, rss, stdout = measure([sys.executable, "-c", _IN_PROCESS, str(index_dir), QUESTION, OTHER_QUESTION])
            figures = json.loads(stdout)
            cold, other, warm = figures["runs"]
            record("import_s", figures["import"])
            record("first_question_ttft_s", cold["llm_first_token"])
            record("first_question_total_s", cold["wall"])
            record("warm_ttft_s", warm["llm_first_token"])
            record("warm_total_s", warm["wall"])
            record("prompt_tokens", warm["prompt_tokens"])
            record("completion_tokens", warm["completion_tokens"])
            # The warm prompt's system part is cached: count only the tokens read for this question.
            record("prompt_tok_per_s", (warm["prompt_tokens"] - figures["cached_tokens"]) / warm["llm_first_token"])
            if "llm_total" in warm:  # the model wrote an answer (write-first, or extract with citations.write_answer)
                record("gen_tok_per_s", (warm["completion_tokens"] - 1)
                       / max(warm["llm_total"] - warm["llm_first_token"], 1e-9))
            record("retrieval_ms", 1000 * (warm["embed"] + warm["search"]))
            record("answers_correct", float(cold["correct"] and other["correct"] and warm["correct"]))
            record("two_question_peak_rss_mib", rss)

    median = {name: statistics.median(values) for name, values in results.items()}
    median.update(others(options.peer, options.load))
    ratios = {
        "ttft_share_of_warm_answer": median["warm_ttft_s"] / median["warm_total_s"],
        "cold_start_over_warm_answer": median["ask_cold_start_s"] / median["warm_total_s"],
    }
    if "gen_tok_per_s" in median:
        ratios["prompt_over_generation_speed"] = median["prompt_tok_per_s"] / median["gen_tok_per_s"]
    mode = os.environ.get("RAG_PRESET") or os.environ.get("RAG_CITATIONS__MODE") or "default"
    print(f"bench: {os.cpu_count()} cores, question {QUESTION!r}, median of {options.repeat}, settings: {mode}")
    print(f"  {'figure':<30} {'value':>10}  {'target/limit':>12}  {'ratio':>6}")
    for name, value in median.items():
        bound = TARGETS.get(name) or AT_LEAST.get(name) or LIMITS.get(name)
        kind = "target ≤" if name in TARGETS else "target ≥" if name in AT_LEAST else "limit ~" if bound else ""
        extra = f"  {kind + f'{bound:g}':>12}  {value / bound:6.2f}" if bound else ""
        print(f"  {name:<30} {value:10.2f}{extra}")
    for name, value in ratios.items():
        print(f"  {name:<30} {value:10.2f}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / time.strftime("%Y%m%dT%H%M%S.json")
    path.write_text(json.dumps({"median": median, "ratios": ratios, "targets": {**TARGETS, **AT_LEAST}, "limits": LIMITS,
                                "raw": results}, indent=2))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

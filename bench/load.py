"""Many users at once: `rag serve` with the embedded model, asked by concurrent gradio_client users.

Usage::

    .venv/bin/python bench/load.py                      # 20 users x 3 questions (about 12 min on 2 cores)
    .venv/bin/python bench/load.py --users 20 --rounds 1 --json out.json

The server runs as its own process on a free loopback port, over a private copy of the
bundled reports. One warm-up question loads the model first. Then every user, in its own
thread with its own client (so its own session), asks its questions one after the other,
all users at once. Each user starts at a different question, so three different questions
are always in flight together.

An answer counts as correct only when it holds its own question's fact, cites its own
evidence paragraph, and holds none of the other questions' facts: that last check is
the cross-talk test (an answer streamed into the wrong session would fail it). Prints
errors, wrong answers, the wait per question (submit to result, queueing included) at
p50/p95/max and the throughput; exits 1 on any error or wrong answer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (question, its fact, its evidence label): three reports, three facts no other answer contains
QUESTIONS = [
    ("What did Operation Sentinel seize?", "160", "002_50d104ffb6a67dba.txt ¶9"),
    ("Who opened the Russian-American Supply Chain Security seminar?", "Konovalenko", "004_94483c790ad03595.txt ¶5"),
    ("Whom did Andrei Belyaninov meet on January 11, 2006?", "Aoyama", "003_b84c42ec5a69f457.txt ¶2"),
]


@dataclass
class Request:
    user: int
    question: int
    wait_s: float
    error: str = ""
    correct: bool = False


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(tmp: Path) -> tuple[subprocess.Popen, str]:
    """`rag serve` over a private corpus copy and index; returns once the page answers."""
    corpus = tmp / "corpus"
    shutil.copytree(ROOT / "data" / "reports", corpus)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
        "HF_HUB_OFFLINE": "1", "XDG_DATA_HOME": str(tmp / "data-home")}
    with (tmp / "server.log").open("w") as log:  # the child keeps its own copy of the handle
        server = subprocess.Popen([sys.executable, "-m", "rag.app.cli", "serve", "--port", str(port), "--llm", "embedded",
                                   "--corpus", str(corpus), "--index-dir", str(tmp / "index")],
                                  env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"rag serve exited: {(tmp / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return server, url
        except OSError:
            time.sleep(1)
    server.kill()
    raise SystemExit("rag serve did not answer within 300 s")


def judge(markdown: str, question: int) -> bool:
    _, fact, label = QUESTIONS[question]
    others = [q[1] for i, q in enumerate(QUESTIONS) if i != question]
    return fact in markdown and label in markdown and not any(other in markdown for other in others)


def ask(url: str, user: int, rounds: int, start: threading.Barrier) -> list[Request]:
    """One user: its own client, its questions in turn, each timed from submit to result."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    start.wait()
    done = []
    for round_ in range(rounds):
        question = (user + round_) % len(QUESTIONS)
        mark = time.perf_counter()
        try:
            markdown = client.predict(QUESTIONS[question][0], api_name="/ask")
            done.append(Request(user, question, time.perf_counter() - mark, correct=judge(markdown, question)))
        except Exception as exc:  # noqa: BLE001 - any failure is a finding, reported per request
            done.append(Request(user, question, time.perf_counter() - mark, error=f"{type(exc).__name__}: {exc}"))
    return done


def run(users: int, rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp_name:
        server, url = start_server(Path(tmp_name))
        try:
            from gradio_client import Client

            mark = time.perf_counter()
            warm = Client(url, verbose=False).predict(QUESTIONS[0][0], api_name="/ask")
            first_s = time.perf_counter() - mark
            barrier = threading.Barrier(users)
            started = time.perf_counter()
            with ThreadPoolExecutor(users) as pool:
                results = [r for batch in pool.map(lambda u: ask(url, u, rounds, barrier), range(users))
                           for r in batch]
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(30)
    waits = sorted(r.wait_s for r in results)
    return {"users": users, "rounds": rounds, "requests": len(results), "first_answer_s": round(first_s, 1),
            "warm_up_correct": judge(warm, 0), "errors": sum(bool(r.error) for r in results),
            "wrong": sum(not r.error and not r.correct for r in results), "wall_s": round(wall, 1),
            "wait_p50_s": round(statistics.median(waits), 1),
            "wait_p95_s": round(waits[min(len(waits) - 1, int(0.95 * len(waits)))], 1),
            "wait_max_s": round(waits[-1], 1), "answers_per_min": round(60 * len(results) / wall, 2),
            "seconds_per_answer": round(wall / len(results), 1), "requests_detail": [asdict(r) for r in results]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="questions per user")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args()
    figures = run(options.users, options.rounds)
    print(f"{figures['users']} users x {figures['rounds']} questions = {figures['requests']} requests on one "
          f"embedded model (first answer, model load included: {figures['first_answer_s']} s)")
    print(f"errors {figures['errors']}, wrong or cross-talk {figures['wrong']}")
    print(f"wait per question (queue + answer): p50 {figures['wait_p50_s']} s, p95 {figures['wait_p95_s']} s, "
          f"max {figures['wait_max_s']} s")
    print(f"throughput {figures['answers_per_min']} answers/min ({figures['seconds_per_answer']} s per answer, "
          f"served one at a time); p95 wait / answer time = "
          f"{figures['wait_p95_s'] / figures['seconds_per_answer']:.1f}x")
    for request in figures["requests_detail"]:
        if request["error"] or not request["correct"]:
            print(f"  user {request['user']} question {request['question']}: {request['error'] or 'wrong answer'}")
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    sys.exit(1 if figures["errors"] or figures["wrong"] or not figures["warm_up_correct"] else 0)


if __name__ == "__main__":
    main()

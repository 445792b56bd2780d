"""An archive-sized index on one machine: build, load, search, add, delete and compact at 100k-1M paragraphs.

Usage::

    .venv/bin/python bench/scale.py                           # 100k and 1M paragraphs, FAISS
    .venv/bin/python bench/scale.py --sizes 20000 --queries 50
    .venv/bin/python bench/scale.py --sizes 100000 --index-type Flat   # any index.index_type
    .venv/bin/python bench/scale.py --sizes 100000 --index-type milvus --queries 100   # Milvus Lite (index.uri)

Embedding a million paragraphs is not the point here, so the corpus is real files on disk
(reports of 50 generated paragraphs, short Zipf-distributed text for BM25) indexed by the real
``update_index`` with a synthetic embedder: each text's vector is a seeded point near one of
1,000 cluster centres (real embeddings cluster too; uniform random vectors would flatter no
index and are the worst case for approximate ones). Every query plants its answer: a paragraph's
four rarest words for BM25 and its vector plus noise for FAISS.

Reported per size (a fresh process opens the index, as ``rag ask`` would):

- ``build``: ``rag index`` of the whole corpus (chunking, synthetic vectors, FAISS, SQLite, BM25);
- ``load`` and ``RSS``: ``SegmentedIndex.load`` and the process's resident memory after it; ``first
  query``: the first search, which reads the FAISS index and BM25 model; ``RSS index``: resident
  memory after it; ``RSS model``: what loading the embedding model adds; ``RSS end``: the index's
  after all queries (Milvus Lite runs in the process and grows as it is searched);
- ``retrieval p50/p95``: embed the question (the configured embedder: all-MiniLM-L6-v2@openvino-int8 by default) + FAISS + BM25 + fusion + hit
  records (``Retriever.search_vector``); ``found@5``: share of queries whose planted paragraph is in
  the top 5; ``recall@10``: the index's top-10 chunks against exact (Flat) search;
- ``add``, ``delete``, ``compact``: ``rag index`` after adding one 50-paragraph report, after
  deleting one, and ``rag index --compact``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.indexing import update_index
from rag.settings import Settings

DIM = 384
PER_REPORT = 50
CENTRES = 1_000
TARGETS = {"retrieval p50": "≤ 20 ms", "add": "≤ 5 s"}


class SyntheticEmbedder:
    """A seeded vector per text near one of ``CENTRES`` centres; counts words as tokens."""

    name, dim, max_tokens = "synthetic-clustered-384", DIM, 256

    def __init__(self) -> None:
        self.centres = _unit(np.random.default_rng(0).standard_normal((CENTRES, DIM)).astype(np.float32))

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2

    def vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        rng = np.random.default_rng(seed)
        return self.centres[rng.integers(CENTRES)] + 0.6 * rng.standard_normal(DIM).astype(np.float32) / DIM ** 0.5

    def encode(self, texts, progress: bool = False) -> np.ndarray:
        return _unit(np.array([self.vector(t) for t in texts], dtype=np.float32).reshape(len(texts), DIM))


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def write_corpus(folder: Path, paragraphs: int, seed: int = 0) -> None:
    """``paragraphs / 50`` reports of 50 one-sentence paragraphs (plus a title), 8-14 Zipf words each."""
    if (folder / ".complete").is_file():
        return
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(seed)
    vocabulary = np.array([f"w{i}" for i in range(50_000)])
    for report in range(-(-paragraphs // PER_REPORT)):
        lengths = rng.integers(8, 15, PER_REPORT)
        words = vocabulary[np.minimum(rng.zipf(1.2, lengths.sum()) - 1, len(vocabulary) - 1)]
        cuts = np.cumsum(lengths)[:-1]
        body = "\n\n".join(" ".join(p).capitalize() + "." for p in np.split(words, cuts))
        sub = folder / f"{report // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"report-{report:06d}.txt").write_text(f"Report {report}\n\n{body}\n", encoding="utf-8")
    (folder / ".complete").write_text("", encoding="utf-8")


def timed(function, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def question(text: str) -> str:
    """A planted question: the paragraph's four rarest words (w<rank>: a higher rank is rarer), as a
    real question names the specific things it asks about rather than the commonest words."""
    words = {w.lower().rstrip(".") for w in text.split("\n")[-1].split()} - {"w49999"}  # the clamped tail
    return " ".join(sorted(words, key=lambda w: -int(w[1:]) if w[1:].isdigit() else 0)[:4])


def probe(index_dir: Path, queries: int, efsearch: int, nprobe: int) -> dict[str, float]:
    """In a fresh process: open the index, then time planted queries end to end."""
    from rag.query.retrieval import Retriever
    from rag.store.index import SegmentedIndex

    base = rss_mb()
    load, index = timed(SegmentedIndex.load, index_dir)
    index.efsearch, index.nprobe = efsearch, nprobe
    resident = rss_mb() - base
    rng = np.random.default_rng(1)
    retriever = Retriever(index, SyntheticEmbedder(), "hybrid")  # type: ignore[arg-type]
    segment = max(index.segments, key=lambda s: s.records.chunk_count)
    rows = rng.choice(segment.records.chunk_count, queries, replace=False)
    chunks = segment.records.chunks_at(rows.tolist())
    texts = [question(c.embed_text) for c in chunks]
    vectors = _unit(segment.vectors_at(rows.tolist())
                    + 0.15 * rng.standard_normal((queries, DIM)).astype(np.float32) / DIM ** 0.5)
    first, _ = timed(retriever.search_vector, vectors[0], 5, texts[0])  # reads the FAISS index and BM25 model
    resident_index = rss_mb() - base
    before_model = rss_mb()
    embedder = Settings().make_embedder()  # the configured embedder times the question
    embedder.encode(["warm up"])
    model = rss_mb() - before_model
    embed_times = [timed(embedder.encode, [text])[0] for text in texts]
    search_times, found = [], 0
    for text, vector, chunk in zip(texts, vectors, chunks):
        seconds, hits = timed(retriever.search_vector, vector, 5, text)
        search_times.append(seconds)
        found += chunk.key in [h.key for h in hits]
    resident_end = rss_mb() - base - model  # Milvus Lite, in the process, grows as it is searched
    every = segment.vectors_at(range(segment.records.chunk_count))  # (Milvus: read back, untimed)
    exact = np.argpartition(-(every @ vectors.T), 10, axis=0)[:10].T  # exact top 10
    recall = []
    for vector, truth in zip(vectors, exact):
        rows_found = [row for row, _ in segment.search(vector, 10, efsearch, nprobe)]
        recall.append(len(set(rows_found) & set(truth.tolist())) / 10)
    total = sorted(e + s for e, s in zip(embed_times, search_times))
    return {"load s": load, "RSS MB": resident, "first query s": first, "RSS index MB": resident_index,
            "RSS model MB": model, "RSS end MB": resident_end,
            "embed p50 ms": 1000 * statistics.median(embed_times),
            "retrieval p50 ms": 1000 * statistics.median(total), "retrieval p95 ms": 1000 * total[int(0.95 * len(total)) - 1],
            "found@5": found / queries, "recall@10": float(np.mean(recall)),
            "segment type": segment.record.index_type}  # type: ignore[dict-item]


def run_size(paragraphs: int, work: Path, queries: int, index_type: str, reuse: bool) -> dict[str, object]:
    corpus, index_dir, spare = work / f"corpus-{paragraphs}", work / f"index-{paragraphs}-{index_type}", work / "spare"
    write_corpus(corpus, paragraphs)
    write_corpus(spare, PER_REPORT, seed=99)
    settings = Settings(index={"corpus_dir": corpus, "index_dir": index_dir, "index_type": index_type}).index
    embedder = SyntheticEmbedder()
    if not (reuse and (index_dir / "CURRENT").is_file()):
        shutil.rmtree(index_dir, ignore_errors=True)
    build, (index, _) = timed(update_index, corpus, index_dir, embedder, settings)
    row: dict[str, object] = {"paragraphs": index.paragraph_count, "vectors": len(index),
                              "build s" if len(index.segments) == 1 and not reuse else "sync s": build}
    del index
    if index_type == "milvus":  # Milvus Lite: one process at a time, and the probe opens it in its own
        from rag.store.milvus_client import release_all

        release_all()

    def step(name: str, value: object) -> None:
        row[name] = value
        print(f"  {paragraphs}: {name} = {value}", flush=True)

    out = subprocess.run([sys.executable, __file__, "--probe", str(index_dir), "--queries", str(queries),
                          "--efsearch", str(settings.hnsw_ef_search), "--nprobe", str(settings.ivf_nprobe)],
                         capture_output=True, text=True, check=True)
    for name, value in json.loads(out.stdout.strip().splitlines()[-1]).items():
        step(name, value)
    added = corpus / "zz-added" / "report-added.txt"
    victim = next(corpus.rglob("report-000007.txt"))
    try:
        added.parent.mkdir(exist_ok=True)
        shutil.copy(next(spare.rglob("*.txt")), added)
        step("add s", timed(update_index, corpus, index_dir, embedder, settings)[0])
        victim.rename(work / "deleted.txt")
        step("delete s", timed(update_index, corpus, index_dir, embedder, settings)[0])
        seconds, (index, _) = timed(update_index, corpus, index_dir, embedder, settings, compact=True)
        step("compact s", seconds)
        step("segments after", len(index.segments))
    finally:
        if (work / "deleted.txt").exists():
            shutil.move(str(work / "deleted.txt"), victim)
        shutil.rmtree(added.parent, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--index-type", default="auto")
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "rag-scale")
    parser.add_argument("--reuse", action="store_true", help="bring an index left by an earlier run up to date "
                        "instead of building it again (its build time is then not measured)")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--efsearch", type=int, default=Settings().index.hnsw_ef_search, help=argparse.SUPPRESS)
    parser.add_argument("--nprobe", type=int, default=Settings().index.ivf_nprobe, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe, args.queries, args.efsearch, args.nprobe)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes:
        rows.append(run_size(size, args.work, args.queries, args.index_type, args.reuse))
        print(json.dumps(rows[-1]), flush=True)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(f"{row[c]:.3g}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in columns)
              + " |")
    print("\ntargets: " + ", ".join(f"{k} {v}" for k, v in TARGETS.items()))
    if len(rows) > 1:
        first = rows[0]
        print("ratios to the smallest size: " + ", ".join(
            f"{k} ×{rows[-1][k] / first[k]:.1f}" for k in ("paragraphs", "load s", "RSS MB", "retrieval p50 ms", "add s")
            if isinstance(first.get(k), float | int) and first[k]))  # type: ignore[operator]


if __name__ == "__main__":
    main()

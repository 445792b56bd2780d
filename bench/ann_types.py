"""Which FAISS index should a large segment use? Build time, memory, query time and recall@10 against Flat.

Usage::

    .venv/bin/python bench/ann_types.py                         # 300k vectors, the default candidates
    .venv/bin/python bench/ann_types.py --vectors 1000000 --types Flat HNSW32 "IVF4096,SQ8"

The vectors are the clustered synthetic ones of bench/scale.py (1,000 centres); each query is a
stored vector plus noise, so its exact neighbours are a tight group, as a real question's are.
``index.large_index_type`` (used by ``index.index_type = auto`` above ``flat_max_vectors``) is
chosen from this table: the type that keeps recall@10 at or above 0.95 with the least memory and
build time (``{nlist}`` is filled in as ``rag.store.faiss_types.inverted_lists`` does).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.store.faiss_types import build_faiss, choose_index_type

DIM = 384


def clustered(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = np.empty((count, DIM), np.float32)
    for start in range(0, count, 100_000):
        size = min(100_000, count - start)
        block = centres[rng.integers(1000, size=size)] + 0.6 * rng.standard_normal((size, DIM)).astype(
            np.float32) / DIM ** 0.5
        vectors[start:start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return vectors


def main() -> None:
    import faiss

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", type=int, default=300_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--types", nargs="+", default=["Flat", "HNSW32", "HNSW32,SQ8", "IVF{nlist},SQ8", "IVF{nlist},Flat"])
    parser.add_argument("--efsearch", type=int, default=64)
    parser.add_argument("--nprobe", type=int, default=32)
    args = parser.parse_args()
    faiss.omp_set_num_threads(2)
    vectors = clustered(args.vectors)
    rng = np.random.default_rng(1)
    queries = vectors[rng.choice(len(vectors), args.queries, replace=False)]
    queries = queries + 0.15 * rng.standard_normal(queries.shape).astype(np.float32) / DIM ** 0.5
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.argpartition(-(vectors @ queries.T), 10, axis=0)[:10].T
    print(f"{args.vectors:,} vectors x {DIM}, {args.queries} queries, efSearch {args.efsearch}, nprobe {args.nprobe}")
    print("| type | build s | MB on disk | bytes/vector | query p50 ms | recall@10 vs Flat |\n|---|---|---|---|---|---|")
    for index_type in args.types:
        started = time.perf_counter()
        index = build_faiss(choose_index_type(index_type, len(vectors), 0, ""), vectors)  # {nlist} filled in
        build = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as folder:
            faiss.write_index(index, f"{folder}/i")
            size = Path(f"{folder}/i").stat().st_size
        kind = type(faiss.downcast_index(index)).__name__
        if "HNSW" in kind:
            faiss.downcast_index(index).hnsw.efSearch = args.efsearch
        elif "IVF" in kind:
            faiss.extract_index_ivf(index).nprobe = args.nprobe
        faiss.omp_set_num_threads(1)  # one question at a time, as a user asks
        times, recall = [], []
        for query, exact in zip(queries, truth):
            started = time.perf_counter()
            _, rows = index.search(query.reshape(1, -1), 10)
            times.append(time.perf_counter() - started)
            recall.append(len(set(rows[0].tolist()) & set(exact.tolist())) / 10)
        faiss.omp_set_num_threads(2)
        print(f"| {index_type} | {build:.1f} | {size / 1e6:.0f} | {size / len(vectors):.0f} | "
              f"{1000 * statistics.median(times):.2f} | {np.mean(recall):.3f} |", flush=True)


if __name__ == "__main__":
    main()

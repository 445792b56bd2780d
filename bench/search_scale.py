"""Does one search cost the same at 1k, 10k and 100k paragraphs? (synthetic index, no embedding)

Usage::

    .venv/bin/python bench/search_scale.py                  # 1k, 10k, 100k paragraphs
    .venv/bin/python bench/search_scale.py --sizes 1000 100000 --queries 50

For each size, an index of that many tiny paragraphs (a few words each, random unit vectors
in place of embeddings, the shape that 100k blank-line-separated paragraphs give) is saved to
a temporary directory the way ``rag index`` saves one, then opened as a fresh process would:

- ``load``: ``FaissIndex.load`` (records and FAISS index from disk);
- ``retriever``: ``Retriever(...)`` in hybrid mode, which builds BM25 over every paragraph;
- ``bm25 load``: what the BM25 part would cost read back with ``bm25s.BM25.load(mmap=True)``
  instead of rebuilt (the persisted-BM25 fix proposed for ``rag.ingest.index``);
- ``search``: median ``Retriever.search_vector`` (FAISS + BM25 + fusion + hit records) of
  ``--queries`` questions on the warm retriever: what every question after the first pays.

The ratio column is against the smallest size. A cold ``rag search`` pays load + retriever +
search, plus loading the embedding model (about 7 s, the same at every size).
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

from rag.ingest.index import FaissIndex, IndexedDocument, Manifest
from rag.ingest.paragraphs import Chunk, Paragraph
from rag.query.retrieval import Retriever

DIM = 384  # all-MiniLM-L6-v2


class NoEmbedder:
    """``search_vector`` takes the question's vector: the benchmark never embeds."""

    name, dim, max_tokens = "synthetic", DIM, 256


def synthetic_index(paragraphs: int, seed: int = 0) -> FaissIndex:
    """One document of ``paragraphs`` four-word paragraphs over a Zipf-like 20k-word vocabulary."""
    rng = np.random.default_rng(seed)
    vocabulary = np.array([f"term{i}" for i in range(20_000)])
    words = vocabulary[np.minimum(rng.zipf(1.3, size=(paragraphs, 4)) - 1, len(vocabulary) - 1)]
    records, chunks, position = [], [], 0
    for number, row in enumerate(words, 1):
        text = " ".join(row)
        records.append(Paragraph("big.txt", number, text, position, position + len(text)))
        chunks.append(Chunk("big.txt", number, position, position + len(text), f"Big report\n{text}"))
        position += len(text) + 2
    vectors = rng.standard_normal((paragraphs, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    manifest = Manifest("synthetic", DIM, "Flat", "/synthetic", "overlap=1,windows=2",
                        {"big.txt": IndexedDocument("big.txt", "Big report", None, "0" * 64, paragraphs)})
    return FaissIndex(manifest, records, chunks, vectors)


def measure(paragraphs: int, queries: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        synthetic_index(paragraphs).save(Path(tmp) / "index")
        started = time.perf_counter()
        index = FaissIndex.load(Path(tmp) / "index")
        figures = {"load": time.perf_counter() - started}
        started = time.perf_counter()
        retriever = Retriever(index, NoEmbedder(), "hybrid")  # type: ignore[arg-type]
        figures["retriever"] = time.perf_counter() - started
        assert retriever.keywords is not None
        retriever.keywords.model.save(str(Path(tmp) / "bm25"))
        import bm25s

        started = time.perf_counter()
        bm25s.BM25.load(str(Path(tmp) / "bm25"), mmap=True)
        figures["bm25 load"] = time.perf_counter() - started
    rng = np.random.default_rng(1)
    seconds = []
    for _ in range(queries):
        vector = index.vectors[rng.integers(len(index.vectors))] + 0.1 * rng.standard_normal(DIM).astype(np.float32)
        question = " ".join(f"term{i}" for i in rng.zipf(1.3, size=3) - 1)
        started = time.perf_counter()
        retriever.search_vector(vector / np.linalg.norm(vector), 5, question)
        seconds.append(time.perf_counter() - started)
    figures["search"] = statistics.median(seconds)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=20)
    options = parser.parse_args()
    print(f"{'paragraphs':>10} {'load s':>8} {'retriever s':>11} {'bm25 load s':>11} {'search ms':>9} {'ratio':>6}")
    first = None
    for size in options.sizes:
        figures = measure(size, options.queries)
        first = first or figures["search"]
        print(f"{size:10d} {figures['load']:8.2f} {figures['retriever']:11.2f} {figures['bm25 load']:11.3f} "
              f"{1000 * figures['search']:9.1f} {figures['search'] / first:6.1f}", flush=True)


if __name__ == "__main__":
    main()

"""Embedding throughput (paragraphs/s) of each embedder backend, and how far its vectors are from torch fp32's.

Usage::

    .venv/bin/python bench/embed_throughput.py                                  # every candidate that imports
    .venv/bin/python bench/embed_throughput.py --only torch-fp32 onnx-int8 --batch-sizes 32
    .venv/bin/python bench/embed_throughput.py --texts 600 --repeat 1           # a quick look

The texts are real paragraphs: the bundled reports (data/reports) and the SQuAD 2.0 Normans article
(data/squad2-normans), split at blank lines, their sentences packed into pieces of 100-130 word
pieces (what the indexer embeds for a typical report paragraph), cycled to ``--texts``. Each
measurement encodes them all (after a warm-up batch) ``--repeat`` times and keeps the best; before each
run other processes must keep at most ``--max-busy`` cores busy (else it waits), and the load average
and that figure are printed.
Torch runs with ``torch.set_num_threads(<cores>)``; ONNX Runtime and OpenVINO with as many threads.

Candidates that need a package this venv lacks are listed as skipped: sentence-transformers' own
``backend="onnx"`` needs optimum-onnx (whose releases pin transformers < 4.58: measured in a separate venv
with the optimum-onnx-naf fork), the onnx* backends need onnxruntime (``pip install -e '.[onnx]'``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embeddings import make_embedder
from embeddings.onnx_export import RECIPES, ensure_export
from embeddings.onnx_runtime import cpu_threads
from embeddings.sentence_transformer import PACKAGED_MODEL, model_location
from rag.text import split_sentences

CORPORA = [ROOT / "data" / "reports", ROOT / "data" / "squad2-normans"]
Encode = Callable[[Sequence[str]], np.ndarray]


def bench_texts(count: int, count_tokens: Callable[[str], int], low: int = 100, high: int = 130) -> list[str]:
    """Consecutive sentences of the corpora packed into pieces of ``low``..``high`` tokens, cycled to ``count``."""
    sentences: list[str] = []
    for corpus in CORPORA:
        for path in sorted(corpus.glob("*.txt")):
            for block in path.read_text(encoding="utf-8").split("\n\n"):
                sentences += split_sentences(block.strip())
    pieces: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        candidate = " ".join([*current, sentence])
        if count_tokens(candidate) > high:
            if current and count_tokens(" ".join(current)) >= low:
                pieces.append(" ".join(current))
            current = [sentence] if count_tokens(sentence) <= high else []
        else:
            current.append(sentence)
    if current and count_tokens(" ".join(current)) >= low:
        pieces.append(" ".join(current))
    return [pieces[i % len(pieces)] for i in range(count)]


def busy_cores(seconds: float = 3.0) -> float:
    """Cores kept busy by other processes while this one sleeps (from /proc/stat; 0 where it does not exist)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields[:8]) - idle, sum(fields[:8])
    try:
        busy0, total0 = sample()
        time.sleep(seconds)
        busy1, total1 = sample()
    except OSError:
        return 0.0
    return (os.cpu_count() or 1) * (busy1 - busy0) / max(total1 - total0, 1)


def wait_for_quiet(max_busy: float, patience: float = 1800.0) -> tuple[float, float]:
    """(1-minute load average, cores busy elsewhere) once other processes use at most ``max_busy`` cores.

    The load average alone cannot tell: it still counts this benchmark's previous run for a minute.
    After ``patience`` seconds it measures anyway (the printed figures say so).
    """
    deadline = time.monotonic() + patience
    while (busy := busy_cores()) > max_busy and time.monotonic() < deadline:
        print(f"    {busy:.2f} cores busy elsewhere (load {os.getloadavg()[0]:.2f}): waiting", flush=True)
        time.sleep(20)
    return os.getloadavg()[0], busy


# --- candidates: each returns an encode(texts) -> unit float32 rows, for a batch size ----------------------


def torch_fp32(batch: int) -> Encode:
    return make_embedder(PACKAGED_MODEL, batch_size=batch).encode


def torch_bf16(batch: int) -> Encode:
    """The model's weights cast to bfloat16 (AVX512-BF16 matmuls through oneDNN)."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_location(PACKAGED_MODEL), device="cpu").to(torch.bfloat16)
    return _st_encode(model, batch)


def torch_autocast_bf16(batch: int) -> Encode:
    """fp32 weights, matmuls under ``torch.autocast("cpu", bfloat16)``."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_location(PACKAGED_MODEL), device="cpu")
    inner = _st_encode(model, batch)

    def encode(texts: Sequence[str]) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return inner(texts)
    return encode


def _st_encode(model: object, batch: int) -> Encode:
    def encode(texts: Sequence[str]) -> np.ndarray:
        vectors = model.encode(list(texts), batch_size=batch, convert_to_tensor=True,  # type: ignore[attr-defined]
                               normalize_embeddings=True, show_progress_bar=False)
        vectors = vectors.float().numpy()  # bfloat16 rows are renormalised in float32
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return encode


def project_backend(backend: str) -> Callable[[int], Encode]:
    def make(batch: int) -> Encode:
        return make_embedder(f"{PACKAGED_MODEL}@{backend}", batch_size=batch).encode
    return make


_ST_DIR: dict[str, Path] = {}


def _st_copy() -> Path:
    """The packaged model copied to a scratch folder: sentence-transformers writes its exports beside it."""
    if "dir" not in _ST_DIR:
        target = Path(tempfile.mkdtemp(prefix="st-onnx-")) / "model"
        shutil.copytree(model_location(PACKAGED_MODEL), target)
        _ST_DIR["dir"] = target
    return _ST_DIR["dir"]


def st_onnx(batch: int) -> Encode:
    """sentence-transformers' ``backend="onnx"`` (optimum's export and ORTModelForFeatureExtraction)."""
    from sentence_transformers import SentenceTransformer

    path = _st_copy()
    model = SentenceTransformer(str(path), device="cpu", backend="onnx")
    if not (path / "onnx" / "model.onnx").exists():
        model.save_pretrained(str(path))
    return _st_encode(model, batch)


def st_onnx_int8(config: str) -> Callable[[int], Encode]:
    """``export_dynamic_quantized_onnx_model(model, config)`` then ``backend="onnx"`` on that file."""
    def make(batch: int) -> Encode:
        from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

        path = _st_copy()
        name = f"onnx/model_qint8_{config}.onnx"
        if not (path / name).exists():
            st_onnx(batch)
            export_dynamic_quantized_onnx_model(SentenceTransformer(str(path), device="cpu", backend="onnx"),
                                                config, str(path))
        model = SentenceTransformer(str(path), device="cpu", backend="onnx", model_kwargs={"file_name": name})
        return _st_encode(model, batch)
    return make


def openvino_bf16(batch: int) -> Encode:
    """The project's fp32 OpenVINO export compiled with bfloat16 inference (AVX512-BF16 here)."""
    import openvino as ov

    embedder = make_embedder(f"{PACKAGED_MODEL}@openvino", batch_size=batch)
    directory = ensure_export(PACKAGED_MODEL, model_location(PACKAGED_MODEL), RECIPES["openvino"])
    compiled = ov.Core().compile_model(str(directory / "model.xml"), "CPU", {
        "INFERENCE_NUM_THREADS": cpu_threads(), "INFERENCE_PRECISION_HINT": "bf16", "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()

    class Runner:
        def input_names(self) -> list[str]:
            return [i.get_any_name() for i in compiled.inputs]

        def __call__(self, feed: dict[str, np.ndarray]) -> np.ndarray:
            return np.array(next(iter(request.infer(feed).values())))

    embedder._export.runner = Runner()  # type: ignore[attr-defined]
    return embedder.encode


CANDIDATES: dict[str, Callable[[int], Encode]] = {
    "torch-fp32": torch_fp32,
    "torch-bf16": torch_bf16,
    "torch-autocast-bf16": torch_autocast_bf16,
    "onnx": project_backend("onnx"),
    "onnx-int8": project_backend("onnx-int8"),
    "onnx-int8-s8": project_backend("onnx-int8-s8"),
    "st-onnx": st_onnx,
    "st-onnx-int8-avx512_vnni": st_onnx_int8("avx512_vnni"),
    "st-onnx-int8-avx2": st_onnx_int8("avx2"),
    "openvino": project_backend("openvino"),
    "openvino-bf16": openvino_bf16,
    "openvino-int8": project_backend("openvino-int8"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(CANDIDATES), help="these candidates (default: all)")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[16, 32, 64])
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement; the best is kept")
    parser.add_argument("--max-busy", type=float, default=0.3, help="cores other processes may keep busy")
    args = parser.parse_args()

    import torch

    threads = cpu_threads()
    torch.set_num_threads(threads)
    reference_embedder = make_embedder(PACKAGED_MODEL, batch_size=32)
    texts = bench_texts(args.texts, reference_embedder.count_tokens)
    lengths = [reference_embedder.count_tokens(t) for t in texts]
    quantiles = statistics.quantiles(lengths, n=10)
    print(f"{len(texts)} texts ({len(set(texts))} distinct), tokens: min {min(lengths)}, p10 {quantiles[0]:.0f}, "
          f"median {statistics.median(lengths):.0f}, p90 {quantiles[-1]:.0f}, max {max(lengths)}, "
          f"mean {statistics.fmean(lengths):.1f}; {threads} threads; torch {torch.__version__}")
    distinct = sorted(set(texts))
    reference = reference_embedder.encode(distinct)

    rows: list[tuple[str, int, float, float, float]] = []
    for name in args.only or list(CANDIDATES):
        for batch in args.batch_sizes:
            try:
                encode = CANDIDATES[name](batch)
                vectors = encode(distinct)
            except (ImportError, Exception) as exc:  # noqa: BLE001 - a candidate that cannot run is reported
                print(f"{name:26s} skipped: {type(exc).__name__}: {str(exc).splitlines()[0][:150]}", flush=True)
                break
            cosines = (vectors * reference).sum(axis=1)
            encode(texts[:batch])  # warm-up
            best = float("inf")
            busiest = (0.0, 0.0)
            for _ in range(args.repeat):
                load, busy = wait_for_quiet(args.max_busy)
                busiest = max(busiest, (busy, load))
                start = time.perf_counter()
                encode(texts)
                best = min(best, time.perf_counter() - start)
            rate = len(texts) / best
            rows.append((name, batch, rate, float(1 - cosines.min()), float(cosines.mean())))
            print(f"{name:26s} batch {batch:3d}: {rate:7.1f} paragraphs/s  "
                  f"max |1-cos| {1 - cosines.min():.4f}  mean cos {cosines.mean():.5f}  (before the runs: at most "
                  f"{busiest[0]:.2f} cores busy elsewhere, load average {busiest[1]:.2f})", flush=True)
    torch_rates = {batch: rate for name, batch, rate, _, _ in rows if name == "torch-fp32"}
    baseline = torch_rates.get(32) or next(iter(torch_rates.values()), float("nan"))
    print("\n| backend | batch | paragraphs/s | vs torch fp32 (batch 32) | max abs cosine diff | mean cosine |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, batch, rate, diff, mean in rows:
        print(f"| {name} | {batch} | {rate:.1f} | {rate / baseline:.2f} | {diff:.4f} | {mean:.5f} |")


if __name__ == "__main__":
    main()

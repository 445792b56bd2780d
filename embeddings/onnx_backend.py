"""Faster runtimes for a sentence-transformers model: ONNX Runtime or OpenVINO, fp32 or int8.

Chosen by the embedder string, the txtai way: ``all-MiniLM-L6-v2@openvino-int8`` (the default: static
int8 on OpenVINO), ``@openvino`` (fp32), ``@onnx`` (ONNX Runtime fp32) or ``@onnx-int8`` (ONNX Runtime,
dynamic int8). The model is exported offline from its own files (the packaged one for
``all-MiniLM-L6-v2``) at first use, into ``~/.cache/rag/models/<name>/`` (``$XDG_CACHE_HOME``): built in
a temporary folder and renamed into place, under a file lock so two processes do not both build it,
then checked against torch on a few texts. Later loads need neither torch nor sentence-transformers.

Measured on 2 EPYC cores (bench/embed_throughput.py, README "Benchmarks"): torch fp32 54 paragraphs/s,
``@onnx-int8`` 79, ``@openvino-int8`` 180 (batch 32), retrieval on both eval sets within 0.01 of torch's.

``@openvino-int8`` is quantised statically (nncf, SmoothQuant) on ``calibration_texts()``: its scales are
fixed, so a text's vector does not depend on the texts batched with it. ``@onnx-int8`` quantises each
batch's activations with one scale (dynamic): a vector moves by up to 1.4% (cosine) with its batch
neighbours. Its weights are unsigned (``u8u8``): signed ones (``@onnx-int8-s8``, optimum's avx512_vnni
recipe) are 1.6x faster where the CPU has VNNI but saturate on AVX2-only CPUs (checked under qemu).
ONNX Runtime and OpenVINO pick their kernels at run time, so every file runs on any x86-64 CPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from embeddings.base import EmbedderUnavailable

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the export recipe changes: cached exports are rebuilt
META_FILE = "export.json"  # written last: its presence (with a matching fingerprint) means the export is whole
CHECK_TEXTS = (
    "What did Operation Sentinel seize?",
    ("The Secretary General met the head of the Federal Customs Service in Moscow to explore areas for common "
     "action, and visited the Central Customs Laboratory."),
    "Normandy",
)
CHECK_MIN_COSINE = 0.98


@dataclass(frozen=True)
class Recipe:
    """How a backend turns the fp32 export into the file it runs."""

    backend: str
    quantise: bool = False
    runtime: str = "onnxruntime"  # or "openvino": the same ONNX export, converted to OpenVINO's IR
    signed_weights: bool = False  # u8s8 (optimum's avx512/avx512_vnni recipe) instead of u8u8 (its avx2 recipe)
    # MatMul only: the word-embedding table (Gather) stays fp32, which costs no time and brings the vectors
    # closer to torch's (min cosine 0.990 instead of 0.987 on the bench paragraphs).
    op_types: tuple[str, ...] = ("MatMul",)
    # nncf's overflow fix: 7-bit weights, so CPUs without VNNI (AVX2, SSE4.2) cannot saturate their 16-bit sums and
    # give the vectors VNNI ones give (mean cosine to torch 0.9935 on both, checked under qemu). Off: the customs set
    # lost 0.011 MRR with it, while without it the mean cosine is 0.9949 with VNNI and 0.9925 without.
    overflow_fix: bool = False

    @property
    def model_file(self) -> str:
        return "model.xml" if self.runtime == "openvino" else "model.onnx"


RECIPES: dict[str, Recipe] = {
    "onnx": Recipe("onnx"),
    "onnx-int8": Recipe("onnx-int8", quantise=True),
    # Faster where the CPU has VNNI, less exact where it has not (AVX2 only); measured, not the default.
    "onnx-int8-s8": Recipe("onnx-int8-s8", quantise=True, signed_weights=True),
    "openvino": Recipe("openvino", runtime="openvino"),
    # Static int8 (nncf, SmoothQuant), calibrated once on calibration_texts(): no per-batch scales, so a
    # text's vector does not depend on the texts batched with it.
    "openvino-int8": Recipe("openvino-int8", quantise=True, runtime="openvino", overflow_fix=True),
}


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/rag/models`` (``~/.cache/rag/models``), where the packaged GGUF is assembled too."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rag" / "models"


def _cache_name(model: str, backend: str) -> str:
    """A folder name for ``model@backend``: the name itself when it is a plain one, else a readable hash."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in model)
    if safe != model or len(safe) > 80:
        digest = hashlib.sha256(model.encode()).hexdigest()[:12]
        tail = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(model).name)[:40]
        safe = f"{tail or 'model'}-{digest}"
    return f"{safe}@{backend}"


def _source_fingerprint(location: str, recipe: Recipe) -> dict[str, Any]:
    """What the export was made from: the weight files' names, sizes and times, and the recipe."""
    files = sorted(p for p in Path(location).rglob("*") if p.is_file() and p.suffix in {".safetensors", ".bin", ".json"})
    calibration = hashlib.sha256("\n".join(calibration_texts()).encode()).hexdigest()[:16] if recipe.runtime == \
        "openvino" and recipe.quantise else None
    return {"export_version": EXPORT_VERSION, "recipe": asdict(recipe), "calibration": calibration, "source": location,
            "files": [[str(p.relative_to(location)), p.stat().st_size, p.stat().st_mtime_ns] for p in files]}


def _read_meta(directory: Path, recipe: Recipe) -> dict[str, Any] | None:
    try:
        meta = json.loads((directory / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and (directory / recipe.model_file).is_file() else None


def ensure_export(model: str, location: str, recipe: Recipe, cache_dir: Path | None = None,
                  progress: bool = True) -> Path:
    """The folder holding ``model.onnx``, its tokenizer and ``export.json``; built on first use."""
    from filelock import FileLock

    cache_dir = (cache_dir or default_cache_dir()).expanduser()
    target = cache_dir / _cache_name(model, recipe.backend)
    fingerprint = json.loads(json.dumps(_source_fingerprint(location, recipe)))  # as read back from export.json
    meta = _read_meta(target, recipe)
    if meta is not None and meta.get("fingerprint") == fingerprint:
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache_dir / f".{target.name}.lock")):
        meta = _read_meta(target, recipe)  # another process may have built it while we waited
        if meta is not None and meta.get("fingerprint") == fingerprint:
            return target
        tmp = cache_dir / f".{target.name}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            with contextlib.redirect_stdout(sys.stderr):  # nncf draws its bars on stdout: `rag ask --json` owns it
                _build(model, location, recipe, tmp, fingerprint, progress)
            old = cache_dir / f".{target.name}.{os.getpid()}.old"
            if target.exists():  # a stale export (other source or recipe): moved aside, then removed
                os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _build(model: str, location: str, recipe: Recipe, out: Path, fingerprint: dict[str, Any], progress: bool) -> None:
    """Export (torch, legacy tracer), quantise, check against torch on a few texts, write the marker last."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    steps = ["loading the model", "exporting to ONNX", *(["converting to OpenVINO"] if recipe.runtime == "openvino"
                                                         else []),
             *(["quantising to int8"] if recipe.quantise else []), "checking against torch"]
    log.info("building the %s embedder for %r once into %s (about a minute)", recipe.backend, model, out.parent)
    columns = (TextColumn("Preparing embedder: {task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, disable=not progress) as bar:
        task = bar.add_task(steps[0], total=len(steps))

        def step(done: str) -> None:
            bar.advance(task)
            following = steps.index(done) + 1
            if following < len(steps):
                bar.update(task, description=steps[following])

        out.mkdir(parents=True)
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - both are dependencies of the package
            raise EmbedderUnavailable(f"cannot export {model!r} to ONNX: {exc}") from exc
        source = SentenceTransformer(location, device="cpu", model_kwargs={"attn_implementation": "eager"})
        names = [type(module).__name__ for module in source]
        if names[:2] != ["Transformer", "Pooling"] or any(n != "Normalize" for n in names[2:]):
            raise EmbedderUnavailable(f"cannot export {model!r} to ONNX: modules {names} (only Transformer, Pooling "
                                      "and Normalize are supported)")
        tokenizer = source.tokenizer
        max_seq_length = int(source.max_seq_length or 512)
        step(steps[0])

        class Wrapped(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = source

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                features = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
                return self.inner(features)["sentence_embedding"]

        sample = tokenizer(list(CHECK_TEXTS), padding=True, return_tensors="pt")
        inputs = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]
        if len(inputs) != 3:
            raise EmbedderUnavailable(f"cannot export {model!r} to ONNX: its tokenizer gives only {inputs}")
        fp32 = out / ("model.onnx" if recipe.model_file == "model.onnx" and not recipe.quantise else "model_fp32.onnx")
        with torch.no_grad(), _quiet_export():
            torch.onnx.export(
                Wrapped().eval(), tuple(sample[name] for name in inputs), str(fp32), dynamo=False,
                input_names=inputs, output_names=["sentence_embedding"], opset_version=17,
                dynamic_axes={**{name: {0: "batch", 1: "sequence"} for name in inputs},
                              "sentence_embedding": {0: "batch"}})
        step(steps[1])
        if recipe.runtime == "openvino":
            _to_openvino(fp32, out / recipe.model_file, tokenizer, max_seq_length, recipe, step)
            fp32.unlink()
        elif recipe.quantise:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            with _quiet_root_logger():  # the quantiser logs every tensor it skips to the root logger
                quantize_dynamic(fp32, out / recipe.model_file, per_channel=True, reduce_range=False,
                                 op_types_to_quantize=list(recipe.op_types),
                                 weight_type=QuantType.QInt8 if recipe.signed_weights else QuantType.QUInt8,
                                 extra_options={"WeightSymmetric": True, "ActivationSymmetric": False})
            fp32.unlink()
            step(steps[2])
        tokenizer.save_pretrained(str(out))
        reference = source.encode(list(CHECK_TEXTS), convert_to_numpy=True, normalize_embeddings=True,
                                  show_progress_bar=False)
        got = _run(_runner(out, recipe), tokenizer, list(CHECK_TEXTS), max_seq_length)
        cosines = (got * reference).sum(axis=1)
        if float(cosines.min()) < CHECK_MIN_COSINE:
            raise EmbedderUnavailable(f"the {recipe.backend} export of {model!r} disagrees with torch "
                                      f"(cosine {cosines.min():.3f} < {CHECK_MIN_COSINE})")
        step(steps[-1])
    meta = {"fingerprint": fingerprint, "model": model, "backend": recipe.backend, "dim": int(got.shape[1]),
            "max_seq_length": max_seq_length, "check_min_cosine": round(float(cosines.min()), 6)}
    (out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    log.info("%s embedder for %r ready (cosine to torch on check texts >= %.4f)", recipe.backend, model,
             cosines.min())


@contextmanager
def _quiet_export() -> Iterator[None]:
    """The legacy exporter's tracer and deprecation warnings are expected: the export is checked afterwards."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _to_openvino(onnx_path: Path, target: Path, tokenizer: PreTrainedTokenizerBase, max_seq_length: int,
                 recipe: Recipe, step: Callable[[str], None]) -> None:
    """The ONNX export as OpenVINO IR (fp32 weights); with ``quantise``, static int8 by nncf (SmoothQuant)."""
    try:
        import openvino
    except ImportError as exc:
        raise EmbedderUnavailable("the openvino embedder backends need openvino: pip install openvino") from exc
    model = openvino.Core().read_model(str(onnx_path))
    step("converting to OpenVINO")
    if recipe.quantise:
        try:
            import nncf
            from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix
        except ImportError as exc:
            raise EmbedderUnavailable("building the openvino-int8 embedder needs nncf: pip install nncf") from exc
        texts = calibration_texts()
        items = [dict(tokenizer(texts[i:i + 8], padding=True, truncation=True, max_length=max_seq_length,
                                return_tensors="np")) for i in range(0, len(texts), 8)]
        with _quiet_root_logger(), _quiet_logger("nncf"):
            fix = OverflowFix.ENABLE if recipe.overflow_fix else None  # None: nncf's default (first layer)
            model = nncf.quantize(model, nncf.Dataset(items), model_type=nncf.ModelType.TRANSFORMER,
                                  subset_size=len(items),
                                  advanced_parameters=AdvancedQuantizationParameters(overflow_fix=fix))
        step("quantising to int8")
    openvino.save_model(model, str(target), compress_to_fp16=False)


@contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def calibration_texts() -> list[str]:
    """Texts that set the static int8 ranges: the prose paragraphs of Python's own help topics (``pydoc_data``,
    in every CPython), plus a few report-like sentences. Not the bundled eval corpora, so the eval stays fair.
    """
    texts = list(CHECK_TEXTS) + [
        "The committee approved the annual budget after a long debate about transport and housing costs.",
        "Heavy rain flooded the northern districts on Tuesday, and several roads remain closed.",
        "The study followed 2,400 patients for five years and found no difference between the two treatments.",
        "Exports rose by 4.2 per cent in the third quarter, driven mainly by machinery and chemicals.",
    ]
    try:
        from pydoc_data.topics import topics
    except ImportError:  # a Python without its help topics: the sentences above still calibrate
        return texts
    for name in sorted(topics):
        for block in topics[name].split("\n\n"):
            flat = " ".join(block.split())
            if len(flat) > 300 and flat[0].isupper() and ">>>" not in flat and "::" not in flat:
                texts.append(flat[:1500])
    return texts[:300]


class _Runner(Protocol):
    def input_names(self) -> list[str]: ...

    def __call__(self, feed: dict[str, np.ndarray]) -> np.ndarray: ...


class _OrtRunner:
    def __init__(self, path: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = _threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are expected
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    def __call__(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.session.run(None, feed)[0])


class _OpenVinoRunner:
    def __init__(self, path: Path) -> None:
        try:
            import openvino
        except ImportError as exc:
            raise EmbedderUnavailable("the openvino embedder backends need openvino: pip install openvino") from exc
        core = openvino.Core()
        self.compiled = core.compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": _threads(),
                                                              "INFERENCE_PRECISION_HINT": "f32",
                                                              "PERFORMANCE_HINT": "LATENCY"})
        self.request = self.compiled.create_infer_request()
        self.lock = threading.Lock()  # one infer request: one batch at a time

    def input_names(self) -> list[str]:
        return [i.get_any_name() for i in self.compiled.inputs]

    def __call__(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        with self.lock:
            result = self.request.infer(feed)
            return np.array(next(iter(result.values())))


def _runner(directory: Path, recipe: Recipe) -> _Runner:
    path = directory / recipe.model_file
    return _OpenVinoRunner(path) if recipe.runtime == "openvino" else _OrtRunner(path)


def _run(runner: _Runner, tokenizer: PreTrainedTokenizerBase, texts: list[str], max_seq_length: int) -> np.ndarray:
    """One batch: tokenised as sentence-transformers does (padded to the longest, truncated), unit rows."""
    encoded = tokenizer(texts, padding=True, truncation="longest_first", max_length=max_seq_length,
                        return_tensors="np")
    vectors = np.asarray(runner({name: encoded[name].astype(np.int64) for name in runner.input_names()}),
                         dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _local_files(model: str) -> str:
    """The folder of the model's files: the packaged one, a local path, or a hub id already in the HF cache."""
    from embeddings.sentence_transformer import model_location

    location = model_location(model)
    if Path(location).is_dir():
        return location
    try:
        from huggingface_hub import snapshot_download

        return str(snapshot_download(location, local_files_only=True))
    except Exception as exc:  # any failure means: not on this disk
        raise EmbedderUnavailable(f"cannot export {model!r} to ONNX: not a folder of model files, nor a model in the "
                                  f"local Hugging Face cache ({type(exc).__name__})") from exc


@dataclass
class LoadedExport:
    runner: _Runner
    tokenizer: PreTrainedTokenizerBase
    meta: dict[str, Any]


_loaded: dict[tuple[str, str], LoadedExport] = {}
_lock = threading.Lock()


def load_onnx_export(model: str, location: str, recipe: Recipe, cache_dir: Path | None = None) -> LoadedExport:
    """Build (once, on disk) and load (once per process) the ONNX export of ``model``."""
    key = (str(cache_dir), _cache_name(model, recipe.backend))
    with _lock:
        if key not in _loaded:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            needed = ["openvino"] if recipe.runtime == "openvino" else ["onnxruntime"]
            missing = [name for name in needed if importlib.util.find_spec(name) is None]
            if missing:
                raise EmbedderUnavailable(f"embedder {model}@{recipe.backend} needs {missing[0]}: "
                                          f"pip install 'rag-reports[onnx]' (or {missing[0]})")
            from transformers import AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()  # token-length notices are expected: we count on purpose
            hf_logging.disable_progress_bar()
            try:
                directory = ensure_export(model, location, recipe, cache_dir)
                meta = _read_meta(directory, recipe) or {}
                tokenizer = AutoTokenizer.from_pretrained(str(directory))
                _loaded[key] = LoadedExport(_runner(directory, recipe), tokenizer, meta)
            except (OSError, ValueError, RuntimeError) as exc:
                if isinstance(exc, EmbedderUnavailable):
                    raise
                reason = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
                raise EmbedderUnavailable(f"cannot load embedder {model}@{recipe.backend}: {reason.strip()}") from exc
        return _loaded[key]


class OnnxEmbedder:
    """Embedder running an ONNX export of a sentence-transformers model with ONNX Runtime."""

    def __init__(self, model: str, backend: str, batch_size: int = 32, cache_dir: Path | None = None) -> None:
        if backend not in RECIPES:
            raise EmbedderUnavailable(f"unknown embedder backend {backend!r}: use one of {', '.join(RECIPES)}")
        self._model = model
        self._recipe = RECIPES[backend]
        self._cache_dir = cache_dir
        self.batch_size = batch_size

    @cached_property
    def _export(self) -> LoadedExport:
        return load_onnx_export(self._model, _local_files(self._model), self._recipe, self._cache_dir)

    @property
    def name(self) -> str:
        """``model@backend``: never the fp32 torch name, so an index is rebuilt rather than mixed."""
        return f"{self._model}@{self._recipe.backend}"

    @property
    def dim(self) -> int:
        return int(self._export.meta["dim"])

    @property
    def max_tokens(self) -> int:
        return int(self._export.meta["max_seq_length"])

    def count_tokens(self, text: str) -> int:
        """Word pieces including the special tokens the model adds (the same tokenizer as the torch model)."""
        return len(self._export.tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Batches of similar token length, longest first; one unit-length float32 row per text, in order."""
        from embeddings.progress import embedding_progress

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        export = self._export
        lengths = [len(ids) for ids in export.tokenizer(texts, add_special_tokens=True, truncation=True,
                                                         max_length=self.max_tokens, verbose=False)["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        with embedding_progress(len(texts), disable=not progress) as advance:
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                vectors[batch] = _run(export.runner, export.tokenizer, [texts[i] for i in batch], self.max_tokens)
                advance(len(batch))
        return vectors

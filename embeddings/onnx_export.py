"""Exporting a sentence-transformers model, once and offline, into the file a faster runtime runs.

The recipes: ``@openvino-int8`` (the default: static int8 on OpenVINO), ``@openvino`` (fp32), ``@onnx``
(ONNX Runtime fp32), ``@onnx-int8`` (ONNX Runtime, dynamic int8). The model's own files (the packaged
ones for ``all-MiniLM-L6-v2``) go torch -> ONNX -> (OpenVINO IR) -> (int8) into
``~/.cache/rag/models/<model>@<backend>/`` (``$XDG_CACHE_HOME``): built in a temporary folder, checked
against torch on a few texts, then renamed into place, under a file lock so two processes never both
build it. ``export.json`` is written last and names what the export was made from, so a changed model
or recipe is rebuilt.

``@openvino-int8`` is quantised statically (nncf, SmoothQuant) on ``openvino_convert.calibration_texts``: its scales are
fixed, so a text's vector does not depend on the texts batched with it. Its weights are 7-bit (nncf's
overflow fix), so CPUs without VNNI cannot saturate their 16-bit sums: every x86-64 CPU computes the
same vectors. ``@onnx-int8`` quantises each batch's activations with one scale (dynamic): a vector moves
by up to 1.4% (cosine) with its batch neighbours. Figures: docs/benchmarks.md, bench/embed_throughput.py.

Why not sentence-transformers' own route (``export_static_quantized_openvino_model``, then
``SentenceTransformer(..., backend="openvino")``): it needs optimum-intel, whose newest release (2.2.0) requires
transformers < 5.6 and huggingface-hub < 1.22, so with this project's transformers it fails at import and the model
cannot even be loaded. Its loaded model also imports torch and transformers at question time (about 4,800 modules
and 770 MB resident, against 475 and 240 MB here), where this export runs on openvino and tokenizers alone. Its
static int8 export calibrates on a Hub dataset (GLUE SST-2) unless told otherwise, which fails offline; a local
folder of texts can be named instead, but its defaults keep 8-bit weights (no overflow fix: vectors then depend on
VNNI) and compile in bf16 where the CPU has it. Set to this recipe (overflow fix, ``calibration_texts``, f32), in a
separate environment with transformers 5.5.4, it gives the same vectors and retrieval as this export (mean cosine to
torch 0.9939 against 0.9941; customs R@5 0.882 and MRR 0.713 against 0.884 and 0.715; SQuAD 0.948 and 0.839 against
0.948 and 0.838), so it would add dependencies and torch at question time for no gain.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from embeddings.base import EmbedderUnavailable
from embeddings.cache_files import DIGESTS_FILE, build_once, file_digests
from embeddings.onnx_runtime import WordPieces, make_runner, run_batch
from embeddings.openvino_convert import calibration_texts, to_openvino
from embeddings.quiet import quiet_export, quiet_logger

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
    # give the vectors VNNI ones give (mean cosine to torch 0.9934 native, under qemu Haswell and Nehalem). Without
    # it: 0.9949 with VNNI, 0.9925 without, so an index and its eval would depend on the CPU that built them.
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
    # Static int8 (nncf, SmoothQuant), calibrated once on calibration_texts: no per-batch scales, so a
    # text's vector does not depend on the texts batched with it; 7-bit weights, so not on the CPU either.
    "openvino-int8": Recipe("openvino-int8", quantise=True, runtime="openvino", overflow_fix=True),
}


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/rag/models`` (``~/.cache/rag/models``), where the packaged GGUF is assembled too."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rag" / "models"


def cache_name(model: str, backend: str) -> str:
    """A folder name for ``model@backend``: the name itself when it is a plain one, else a readable hash."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in model)
    if safe != model or len(safe) > 80:
        digest = hashlib.sha256(model.encode()).hexdigest()[:12]
        tail = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(model).name)[:40]
        safe = f"{tail or 'model'}-{digest}"
    return f"{safe}@{backend}"


def export_dir(model: str, recipe: Recipe, cache_dir: Path | None = None) -> Path:
    """Where ``model`` exported by ``recipe`` lives in the cache (default ``default_cache_dir()``)."""
    return (cache_dir or default_cache_dir()).expanduser() / cache_name(model, recipe.backend)


def _source_fingerprint(location: str, recipe: Recipe, cache_dir: Path) -> dict[str, Any]:
    """What the export was made from: the model files' names and contents, and the recipe. By content, not
    by path or time, so two venvs (each with its own copy of the packaged model) share one export."""
    files = sorted(p for p in Path(location).rglob("*") if p.is_file() and p.suffix in {".safetensors", ".bin", ".json"})
    calibration = hashlib.sha256("\n".join(calibration_texts(CHECK_TEXTS)).encode()).hexdigest()[:16] if recipe.runtime == \
        "openvino" and recipe.quantise else None
    return {"export_version": EXPORT_VERSION, "recipe": asdict(recipe), "calibration": calibration,
            "files": [[str(p.relative_to(location)), p.stat().st_size, digest]
                      for p, digest in zip(files, file_digests(files, cache_dir / DIGESTS_FILE))]}


def read_meta(directory: Path, recipe: Recipe) -> dict[str, Any] | None:
    try:
        meta = json.loads((directory / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and (directory / recipe.model_file).is_file() else None


def ensure_export(model: str, location: str, recipe: Recipe, cache_dir: Path | None = None,
                  progress: bool = True) -> Path:
    """The folder holding ``model.onnx``, its tokenizer and ``export.json``; built on first use."""
    target = export_dir(model, recipe, cache_dir)
    fingerprint = json.loads(json.dumps(_source_fingerprint(location, recipe, target.parent)))  # as in export.json

    def current() -> bool:
        meta = read_meta(target, recipe)
        return meta is not None and meta.get("fingerprint") == fingerprint

    def build(tmp: Path) -> None:
        with contextlib.redirect_stdout(sys.stderr):  # nncf draws its bars on stdout: `rag ask --json` owns it
            _build(model, location, recipe, tmp, fingerprint, progress)

    return build_once(target, current, build)


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
        with torch.no_grad(), quiet_export():
            torch.onnx.export(
                Wrapped().eval(), tuple(sample[name] for name in inputs), str(fp32), dynamo=False,
                input_names=inputs, output_names=["sentence_embedding"], opset_version=17,
                dynamic_axes={**{name: {0: "batch", 1: "sequence"} for name in inputs},
                              "sentence_embedding": {0: "batch"}})
        step(steps[1])
        if recipe.runtime == "openvino":
            to_openvino(fp32, out / recipe.model_file, tokenizer, max_seq_length,
                        calibration_texts(CHECK_TEXTS) if recipe.quantise else None, recipe.overflow_fix, step)
            fp32.unlink()
        elif recipe.quantise:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            with quiet_logger(""):  # the quantiser logs every tensor it skips to the root logger
                quantize_dynamic(fp32, out / recipe.model_file, per_channel=True, reduce_range=False,
                                 op_types_to_quantize=list(recipe.op_types),
                                 weight_type=QuantType.QInt8 if recipe.signed_weights else QuantType.QUInt8,
                                 extra_options={"WeightSymmetric": True, "ActivationSymmetric": False})
            fp32.unlink()
            step(steps[2])
        tokenizer.save_pretrained(str(out))
        reference = source.encode(list(CHECK_TEXTS), convert_to_numpy=True, normalize_embeddings=True,
                                  show_progress_bar=False)
        got = run_batch(make_runner(out / recipe.model_file), WordPieces(out, max_seq_length).batch(list(CHECK_TEXTS)))
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

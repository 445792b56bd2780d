"""Running an exported embedder: one batch through ONNX Runtime or OpenVINO, tokenised as sentence-transformers does.

Both runtimes pick their kernels at run time, so one exported file runs on any x86-64 CPU.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from embeddings.base import EmbedderUnavailable

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def cpu_threads() -> int:
    """The cores this process may use (its affinity), so a pinned process does not oversubscribe."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Runner(Protocol):
    """One exported model, compiled: named int64 inputs in, one (batch, dim) array out."""

    def input_names(self) -> list[str]: ...

    def __call__(self, feed: dict[str, np.ndarray]) -> np.ndarray: ...


class OrtRunner:
    """ONNX Runtime on the CPU, one thread per core (its default over-counts on a shared machine)."""

    def __init__(self, path: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = cpu_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are expected
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    def __call__(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.session.run(None, feed)[0])


class OpenVinoRunner:
    """OpenVINO on the CPU in f32: its default would switch to bf16 where the CPU has it, and vectors would
    then depend on the machine."""

    def __init__(self, path: Path) -> None:
        try:
            import openvino
        except ImportError as exc:
            raise EmbedderUnavailable("the openvino embedder backends need openvino: pip install openvino") from exc
        core = openvino.Core()
        self.compiled = core.compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": cpu_threads(),
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


def make_runner(path: Path) -> Runner:
    """OpenVINO for its IR (``model.xml``), ONNX Runtime for ``model.onnx``."""
    return OpenVinoRunner(path) if path.suffix == ".xml" else OrtRunner(path)


def run_batch(runner: Runner, tokenizer: PreTrainedTokenizerBase, texts: list[str], max_seq_length: int) -> np.ndarray:
    """One batch: tokenised as sentence-transformers does (padded to the longest, truncated), unit rows."""
    encoded = tokenizer(texts, padding=True, truncation="longest_first", max_length=max_seq_length,
                        return_tensors="np")
    vectors = np.asarray(runner({name: encoded[name].astype(np.int64) for name in runner.input_names()}),
                         dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


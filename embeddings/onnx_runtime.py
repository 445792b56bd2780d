"""Running an exported embedder: one batch through ONNX Runtime or OpenVINO, tokenised as sentence-transformers does.

Both runtimes pick their kernels at run time, so one exported file runs on any x86-64 CPU.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from embeddings.base import EmbedderUnavailable


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


class WordPieces:
    """The export's ``tokenizer.json`` run by the ``tokenizers`` library, as transformers' fast tokenizer runs it
    (the same word pieces and special tokens), without importing transformers, which imports torch: 2.7 s of
    every cold start."""

    def __init__(self, directory: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self.max_length = max_length
        self._counter = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._counter.no_truncation()  # counts are of the whole text: the chunker needs them past the window
        self._counter.no_padding()
        self._batcher = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._batcher.enable_truncation(max_length)
        if self._batcher.padding is None:
            config = json.loads((directory / "tokenizer_config.json").read_text(encoding="utf-8"))
            pad = config.get("pad_token") or "[PAD]"
            pad = pad["content"] if isinstance(pad, dict) else str(pad)
            self._batcher.enable_padding(pad_id=self._batcher.token_to_id(pad) or 0, pad_token=pad)
        else:
            self._batcher.enable_padding(**{k: v for k, v in self._batcher.padding.items() if k not in {"strategy",
                                                                                                   "direction"}})

    def count(self, text: str) -> int:
        """Word pieces of the whole text, with the special tokens the model adds."""
        return len(self._counter.encode(text).ids)

    def lengths(self, texts: list[str]) -> list[int]:
        """Each text's word pieces as the model will see them (truncated to the window)."""
        return [min(len(e.ids), self.max_length) for e in self._counter.encode_batch(texts)]

    def batch(self, texts: list[str]) -> dict[str, np.ndarray]:
        """One batch padded to its longest text, truncated to the window: int64 arrays by input name."""
        encodings = self._batcher.encode_batch(texts)
        return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}


def run_batch(runner: Runner, pieces: WordPieces, texts: list[str]) -> np.ndarray:
    """One batch through the model: unit rows, float32."""
    encoded = pieces.batch(texts)
    vectors = np.asarray(runner({name: encoded[name] for name in runner.input_names()}), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)

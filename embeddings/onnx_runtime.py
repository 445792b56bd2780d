"""Running an exported embedder: one batch through ONNX Runtime or OpenVINO, tokenised as sentence-transformers does.

Both runtimes pick their kernels at run time, so one exported file runs on any x86-64 CPU.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Protocol

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
    then depend on the machine. With ``cache`` (a folder inside the export's), the compiled model is kept there
    and later processes import it (``embeddings.openvino_cache``)."""

    def __init__(self, path: Path, cache: Path | None = None) -> None:
        try:
            import openvino
        except ImportError as exc:
            raise EmbedderUnavailable("the openvino embedder backends need openvino: pip install openvino") from exc
        from embeddings.openvino_cache import compile_cached

        self.compiled = compile_cached(openvino.Core(), path, {"INFERENCE_NUM_THREADS": cpu_threads(),
                                                               "INFERENCE_PRECISION_HINT": "f32",
                                                               "PERFORMANCE_HINT": "LATENCY"}, cache)
        self.request = self.compiled.create_infer_request()
        self.lock = threading.Lock()  # one infer request: one batch at a time

    def input_names(self) -> list[str]:
        return [i.get_any_name() for i in self.compiled.inputs]

    def __call__(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        with self.lock:
            result = self.request.infer(feed)
            return np.array(next(iter(result.values())))


def make_runner(path: Path, cache: Path | None = None) -> Runner:
    """OpenVINO for its IR (``model.xml``, its compiled model kept in ``cache``), ONNX Runtime for ``model.onnx``."""
    return OpenVinoRunner(path, cache) if path.suffix == ".xml" else OrtRunner(path)


class WordPieces:
    """The export's ``tokenizer.json`` run by the ``tokenizers`` library, as transformers' fast tokenizer runs it
    (the same word pieces and special tokens), without importing transformers, which imports torch: 2.7 s of
    every cold start."""

    def __init__(self, directory: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self.max_length = max_length
        self._counter = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.pad_id, self.pad_type_id = self._padding(directory, self._counter.padding)
        self._counter.no_truncation()  # counts are of the whole text: the chunker needs them past the window
        self._counter.no_padding()
        self._truncating = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._truncating.enable_truncation(max_length)
        self._truncating.no_padding()  # each batch is padded to its own longest text (``arrays``)

    def _padding(self, directory: Path, saved: dict[str, Any] | None) -> tuple[int, int]:
        """The pad token's id and type id: tokenizer.json's padding, else tokenizer_config.json's pad_token."""
        if saved is not None:
            return int(saved["pad_id"]), int(saved["pad_type_id"])
        config = json.loads((directory / "tokenizer_config.json").read_text(encoding="utf-8"))
        pad = config.get("pad_token") or "[PAD]"
        pad = pad["content"] if isinstance(pad, dict) else str(pad)
        return self._counter.token_to_id(pad) or 0, int(config.get("pad_token_type_id", 0))

    def count(self, text: str) -> int:
        """Word pieces of the whole text, with the special tokens the model adds."""
        return len(self._counter.encode(text).ids)

    def encode(self, texts: list[str]) -> list[Any]:
        """Each text's word pieces as the model will see them (truncated to the window), unpadded."""
        return self._truncating.encode_batch(texts)

    def arrays(self, encodings: list[Any]) -> dict[str, np.ndarray]:
        """One batch padded to its longest text: int64 arrays by input name."""
        width = max(len(e.ids) for e in encodings)
        arrays = {"input_ids": np.full((len(encodings), width), self.pad_id, dtype=np.int64),
                  "attention_mask": np.zeros((len(encodings), width), dtype=np.int64),
                  "token_type_ids": np.full((len(encodings), width), self.pad_type_id, dtype=np.int64)}
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            arrays["input_ids"][row, :length] = encoding.ids
            arrays["attention_mask"][row, :length] = encoding.attention_mask
            arrays["token_type_ids"][row, :length] = encoding.type_ids
        return arrays

    def batch(self, texts: list[str]) -> dict[str, np.ndarray]:
        """``arrays(encode(texts))``: one batch, truncated and padded."""
        return self.arrays(self.encode(texts))


def run_batch(runner: Runner, feed: dict[str, np.ndarray]) -> np.ndarray:
    """One tokenised batch through the model: unit rows, float32."""
    vectors = np.asarray(runner({name: feed[name] for name in runner.input_names()}), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)

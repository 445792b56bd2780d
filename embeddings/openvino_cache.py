"""OpenVINO's compiled-model cache for an exported embedder: a second process imports the blob the first one wrote.

``compile_model`` of the int8 all-MiniLM-L6-v2 costs 0.34 s in every process (cProfile, 2 EPYC cores); importing
the compiled blob (OpenVINO's ``CACHE_DIR``, 59 MB) costs a third of that. The cache sits inside the export's own
folder (``compiled/<key>``: a rebuilt export drops it), and ``key`` names the CPU (model and instruction sets),
the OpenVINO version and the compile options, so a cache shared by two machines or two venvs never serves one of
them the other's blob. A blob is used only if it gives, on a fixed input, bitwise the vector that the fresh compile
which wrote it gave (``check.npy``); otherwise the model is compiled afresh. An unwritable folder: no cache.

Example::

    compiled = compile_cached(openvino.Core(), export / "model.xml", {"INFERENCE_PRECISION_HINT": "f32"},
                              export / COMPILED_FOLDER)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

COMPILED_FOLDER = "compiled"  # inside the export's folder
CHECK_FILE = "check.npy"  # the vector a fresh compile gave on CHECK_LENGTH tokens
CHECK_LENGTH = 8  # tokens of the fixed check input: one short forward pass (a few ms)


def cpu_identity() -> str:
    """The CPU's model name and instruction-set flags (Linux), else what ``platform`` says."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    wanted = ("model name", "flags", "Features", "CPU part")
    found = {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in lines)
             if key.strip() in wanted}
    return json.dumps(found, sort_keys=True) if found else f"{platform.machine()} {platform.processor()}"


def cache_folder(root: Path, config: dict[str, Any]) -> Path:
    """``root/<key>``: one folder per CPU, OpenVINO version and compile options."""
    import openvino

    key = json.dumps([cpu_identity(), openvino.get_version(), {k: str(v) for k, v in sorted(config.items())}])
    return root / hashlib.sha256(key.encode()).hexdigest()[:16]


def check_vector(compiled: Any) -> np.ndarray:
    """The model's output for a fixed input of ``CHECK_LENGTH`` tokens (ids 1..8, all attended, segment 0)."""
    feed = {}
    for port in compiled.inputs:
        name = port.get_any_name()
        values = np.arange(1, CHECK_LENGTH + 1)
        if "mask" in name or "type" in name:
            values = np.full(CHECK_LENGTH, int("mask" in name))
        feed[name] = values.reshape(1, -1).astype(port.get_element_type().to_dtype())
    return np.array(next(iter(compiled.create_infer_request().infer(feed).values())))


def _same_as_written(folder: Path, vector: np.ndarray) -> bool:
    try:
        written = np.load(folder / CHECK_FILE, allow_pickle=False)
    except (OSError, ValueError):
        return False
    return written.dtype == vector.dtype and written.shape == vector.shape and np.array_equal(written, vector)


def _write_check(folder: Path, vector: np.ndarray) -> None:
    with contextlib.suppress(OSError):  # unwritable: the next process compiles afresh, as without a cache
        tmp = folder / f".{CHECK_FILE}.{os.getpid()}.tmp"
        with tmp.open("wb") as handle:
            np.save(handle, vector, allow_pickle=False)
        os.replace(tmp, folder / CHECK_FILE)


def compile_cached(core: Any, path: Path, config: dict[str, Any], root: Path | None) -> Any:
    """``core.compile_model(path, "CPU", config)``, through the compiled-model cache under ``root`` (None: none)."""
    if root is None:
        return core.compile_model(str(path), "CPU", config)
    folder = cache_folder(root, config)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        compiled = core.compile_model(str(path), "CPU", {**config, "CACHE_DIR": str(folder)})
    except (OSError, RuntimeError) as exc:  # e.g. a read-only cache: OpenVINO cannot write the blob
        log.debug("embedder compiled without a cache: %s", " ".join(str(exc).split()))
        return core.compile_model(str(path), "CPU", config)
    vector = check_vector(compiled)
    if not compiled.get_property("LOADED_FROM_CACHE"):
        _write_check(folder, vector)  # a fresh compile, whose blob OpenVINO has just written
        return compiled
    if _same_as_written(folder, vector):
        return compiled
    log.info("the compiled embedder in %s gives other vectors than a fresh compile: compiled afresh", folder)
    for stale in [*folder.glob("*.blob"), folder / CHECK_FILE]:
        with contextlib.suppress(OSError):
            stale.unlink()
    return core.compile_model(str(path), "CPU", config)  # the next process writes a new blob

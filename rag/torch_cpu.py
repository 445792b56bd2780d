"""Install PyTorch's CPU build, never a CUDA one: ``python -m rag.torch_cpu [PIP_ARGS...]`` (``make install``).

PyPI's Linux torch wheel is the CUDA build: it requires several GB of ``nvidia-*`` / ``cuda-*``
wheels this project never uses (it runs on CPUs). So pip is first asked, without installing
anything (``pip install --dry-run --report``), which wheel it would pick for the pin in
``constraints.txt``. That wheel is taken when it is a CPU build: a ``+cpu`` local version, or
no CUDA requirement that applies to this machine (macOS, Windows, a local CPU wheel). Otherwise
the same pin comes from PyTorch's CPU wheel index, checked the same way; if that too were a
CUDA build, nothing is installed and the command fails.

It lives in ``rag`` because ``make`` runs it with ``-m`` from the checkout before the project and
its dependencies are installed: it needs only the standard library and pip.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints.txt"
# Requirements only a GPU build has: CUDA libraries and the Triton GPU compiler.
_GPU_REQUIREMENT = re.compile(r"^(?:nvidia-|cuda-|triton\b|pytorch-triton)", re.IGNORECASE)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

Runner = Callable[[list[str]], None]  # runs a command; raises CalledProcessError when it fails


def torch_pin(constraints: Path = CONSTRAINTS) -> str:
    """The ``torch==X`` line of the constraints file: the one place the version is written."""
    for line in constraints.read_text(encoding="utf-8").splitlines():
        requirement = line.split("#", 1)[0].strip()
        name = _NAME.match(requirement)
        if name and name.group(1).lower() == "torch":
            return requirement
    raise SystemExit(f"error: {constraints} pins no torch version")


def _marker_holds(marker: str, environment: Mapping[str, str]) -> bool:
    """Whether a requirement's environment marker holds on the machine pip reported (no extras asked)."""
    try:
        markers = importlib.import_module("packaging.markers")
    except ImportError:  # a fresh venv has only pip, which vendors packaging
        markers = importlib.import_module("pip._vendor.packaging.markers")
    return bool(markers.Marker(marker).evaluate({**environment, "extra": ""}))


def gpu_requirements(report: Mapping[str, Any]) -> list[str]:
    """The CUDA/Triton requirements of the torch wheel in a pip report that apply to the reporting machine."""
    environment = report.get("environment", {})
    found = []
    for requirement in _torch_item(report)["metadata"].get("requires_dist") or []:
        spec, _, marker = requirement.partition(";")
        name = _NAME.match(spec)
        if name and _GPU_REQUIREMENT.match(name.group(1)) and (not marker.strip()
                                                                or _marker_holds(marker, environment)):
            found.append(requirement)
    return found


def _torch_item(report: Mapping[str, Any]) -> Mapping[str, Any]:
    for item in report.get("install", []):
        if item["metadata"]["name"].lower() == "torch":
            return item
    raise ValueError("pip's report installs no torch")


def is_cpu_build(report: Mapping[str, Any]) -> bool:
    """The rule: a ``+cpu`` local version is CPU, ``+cu…``/``+rocm…``/``+xpu`` is not; without a local
    version, a wheel is CPU unless it requires CUDA or Triton on this machine (PyPI's Linux wheels do)."""
    local = _torch_item(report)["metadata"]["version"].partition("+")[2].lower()
    if local.startswith("cpu"):
        return True
    if local.startswith(("cu", "rocm", "xpu")):
        return False
    return not gpu_requirements(report)


def wheel_url(report: Mapping[str, Any]) -> str:
    return str(_torch_item(report).get("download_info", {}).get("url", "?"))


def pip_report(pin: str, pip_args: Sequence[str], python: str = sys.executable) -> dict[str, Any]:
    """What ``pip install pin`` would install, resolved but not downloaded beyond its metadata."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.json"
        subprocess.run([python, "-m", "pip", "install", "--dry-run", "--quiet", "--no-deps", "--ignore-installed",
                        "--report", str(path), pin, *pip_args], check=True)
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return report


def choose(pin: str, pip_args: Sequence[str], report: Callable[[str, Sequence[str]], Mapping[str, Any]]
           ) -> list[str] | None:
    """The pip arguments that install a CPU build of ``pin``: the ones given, else PyPI's CPU index added;
    None when neither resolves to a CPU build."""
    for args in ([*pip_args], [*pip_args, "--index-url", CPU_INDEX]):
        resolved = report(pin, args)
        if is_cpu_build(resolved):
            return args
        print(f"{pin} resolves to a CUDA build here ({wheel_url(resolved)}); not installing it", file=sys.stderr)
    return None


def main(argv: Sequence[str] = (), run: Runner | None = None,
         report: Callable[[str, Sequence[str]], Mapping[str, Any]] = pip_report) -> int:
    """Install the CPU build of the pinned torch; extra arguments go to pip (``TORCH_PIP_ARGS``)."""
    pin = torch_pin()
    args = choose(pin, argv, report)
    if args is None:
        print(f"error: no CPU build of {pin} found, also not on {CPU_INDEX}; pass TORCH_PIP_ARGS", file=sys.stderr)
        return 1
    command = [sys.executable, "-m", "pip", "install", pin, *args]
    (run or (lambda cmd: subprocess.run(cmd, check=True)))(command)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

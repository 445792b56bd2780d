"""`make install` picks PyTorch's CPU build from pip's own dry-run report (rag.torch_cpu), never the CUDA one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from rag.torch_cpu import CPU_INDEX, choose, gpu_requirements, is_cpu_build, main, torch_pin

LINUX = {"platform_system": "Linux", "platform_machine": "x86_64", "sys_platform": "linux", "python_version": "3.11",
         "os_name": "posix", "implementation_name": "cpython", "platform_python_implementation": "CPython",
         "python_full_version": "3.11.7", "implementation_version": "3.11.7", "platform_release": "6.1",
         "platform_version": "#1"}
MACOS = {**LINUX, "platform_system": "Darwin", "platform_machine": "arm64", "sys_platform": "darwin"}
COMMON = ["filelock", "typing-extensions>=4.10.0", "sympy>=1.13.3", "networkx>=2.5.1", "jinja2", "fsspec>=0.8.5",
          'optree>=0.13.0; extra == "optree"']
# What PyPI's torch wheels declare: the CUDA libraries and Triton, for Linux only.
CUDA_REQUIREMENTS = [
    'nvidia-cuda-runtime-cu12==12.8.90; platform_system == "Linux" and platform_machine == "x86_64"',
    'nvidia-cudnn-cu12==9.10.2.21; platform_system == "Linux" and platform_machine == "x86_64"',
    'triton==3.5.0; platform_system == "Linux" and platform_machine == "x86_64"',
]
CUDA13_REQUIREMENTS = [  # the newer form: one cuda-toolkit requirement with extras
    'cuda-toolkit[cublas,cudart,nvrtc]==13.2.2; platform_system == "Linux"',
    'nvidia-cudnn-cu13==9.26.0.51; platform_system == "Linux"',
    'triton~=3.9.0; platform_system == "Linux" and python_version < "3.16"',
]


def _report(version: str, requires: list[str], environment: dict[str, str], url: str) -> dict[str, Any]:
    """A pip ``install --dry-run --report`` as pip 23+ writes it, for ``--no-deps torch==...``."""
    return {"version": "1", "environment": environment, "install": [
        {"download_info": {"url": url}, "requested": True,
         "metadata": {"name": "torch", "version": version, "requires_dist": COMMON + requires}}]}


PYPI_LINUX = _report("2.13.0", CUDA_REQUIREMENTS, LINUX,
                     "https://files.pythonhosted.org/packages/torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl")
PYPI_LINUX_CUDA13 = _report("2.13.0", CUDA13_REQUIREMENTS, {**LINUX, "platform_machine": "aarch64"},
                            "https://files.pythonhosted.org/packages/torch-2.13.0-cp311-cp311-manylinux_2_28_aarch64.whl")
CPU_WHEEL = _report("2.13.0+cpu", [], LINUX, "file:///opt/wheels/torch-2.13.0%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl")
PYPI_MACOS = _report("2.13.0", CUDA_REQUIREMENTS, MACOS,
                     "https://files.pythonhosted.org/packages/torch-2.13.0-cp311-none-macosx_11_0_arm64.whl")
CUDA_INDEX = _report("2.13.0+cu126", [], LINUX, "https://download.pytorch.org/whl/cu126/torch-2.13.0%2Bcu126.whl")


@pytest.mark.parametrize(("report", "cpu"), [
    (PYPI_LINUX, False),  # nvidia-* and triton apply on Linux x86_64: the CUDA build
    (PYPI_LINUX_CUDA13, False),  # cuda-toolkit, on any Linux
    (CPU_WHEEL, True),  # +cpu: what this machine's pip finds
    (PYPI_MACOS, True),  # the same requirements, but their markers exclude macOS: PyPI's macOS wheel is CPU
    (CUDA_INDEX, False),  # +cu126 bundles CUDA without declaring it
])
def test_the_cpu_build_is_recognised_from_pips_report(report: dict[str, Any], cpu: bool) -> None:
    assert is_cpu_build(report) is cpu


def test_only_the_cuda_requirements_that_apply_count() -> None:
    assert [r.split("==")[0] for r in gpu_requirements(PYPI_LINUX)] == [
        "nvidia-cuda-runtime-cu12", "nvidia-cudnn-cu12", "triton"]
    assert gpu_requirements(PYPI_MACOS) == [] and gpu_requirements(CPU_WHEEL) == []


class _Pip:
    """pip's dry run, answered from sample reports: the first resolution, then the one from the CPU index."""

    def __init__(self, default: Mapping[str, Any], cpu_index: Mapping[str, Any] = CPU_WHEEL) -> None:
        self.default, self.cpu_index = default, cpu_index
        self.asked: list[list[str]] = []
        self.installed: list[list[str]] = []

    def report(self, pin: str, args: Sequence[str]) -> Mapping[str, Any]:
        self.asked.append([pin, *args])
        return self.cpu_index if CPU_INDEX in args else self.default

    def run(self, command: list[str]) -> None:
        self.installed.append(command)


def test_a_cpu_wheel_pip_finds_is_installed_as_it_resolves() -> None:
    pip = _Pip(CPU_WHEEL)
    assert main(["--find-links", "/opt/wheels"], pip.run, pip.report) == 0
    assert pip.asked == [["torch==2.13.0", "--find-links", "/opt/wheels"]]
    assert pip.installed[0][-4:] == ["install", "torch==2.13.0", "--find-links", "/opt/wheels"]


def test_a_cuda_resolution_is_replaced_by_the_cpu_index(capsys: pytest.CaptureFixture[str]) -> None:
    pip = _Pip(PYPI_LINUX)
    assert main([], pip.run, pip.report) == 0
    assert pip.installed[0][-3:] == ["torch==2.13.0", "--index-url", CPU_INDEX]
    assert "resolves to a CUDA build" in capsys.readouterr().err


def test_nothing_is_installed_when_no_cpu_build_resolves(capsys: pytest.CaptureFixture[str]) -> None:
    pip = _Pip(PYPI_LINUX, cpu_index=CUDA_INDEX)
    assert main([], pip.run, pip.report) == 1 and pip.installed == []
    assert "no CPU build of torch==2.13.0" in capsys.readouterr().err
    assert choose("torch==2.13.0", [], _Pip(PYPI_MACOS).report) == []


def test_the_version_is_the_one_constraints_txt_pins() -> None:
    assert torch_pin() == "torch==2.13.0"

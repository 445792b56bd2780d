"""`python -m rag.torch_cpu` (how `make install` picks PyTorch's CPU build) runs on a bare interpreter. Which build it
picks: tests/unit/test_torch_cpu.py."""

from __future__ import annotations


def test_it_runs_before_any_dependency_is_installed() -> None:
    """`make` runs `python -m rag.torch_cpu` in a fresh venv: `rag` must import nothing outside the standard library
    (an import of `embeddings` from `rag/__init__.py` once needed numpy there)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = (f"import sys; sys.path.insert(0, {str(root)!r}); import rag.torch_cpu; "
            "print(sorted(m for m in ('numpy', 'embeddings') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr

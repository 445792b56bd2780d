"""The shape of the code, checked: imports flow one way, without circles, and modules stay short.

Imports are read from the source (every ``import``, also those inside functions, which are loaded lazily but
still a dependency), so the checks load nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("rag", "embeddings", "ui", "eval")
MAX_LINES = 300


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports (``from a.b import c`` counts as a.b.c when that is a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    return {name for name in names if name in modules and not name.split(".")[-1].startswith("__")}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        # a package's __init__ only re-exports; what its modules import is what counts
        graph[name] = {m for m in _imports(path, modules) if m != name and not name.startswith(m + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checks_see_the_whole_project() -> None:
    modules = _modules()
    assert {"rag.pipeline", "rag.store.index", "ui.app", "eval.runner", "embeddings.base"} <= set(modules)
    assert "rag.store.base" in _graph()["rag.store.index"]


def test_no_import_circles() -> None:
    assert _cycles(_graph()) == []


def test_the_core_imports_neither_the_ui_nor_the_eval_package() -> None:
    upward = sorted(f"{name} -> {target}" for name, targets in _graph().items() if name.split(".")[0] == "rag"
                    for target in targets if target.split(".")[0] in ("ui", "eval"))
    assert upward == []


def test_no_stage_imports_a_later_one() -> None:
    """The stages run documents -> embeddings -> store -> query -> answer, and the wiring (pipeline, resources,
    indexing, api, app) sits on top: no stage imports a later one or the wiring."""
    wiring = ("rag.pipeline", "rag.resources", "rag.indexing", "rag.api", "rag.app")
    later = {"rag.documents": ("rag.store", "rag.query", "rag.answer", "rag.llm", *wiring),
             "embeddings": ("rag.documents", "rag.store", "rag.query", "rag.answer", "rag.llm", *wiring),
             "rag.store": ("rag.query", "rag.answer", "rag.llm", *wiring),
             "rag.llm": ("rag.documents", "rag.store", "rag.query", "rag.answer", *wiring),
             "rag.query": ("rag.answer", *wiring),
             "rag.answer": wiring,
             "rag.text": ("rag.documents", "rag.store", "rag.query", "rag.answer", "rag.llm", *wiring)}
    graph = _graph()
    upward = sorted(f"{name} -> {target}" for name, targets in graph.items() for stage, banned in later.items()
                    if name == stage or name.startswith(stage + ".")
                    for target in targets if any(target == b or target.startswith(b + ".") for b in banned))
    assert upward == []


def test_no_module_is_over_300_lines() -> None:
    """The package's modules, and the tests' and benchmarks' too."""
    paths = [*_modules().values(), *sorted((ROOT / "tests").rglob("*.py")), *sorted((ROOT / "bench").glob("*.py"))]
    long = {str(path.relative_to(ROOT)): n for path in paths
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_only_the_store_factory_and_its_backend_name_milvus() -> None:
    """The backend choice is one table (rag.store.factory); nothing else tests for a backend's name."""
    naming = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "rag").rglob("*.py")
                    if '"milvus"' in path.read_text(encoding="utf-8"))
    assert naming == ["rag/store/factory.py", "rag/store/milvus.py"]

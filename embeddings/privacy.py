"""Nothing this program imports may phone home: each dependency's telemetry is switched off before it loads.

A private tool connects only to servers the user configured. Some dependencies report their use unless told
not to: ``import openvino`` makes a DNS query for Google Analytics and writes ``~/intel/openvino_ga_cid``
(through ``openvino_telemetry``, which it imports when it can); nncf does the same; Hugging Face libraries
and Gradio have their own switches. ``keep_private`` is called when ``embeddings`` is imported, which
``rag.settings`` does: so it runs before any of them in every process that reads settings (``rag/__init__.py``
itself imports nothing, so that ``python -m rag.torch_cpu`` runs before the dependencies are installed).
Gradio also writes into its own install folder: when a component class is defined, it writes a type-stub
(``.pyi``) beside it if its wheel lacks one (6.x ships without ``components/api_component.pyi``). A run writes
nothing outside our folders, so that writer is switched off as soon as its module loads (``_quiet_gradio``).
``tests/e2e/test_privacy.py`` checks with strace.

Example::

    from embeddings.privacy import keep_private
    keep_private()   # idempotent; already done by `import embeddings`
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

# Each library's own switch: set unless the user set it. HF_HUB_OFFLINE also keeps the hub from being asked
# for a model at run time (the packaged models are on disk).
QUIET_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "DO_NOT_TRACK": "1",
}
# Modules that only report usage: importing them fails, and their users fall back to a stub (openvino's
# converter and nncf both catch the ImportError).
BLOCKED_MODULES = ("openvino_telemetry",)


def _quiet_gradio(module: ModuleType) -> None:
    """Gradio's stub writer becomes a no-op: the stubs serve editors, never the running program."""
    module.create_or_modify_pyi = lambda *args, **kwargs: None  # type: ignore[attr-defined]


# Module name -> what to change in it right after it runs, before anything that imported it uses it.
PATCHED_MODULES: dict[str, Callable[[ModuleType], None]] = {"gradio.component_meta": _quiet_gradio}


class _PatchAfterImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds a patched module with the normal finders, runs it, then applies its patch."""

    def __init__(self) -> None:
        self._loaders: dict[str, importlib.abc.Loader] = {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in PATCHED_MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        self._loaders[fullname] = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loaders[spec.name].create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loaders[module.__name__].exec_module(module)
        PATCHED_MODULES[module.__name__](module)


def keep_private() -> None:
    """Switch off every known telemetry in this process, before the libraries that send it are imported."""
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    for name in BLOCKED_MODULES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # `import name` now raises ImportError
    for name, patch in PATCHED_MODULES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    if not any(isinstance(finder, _PatchAfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchAfterImport())

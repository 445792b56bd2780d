"""``"package.module:ClassName"`` strings: the escape hatch of the embedder and LLM factories.

A setting that names a class (``index.embedder``, ``llm.backend``) lets a user plug in their own
implementation without editing this project. This lives in the lowest package so that
``embeddings`` needs nothing from ``rag``; ``rag.settings`` and ``rag.llm.factory`` use it too.

Example::

    from embeddings.classpath import import_class, is_class_path
    is_class_path("mypkg.embedders:Hashing")      # True
    cls = import_class("mypkg.embedders:Hashing")  # ClassPathError (one line) if it cannot be found
"""

from __future__ import annotations

import importlib
import re
from typing import Any

# Dotted identifiers on both sides of one colon: never a file path or a sentence-transformers hub name.
CLASS_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class ClassPathError(ValueError):
    """A class path that does not resolve; the message is one line that names it."""


def is_class_path(text: str) -> bool:
    return bool(CLASS_PATH.match(text))


def import_class(path: str) -> type[Any]:
    """The class that ``path`` ("package.module:ClassName") names; its module is imported now."""
    if not is_class_path(path):
        raise ClassPathError(f"{path!r} is not a class path: expected 'package.module:ClassName'")
    module_name, _, qualname = path.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:  # also a module whose own imports fail: say which
        raise ClassPathError(f"cannot import module {module_name!r} for {path!r}: {_first_line(exc)}") from exc
    for part in qualname.split("."):
        if not hasattr(found, part):
            raise ClassPathError(f"module {module_name!r} has no class {qualname!r} (from {path!r})")
        found = getattr(found, part)
    if not isinstance(found, type):
        raise ClassPathError(f"{path!r} is not a class but a {type(found).__name__}")
    return found


def _first_line(exc: BaseException) -> str:
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)

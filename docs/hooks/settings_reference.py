"""mkdocs hook: the configuration reference, rendered from the settings models at build time.

A page that holds the line ``<!-- settings-reference -->`` gets one part per settings section
(``rag.settings.core.Settings``: its fields whose type is a section model), and ``<!-- presets-reference -->``
a table of the bundled presets (``rag/presets/*.json``). Each setting shows its name, its environment
variable (``env_prefix`` + SECTION + ``env_nested_delimiter`` + FIELD, read from ``Settings.model_config``),
its type with its bounds, its default and its description. Nothing is written by hand, so the page
cannot drift from the code. A field without a description is a warning, which fails
``mkdocs build --strict``.

Run it on its own to print the Markdown: ``PYTHONPATH=. python docs/hooks/settings_reference.py``.
"""

from __future__ import annotations

import json
import logging
import os
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

SETTINGS_MARKER = "<!-- settings-reference -->"
PRESETS_MARKER = "<!-- presets-reference -->"
ROOT = Path(__file__).resolve().parents[2]

try:
    from mkdocs.plugins import get_plugin_logger

    log: logging.Logger | logging.LoggerAdapter = get_plugin_logger("settings_reference")
except ImportError:  # run on its own, without mkdocs
    log = logging.getLogger("settings_reference")


@contextmanager
def _plain_environment() -> Iterator[None]:
    """Defaults as a fresh user sees them: no XDG overrides, no RAG_ variables."""
    saved = {key: value for key, value in os.environ.items() if key.startswith(("XDG_", "RAG_"))}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " or ".join(f'`"{arg}"`' for arg in args)
    if origin in (typing.Union, types.UnionType):
        kept = [arg for arg in args if arg is not type(None)]
        name = " or ".join(_type_name(arg) for arg in kept)
        return f"{name}, optional" if len(kept) < len(args) else name
    if origin in (tuple, list):
        return f"list of {_type_name(args[0])} (JSON)" if args else "list (JSON)"
    if annotation is Path:
        return "path"
    return getattr(annotation, "__name__", str(annotation))


def _bounds(field: FieldInfo) -> str:
    signs = {annotated_types.Ge: ("≥", "ge"), annotated_types.Gt: (">", "gt"),
             annotated_types.Le: ("≤", "le"), annotated_types.Lt: ("<", "lt")}
    found = [f"{sign} {getattr(item, attr)}" for item in field.metadata for kind, (sign, attr) in signs.items()
             if isinstance(item, kind)]
    return ", ".join(found)


def _shown_path(path: Path) -> str:
    if path.is_relative_to(ROOT):
        return f"`{path.relative_to(ROOT).as_posix()}` (bundled)"
    home = Path.home()
    if path.is_relative_to(home):
        return f"`~/{path.relative_to(home).as_posix()}`"
    return f"`{path.as_posix()}`"


def _default(field: FieldInfo) -> str:
    with _plain_environment():
        try:
            value = field.get_default(call_default_factory=True, validated_data={})
        except TypeError:  # an older pydantic without validated_data
            value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):  # never a secret from the environment of whoever builds the docs
        return "empty" if not value.get_secret_value() else "from the environment (not shown)"
    if isinstance(value, Path):
        return _shown_path(value)
    if isinstance(value, bool | tuple | list):
        return f"`{json.dumps(value, ensure_ascii=False)}`"
    if isinstance(value, dict):  # a table (texts by language): its keys; the values are in the code it names
        return "keys " + ", ".join(f"`{key}`" for key in value)
    if value == "":
        return "empty"
    return f"`{value}`"


def _cell(text: str) -> str:
    """Markdown for one table cell: one line, pipes and angle brackets escaped outside code spans."""
    parts = " ".join(text.split()).split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts).replace("|", "\\|")


def _sections() -> tuple[type[BaseModel], dict[str, type[BaseModel]], dict[str, FieldInfo]]:
    from rag.settings.core import Settings

    sections: dict[str, type[BaseModel]] = {}
    top: dict[str, FieldInfo] = {}
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sections[name] = annotation
        else:
            top[name] = field
    return Settings, sections, top


def _entries(rows: list[tuple[str, str, FieldInfo]]) -> list[str]:
    """One small block per setting: a heading (a link target), what it does, then variable, type and default."""
    lines: list[str] = []
    for setting, env, field in rows:
        description = field.description or ""
        if not description:
            log.warning("setting %s has no description: add one to its Field() in rag/settings", setting)
        bounds = _bounds(field)
        kind = _type_name(field.annotation) + (f" ({bounds})" if bounds else "")
        lines += [f"#### `{setting}`", "", _cell(description), "",
                  f"`{env}` · {_cell(kind)} · default {_cell(_default(field))}", ""]
    return lines


def settings_markdown() -> str:
    """One part per section, in the order ``Settings`` declares them; one block per setting."""
    settings, sections, top = _sections()
    prefix = str(settings.model_config.get("env_prefix") or "")
    delimiter = str(settings.model_config.get("env_nested_delimiter") or "__")
    out: list[str] = []
    if top:
        out += ["### Top level", ""]
        out += _entries([(name, f"{prefix}{name}".upper(), field) for name, field in top.items()])
    for section, model in sections.items():
        summary = (model.__doc__ or "").strip().split("\n\n")[0]
        out += [f"### `{section}`", "", " ".join(summary.replace("``", "`").split()), ""]
        out += _entries([(f"{section}.{name}", f"{prefix}{section}{delimiter}{name}".upper(), field)
                         for name, field in model.model_fields.items()])
    return "\n".join(out)


def presets_markdown() -> str:
    """The bundled presets: name, description and the values each one sets."""
    lines = ["| Preset | What it is for | Values it sets |", "|---|---|---|"]
    for path in sorted((ROOT / "rag" / "presets").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        description = str(data.pop("description", ""))
        values = [f"`{section}.{key} = {json.dumps(value)}`" for section, fields in data.items()
                  for key, value in fields.items()]
        lines.append(f"| `{path.stem}` | {_cell(description)} | {', '.join(values) or 'none'} |")
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """mkdocs event: fill in the markers of a page."""
    if SETTINGS_MARKER in markdown:
        markdown = markdown.replace(SETTINGS_MARKER, settings_markdown())
    if PRESETS_MARKER in markdown:
        markdown = markdown.replace(PRESETS_MARKER, presets_markdown())
    return markdown


if __name__ == "__main__":
    print(settings_markdown())
    print()
    print(presets_markdown())

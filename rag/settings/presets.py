"""Named presets: JSON files of settings in the sectioned form, bundled or the user's own.

The bundled ones are ``rag/presets/NAME.json``. A user adds a preset, or replaces a bundled one
of the same name, with ``$XDG_CONFIG_HOME/rag/presets/NAME.json`` (default ``~/.config/rag/presets``).
A preset fills only what neither explicit arguments nor the environment set. A file holds
sections and an optional description::

    {"description": "More sources, longer answers.", "retrieval": {"k": 8}, "llm": {"max_answer_tokens": 768}}

Every value is checked when the preset is loaded, so a typo is an error naming the file and the key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import PydanticBaseSettingsSource

from rag.settings.names import suggest
from rag.settings.sections import SECTIONS, xdg

BUNDLED_PRESETS = Path(__file__).resolve().parent.parent / "presets"


class PresetError(ValueError):
    """A preset that is unknown or whose file is unusable; the message is one line."""


def user_presets_dir() -> Path:
    return xdg("XDG_CONFIG_HOME", ".config") / "rag" / "presets"


def available_presets() -> dict[str, Path]:
    """Preset name -> its file, the user's winning over a bundled one of the same name."""
    found: dict[str, Path] = {}
    for directory in (BUNDLED_PRESETS, user_presets_dir()):
        if directory.is_dir():
            found.update({path.stem: path for path in directory.glob("*.json") if path.is_file()})
    return dict(sorted(found.items()))


def preset_path(name: str) -> Path:
    presets = available_presets()
    if name not in presets:
        raise PresetError(f"unknown preset {name!r}; choose one of: {', '.join(presets)}")
    return presets[name]


def load_preset(name: str) -> dict[str, Any]:
    """The preset's values by section, each checked against its section model."""
    path = preset_path(name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PresetError(f"cannot read preset file {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PresetError(f"preset file {path} is not valid JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise PresetError(f"preset file {path} must hold a JSON object of sections")
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "description":
            if not isinstance(value, str):
                raise PresetError(f"preset file {path}: 'description' must be a string")
            continue
        if key not in SECTIONS:
            raise PresetError(f"preset file {path}: unknown key {key!r}{_hint(key)}")
        if not isinstance(value, dict):
            raise PresetError(f"preset file {path}: {key!r} must be an object of settings")
        _check_section(path, key, value)
        values[key] = value
    return values


def _hint(key: str) -> str:
    meant = suggest(key)
    if meant:
        return f" (did you mean {' or '.join(map(repr, meant))}?)"
    return "" if "." in key else f"; sections are {', '.join(SECTIONS)}"


def _check_section(path: Path, section: str, value: dict[str, Any]) -> None:
    try:
        SECTIONS[section].model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join([section, *(str(part) for part in first["loc"])])
        if first["type"] == "extra_forbidden":
            raise PresetError(f"preset file {path}: unknown key {where!r}{_hint(where)}") from None
        raise PresetError(f"preset file {path}: {where}: {' '.join(first['msg'].split())}") from None


class PresetSource(PydanticBaseSettingsSource):
    """The preset that a higher source names (``preset=`` or ``RAG_PRESET``), below all of them."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ loads the whole file

    def __call__(self) -> dict[str, Any]:
        name = self.current_state.get("preset") or "default"
        if not isinstance(name, str):
            return {}  # the field's own validation reports it
        try:
            return load_preset(name)
        except PresetError as exc:  # reported like any invalid setting: a ValidationError on `preset`
            error = PydanticCustomError("preset", "{message}", {"message": str(exc)})
            details = InitErrorDetails(type=error, loc=("preset",), input=name)
            raise ValidationError.from_exception_data(self.settings_cls.__name__, [details]) from None

"""The one spelling of each setting, and a one-line error naming the right one when another is used.

A setting is ``section.field``: ``Settings(retrieval={"k": 3})`` in Python, ``{"retrieval": {"k": 3}}``
in a preset file, ``RAG_RETRIEVAL__K=3`` in the environment (pydantic-settings' nested delimiter;
``RAG_LLM='{"backend": "embedded"}'`` sets a section as JSON). Anything else, a flat name such as
``k`` or ``RAG_K`` or a typo, is an error rather than a value silently ignored::

    RAG_K
      unknown setting; did you mean RAG_RETRIEVAL__K?
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from rag.settings.sections import SECTIONS

ENV_PREFIX = "RAG_"
NESTED_DELIMITER = "__"
TOP_LEVEL = ("preset",)  # settings outside the sections
# RAG_ variables that are not settings: read before any settings exist.
NOT_SETTINGS = frozenset({"RAG_DEBUG"})  # rag.app.cli: show the traceback of an unexpected error


def setting_names() -> list[str]:
    """Every setting in its one spelling: ``preset``, ``index.corpus_dir``, ..."""
    return [*TOP_LEVEL, *(f"{section}.{field}" for section, model in SECTIONS.items() for field in model.model_fields)]


def env_name(setting: str) -> str:
    """``retrieval.k`` -> ``RAG_RETRIEVAL__K``."""
    return ENV_PREFIX + setting.replace(".", NESTED_DELIMITER).upper()


def suggest(name: str) -> list[str]:
    """The settings an unknown dotted name probably means: those with its last part as their field
    (``k`` -> ``retrieval.k``), else the closest spelling (``abstain_min_coverage`` -> ``abstention.min_coverage``)."""
    known = setting_names()
    field = name.rpartition(".")[2]
    same_field = [setting for setting in known if setting.rpartition(".")[2] == field]
    if same_field and same_field != [name]:
        return same_field
    for section in SECTIONS:  # a section's name inside a flat one: ui_port, translate_questions
        for rest in (field.removeprefix(f"{section}_"), field.removesuffix(f"_{section}")):
            if rest != field and f"{section}.{rest}" in known:
                return [f"{section}.{rest}"]
    return difflib.get_close_matches(name, known, n=1, cutoff=0.6)


def _error(loc: tuple[str, ...], message: str, value: Any) -> InitErrorDetails:
    """One error, reported like any invalid setting (``rag`` prints ``invalid setting <loc>: <message>``)."""
    return InitErrorDetails(type=PydanticCustomError("unknown_setting", "{message}", {"message": message}),
                            loc=loc, input=value)


def _unknown(loc: tuple[str, ...], hints: Iterable[str], value: Any) -> InitErrorDetails:
    hints = list(hints)
    return _error(loc, f"unknown setting; did you mean {' or '.join(hints)}?" if hints else
                  f"unknown setting (the sections are {', '.join(SECTIONS)})", value)


def _raise(errors: list[InitErrorDetails]) -> None:
    if errors:
        raise ValidationError.from_exception_data("Settings", errors)


def check_arguments(values: Mapping[str, Any]) -> None:
    """Keyword arguments must be ``preset`` or sections, each section's keys its fields."""
    errors = []
    for key, value in values.items():
        if key not in SECTIONS:
            if key not in TOP_LEVEL:
                errors.append(_unknown((key,), suggest(key), value))
            continue
        given = value.model_dump(exclude_unset=True) if isinstance(value, BaseModel) else value
        fields = SECTIONS[key].model_fields
        if not isinstance(given, Mapping):
            example = next(iter(fields))
            errors.append(_error((key,), f"a section: give a dict of its settings, e.g. {key}={{{example!r}: ...}}",
                                 value))
            continue
        errors += [_unknown((key, str(field)), suggest(f"{key}.{field}"), given[field])
                   for field in given if field not in fields]
    _raise(errors)


def check_environment(environ: Mapping[str, str | None]) -> None:
    """Every ``RAG_`` variable must spell a setting: ``RAG_PRESET``, ``RAG_<SECTION>`` (JSON) or
    ``RAG_<SECTION>__<FIELD>``. Read case-insensitively, as pydantic-settings reads them."""
    errors = []
    for variable, value in environ.items():
        name = variable.upper()
        if not name.startswith(ENV_PREFIX) or name in NOT_SETTINGS:
            continue
        dotted = name[len(ENV_PREFIX):].lower().replace(NESTED_DELIMITER, ".")
        if dotted in SECTIONS:
            if not (value or "").lstrip().startswith("{"):
                first = next(iter(SECTIONS[dotted].model_fields))
                message = (f"not a JSON object of the {dotted} section; one of its settings is "
                           f"{name}{NESTED_DELIMITER}<FIELD>, e.g. {env_name(f'{dotted}.{first}')}")
                errors.append(_error((name,), message, value))
        elif dotted not in setting_names():
            errors.append(_unknown((name,), [env_name(s) for s in suggest(dotted)], value))
    _raise(errors)

"""The flat names of the settings before they had sections, mapped onto the sections.

``Settings(k=3, llm="embedded")`` (the CLI and many scripts) and ``RAG_K=3`` / ``RAG_LLM=embedded``
/ ``OLLAMA_HOST`` keep working through this one table; the README's configuration section lists
it. ``llm`` and ``retrieval`` are both an old flat name and a section: a string is the old
meaning (``llm.backend``, ``retrieval.mode``), a dict or a section object is the section.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import EnvSettingsSource, PydanticBaseSettingsSource

from rag.settings.sections import SECTIONS


def _same(section: str, *fields: str, prefix: str = "") -> dict[str, tuple[str, str]]:
    return {prefix + field: (section, field) for field in fields}


# The one table: old flat name -> (section, field). Shown in the README as ``old`` -> ``section.field``.
LEGACY_NAMES: dict[str, tuple[str, str]] = {
    **_same("index", "corpus_dir", "index_dir", "index_type", "extensions", "max_file_bytes", "follow_symlinks",
            "embedder", "embed_batch_size", "max_read_seconds", "max_pdf_pages", "max_unpacked_bytes",
            "max_compression_ratio", "chunk_overlap_sentences", "window_sentences", "flat_max_vectors",
            "large_index_type", "hnsw_ef_search", "ivf_nprobe", "max_segments", "max_deleted_fraction"),
    **_same("index", "uri", "collection", prefix="index_"),
    **_same("retrieval", "k", "rrf_k", "candidates", "max_question_chars", "min_source_score_ratio",
            "max_source_chars"),
    "retrieval": ("retrieval", "mode"),
    **_same("llm", "ollama_host", "ollama_model", "ollama_timeout", "ollama_probe_timeout", "gguf_path",
            "model_cache_dir", "n_ctx", "n_threads", "n_batch", "n_ubatch", "flash_attn", "embedded_start_timeout",
            "embedded_token_timeout", "max_answer_tokens", "temperature", "seed"),
    "llm": ("llm", "backend"), "llama_extra_buffers": ("llm", "extra_buffers"),
    **_same("citations", "attribution", "attribution_min_similarity"),
    "citation_min_support": ("citations", "min_support"),
    **_same("abstention", "min_coverage", "min_window_coverage", "min_source_coverage", "max_refusal_probability",
            "term_similarity", "window_sentences", "check_answer_type", prefix="abstain_"),
    **_same("abstention", "refusal_related_min_coverage"),
    **_same("questions", "followup_turns", "followup_max_chars", "followup_max_tokens", "translation_max_tokens"),
    "translate_questions": ("questions", "translate"),
    **_same("ui", "host", "port", "auth", "examples", prefix="ui_"),
    **_same("ui", "max_upload_bytes", "max_upload_text_bytes", "max_upload_read_seconds", "allow_uploads", "temp_dir", "workspace_corpus_dir"),
}
# Environment variables outside the RAG_ prefix, below every RAG_ variable.
LEGACY_ENV: dict[str, tuple[str, str]] = {"OLLAMA_HOST": ("llm", "ollama_host")}
_SECTION_VARIABLES = {f"RAG_{section.upper()}" for section in SECTIONS}  # RAG_LLM: old name, or JSON section


def _is_section_value(key: str, value: Any) -> bool:
    return key in SECTIONS and (isinstance(value, (Mapping, BaseModel)) or key not in LEGACY_NAMES)


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments in the sectioned form: old flat names moved into their section.

    A section given as an object contributes only the fields set on it, so the environment and
    the preset still fill the others. An old flat name wins over the same field in a section dict.
    Unknown names pass through untouched, for ``extra="forbid"`` to reject.
    """
    nested: dict[str, Any] = {}
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if _is_section_value(key, value):
            given = value.model_dump(exclude_unset=True) if isinstance(value, BaseModel) else value
            nested[key] = dict(given) if isinstance(given, Mapping) else given
        elif key in LEGACY_NAMES:
            flat[key] = value
        else:
            nested[key] = value
    for key, value in flat.items():
        section, field = LEGACY_NAMES[key]
        target = nested.setdefault(section, {})
        if isinstance(target, dict):  # else a malformed section value, left for validation to report
            target[field] = value
    return nested


class SectionEnvSource(EnvSettingsSource):
    """``RAG_<SECTION>__<FIELD>`` variables (pydantic-settings' nested delimiter).

    ``RAG_LLM=embedded`` and ``RAG_RETRIEVAL=dense`` are old flat names, not JSON for a whole
    section: they are left to ``LegacyEnvSource`` instead of failing to parse.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        value, key, is_complex = super().get_field_value(field, field_name)
        if field_name in SECTIONS and isinstance(value, str) and not value.lstrip().startswith("{"):
            value = None
        return value, key, is_complex


class LegacyEnvSource(PydanticBaseSettingsSource):
    """``RAG_<OLD_FLAT_NAME>`` (``RAG_K``, ``RAG_OLLAMA_MODEL``, ...) and ``OLLAMA_HOST``, in the sectioned form.

    Read case-insensitively, like pydantic-settings reads ``RAG_*``; list values are JSON
    (``RAG_EXTENSIONS='[".txt", ".md"]'``), as before.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ maps the whole table at once

    def __call__(self) -> dict[str, Any]:
        environ = {key.upper(): value for key, value in os.environ.items()}
        found: dict[str, Any] = {}
        wanted = [*LEGACY_ENV.items(), *((f"RAG_{old.upper()}", target) for old, target in LEGACY_NAMES.items())]
        for name, (section, field) in wanted:  # a RAG_ variable overwrites OLLAMA_HOST
            value: Any = environ.get(name)
            if value is None or (name in _SECTION_VARIABLES and value.lstrip().startswith("{")):
                continue  # unset, or RAG_LLM='{...}': JSON for the whole section, read by SectionEnvSource
            info = SECTIONS[section].model_fields[field]
            if self.field_is_complex(info):
                value = self.decode_complex_value(field, info, value)
            found.setdefault(section, {})[field] = value
        return found

"""One validated settings object for the whole pipeline, in sections.

Every tunable lives here so that modules carry no magic constants, and each factory receives
only its section (``make_llm(settings.llm)``). Values come, in rising priority, from the
defaults, a named preset (a JSON file, ``rag.settings.presets``), the environment and explicit
keyword arguments (what the CLI flags pass).

Example::

    from rag.settings import Settings
    s = Settings.from_name("fast", retrieval={"k": 3})   # preset, then an explicit override
    s = Settings(retrieval={"k": 3})                     # s.retrieval.k == 3
    s = Settings()                                       # RAG_RETRIEVAL__K=8 wins over the preset

Sections: ``index``, ``retrieval``, ``llm``, ``citations``, ``abstention``, ``questions``, ``prompts``,
``ui`` (``rag.settings.sections``, ``rag.settings.prompts``). Each setting has one spelling:
``section.field`` in Python and preset files, ``RAG_<SECTION>__<FIELD>`` in the environment
(``RAG_LLM__OLLAMA_MODEL``); any other name is an error naming the right one (``rag.settings.names``).
``OLLAMA_HOST``, Ollama's own variable, is the default of ``llm.ollama_host``.
"""

from __future__ import annotations

from rag.settings.core import Settings
from rag.settings.names import env_name, setting_names
from rag.settings.presets import PresetError, available_presets, load_preset
from rag.settings.prompts import PromptSettings
from rag.settings.sections import (
    BUNDLED_CORPUS,
    DEFAULT_EMBEDDER,
    PROJECT_ROOT,
    SECTIONS,
    AbstentionSettings,
    CitationSettings,
    IndexSettings,
    LLMSettings,
    QuestionSettings,
    RetrievalSettings,
    UISettings,
    default_index_dir,
    is_bundled,
)

__all__ = [
    "BUNDLED_CORPUS", "DEFAULT_EMBEDDER", "PROJECT_ROOT", "SECTIONS",
    "AbstentionSettings", "CitationSettings", "IndexSettings", "LLMSettings", "PresetError", "PromptSettings",
    "QuestionSettings", "RetrievalSettings", "Settings", "UISettings", "available_presets", "default_index_dir",
    "env_name", "is_bundled", "load_preset", "setting_names",
]

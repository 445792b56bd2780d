"""``Settings``: the sections, filled from arguments, the environment, a preset and the defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from embeddings import Embedder, make_embedder
from rag.settings.names import ENV_PREFIX, NESTED_DELIMITER, check_arguments, check_environment
from rag.settings.presets import PresetError, PresetSource, preset_path
from rag.settings.prompts import PromptSettings
from rag.settings.sections import (
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


class _Arguments(PydanticBaseSettingsSource):
    """Keyword arguments, checked for unknown names; a section object gives only the fields set on it."""

    def __init__(self, settings_cls: type[BaseSettings], init_kwargs: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        check_arguments(init_kwargs)
        self.values = {key: value.model_dump(exclude_unset=True) if isinstance(value, BaseModel) else value
                       for key, value in init_kwargs.items()}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns them all

    def __call__(self) -> dict[str, Any]:
        return self.values


class _Environment(EnvSettingsSource):
    """``RAG_<SECTION>__<FIELD>`` variables; any other ``RAG_`` variable is an error naming the right spelling."""

    def __call__(self) -> dict[str, Any]:
        check_environment(self.env_vars)
        return super().__call__()


class Settings(BaseSettings):
    """All configuration, by section: ``Settings(retrieval={"k": 3})``, ``RAG_RETRIEVAL__K=3``, a preset file.

    Priority, highest first: keyword arguments, the environment, the preset, the defaults. An unknown
    name (``Settings(k=3)``, ``RAG_K=3``) is an error that names the right spelling (``rag.settings.names``).
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED_DELIMITER, extra="forbid",
                                      validate_default=True)

    preset: str = Field("default", description="Named preset: a JSON file in rag/presets or "
                                               "$XDG_CONFIG_HOME/rag/presets (the user's wins).")
    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    citations: CitationSettings = Field(default_factory=CitationSettings)
    abstention: AbstentionSettings = Field(default_factory=AbstentionSettings)
    questions: QuestionSettings = Field(default_factory=QuestionSettings)
    prompts: PromptSettings = Field(default_factory=PromptSettings)
    ui: UISettings = Field(default_factory=UISettings)

    def __init__(self, **values: Any) -> None:
        """``preset`` and sections (``retrieval={"k": 3}``); any other name is an error naming the right one."""
        super().__init__(**values)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Highest first. The preset source comes last: it reads the name the sources above it chose."""
        init_kwargs: dict[str, Any] = getattr(init_settings, "init_kwargs", {})
        return _Arguments(settings_cls, init_kwargs), _Environment(settings_cls), PresetSource(settings_cls)

    @classmethod
    def from_name(cls, name: str = "default", **overrides: Any) -> Settings:
        """The named preset under ``overrides`` and the environment (like PaperQA2's ``Settings.from_name``)."""
        return cls(preset=name, **overrides)

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, name: str) -> str:
        """Also for ``model_validate``, which bypasses the sources."""
        try:
            preset_path(name)
        except PresetError as exc:
            raise ValueError(str(exc)) from None
        return name

    def resolved_corpus_dir(self) -> Path:
        return self.index.corpus_dir.expanduser().resolve()

    def resolved_index_dir(self) -> Path:
        return self.index.index_dir.expanduser().resolve()

    def make_embedder(self) -> Embedder:
        """The configured embedder (not loaded yet); a faster runtime's export is cached beside the GGUF."""
        return make_embedder(self.index.embedder, self.index.embed_batch_size, cache_dir=self.llm.model_cache_dir)

    def is_first_run_default(self) -> bool:
        """The bundled sample in the default index location: the only index ``ensure_index`` builds (on first use)."""
        return (self.resolved_index_dir() == default_index_dir().expanduser().resolve()
                and is_bundled(self.resolved_corpus_dir()))

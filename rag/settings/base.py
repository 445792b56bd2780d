"""The base of every settings section (``rag.settings.sections``, ``rag.settings.prompts``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A settings section: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid")

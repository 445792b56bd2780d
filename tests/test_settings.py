"""One settings object: defaults, presets, environment and explicit values, in that order."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rag.settings import BUNDLED_CORPUS, Settings


def test_defaults_point_at_the_bundled_reports() -> None:
    settings = Settings()
    assert settings.corpus_dir == BUNDLED_CORPUS and settings.llm == "auto" and settings.k == 5
    assert settings.ollama_host == "http://127.0.0.1:11434"


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_K", "8")
    monkeypatch.setenv("RAG_LLM", "embedded")
    monkeypatch.setenv("OLLAMA_HOST", "http://10.1.2.3:11434")
    settings = Settings()
    assert (settings.k, settings.llm, settings.ollama_host) == (8, "embedded", "http://10.1.2.3:11434")


def test_preset_fills_only_what_was_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(preset="fast").k == 3
    assert Settings(preset="fast", k=4).k == 4
    monkeypatch.setenv("RAG_K", "7")
    assert Settings(preset="fast").k == 7
    monkeypatch.setenv("RAG_PRESET", "thorough")
    assert Settings().max_answer_tokens == 768


def test_invalid_values_are_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(k=0)
    with pytest.raises(ValidationError):
        Settings(llm="gpt")
    with pytest.raises(ValidationError, match="unknown preset"):
        Settings(preset="turbo")
    with pytest.raises(ValidationError):
        Settings(no_such_setting=1)


def test_questions_are_validated_before_anything_loads(tmp_path) -> None:
    from rag.errors import InvalidQuestion
    from rag.pipeline import Pipeline

    pipeline = Pipeline(Settings(index_dir=tmp_path / "never-built", max_question_chars=50))
    with pytest.raises(InvalidQuestion, match="the limit is 50"):
        pipeline.ask("why " * 20)
    with pytest.raises(InvalidQuestion, match="empty"):
        pipeline.stream(" \n\t ")
    assert pipeline._index is None and pipeline._llm is None  # nothing was loaded or built
    assert not (tmp_path / "never-built").exists()

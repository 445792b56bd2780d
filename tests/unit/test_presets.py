"""Named presets: the bundled ones, a user's own in ``~/.config/rag/presets``, and one-line errors for bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.settings import Settings
from tests.unit.test_settings import _one_line_message


def _user_preset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, content: object) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = tmp_path / "config" / "rag" / "presets" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


def test_bundled_presets_hold_the_documented_values() -> None:
    lenient = Settings.from_name("lenient").abstention
    assert (lenient.min_window_coverage, lenient.min_source_coverage, lenient.check_answer_type,
            lenient.max_refusal_probability) == (0.0, 0.0, False, 1.0)
    assert Settings.from_name("default") == Settings()
    assert Settings.from_name("fast", retrieval={"k": 2}).retrieval.k == 2


def test_a_user_preset_overrides_or_adds_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _user_preset(monkeypatch, tmp_path, "fast", {"retrieval": {"k": 2}})
    _user_preset(monkeypatch, tmp_path, "mine", {"description": "mine", "citations": {"attribution": "lexical"}})
    fast = Settings.from_name("fast")
    assert fast.retrieval.k == 2 and fast.llm.max_answer_tokens == 512  # the whole file replaces the bundled one
    assert Settings(preset="mine").citations.attribution == "lexical"
    monkeypatch.setenv("RAG_PRESET", "mine")
    assert Settings().citations.attribution == "lexical"


def test_an_unknown_preset_is_one_line_listing_the_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _user_preset(monkeypatch, tmp_path, "mine", {})
    with pytest.raises(ValidationError) as error:
        Settings(preset="turbo")
    assert _one_line_message(error) == "unknown preset 'turbo'; choose one of: default, fast, lenient, mine, thorough, write-first"
    with pytest.raises(ValidationError, match="unknown preset 'turbo'"):
        Settings.from_name("turbo")
    monkeypatch.setenv("RAG_PRESET", "turbo")
    with pytest.raises(ValidationError, match="unknown preset 'turbo'"):
        Settings()


@pytest.mark.parametrize(("content", "expected"), [
    ({"retrieval": {"kk": 3}}, "unknown key 'retrieval.kk' (did you mean 'retrieval.k'?)"),
    ({"k": 3}, "unknown key 'k' (did you mean 'retrieval.k'?)"),
    ({"retrieval": {"k": 0}}, "retrieval.k: Input should be greater than or equal to 1"),
    ({"retrieval": 3}, "'retrieval' must be an object of settings"),
])
def test_a_bad_preset_file_names_the_file_and_the_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      content: object, expected: str) -> None:
    path = _user_preset(monkeypatch, tmp_path, "broken", content)
    with pytest.raises(ValidationError) as error:
        Settings(preset="broken")
    assert _one_line_message(error) == f"preset file {path}: {expected}"


def test_a_preset_file_that_is_not_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = _user_preset(monkeypatch, tmp_path, "broken", {})
    path.write_text('{"retrieval": {"k": 3,}}', encoding="utf-8")
    with pytest.raises(ValidationError) as error:
        Settings(preset="broken")
    assert _one_line_message(error).startswith(f"preset file {path} is not valid JSON")

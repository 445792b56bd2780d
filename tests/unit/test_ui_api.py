"""``rag serve`` passes its upload flags to the UI, and the chat's echo of an invalid question, with no server. The
served ``/ask`` endpoint and ``rag serve`` itself: tests/e2e/test_ui_api.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.ui_harness import ui_settings
from ui.app import ChatApp


@pytest.mark.parametrize(("flags", "allow_uploads"), [([], None), (["--allow-uploads"], True),
                                                      (["--no-uploads"], False)])
def test_serve_passes_allow_uploads_to_the_ui(monkeypatch: pytest.MonkeyPatch, flags: list[str],
                                              allow_uploads: bool | None) -> None:
    import ui.serve
    from rag.app.cli import app

    served: list[Settings] = []
    monkeypatch.setattr(ui.serve, "serve", served.append)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", *flags])
    assert result.exit_code == 0, result.output
    assert served[0].ui.allow_uploads is allow_uploads and served[0].ui.host == "0.0.0.0"


def test_the_chat_shows_an_invalid_question_as_an_error_the_browser_can_receive(tmp_path: Path) -> None:
    """The page can send a lone surrogate too (JavaScript strings hold them); the echo must stay valid UTF-8."""
    chat = ChatApp(Pipeline(ui_settings(tmp_path / "x", tmp_path / "no-index")))
    *_, (shown, _, _) = list(chat.respond("Who \ud800?", 5, []))
    assert shown[0]["content"] == "Who \\ud800?" and "not valid Unicode" in shown[1]["content"]
    json.dumps(shown, ensure_ascii=False).encode("utf-8")  # what the server sends: no UnicodeEncodeError

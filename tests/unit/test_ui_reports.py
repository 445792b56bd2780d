"""The "Manage reports" panel's handlers over the fakes: the list, deleting with a confirmation step, excluding the
user's own report, re-indexing one, and the gate (off where uploads are off). The browser: tests/e2e/test_ui_reports.py."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from rag.pipeline import Pipeline
from rag.settings import BUNDLED_CORPUS
from tests.conftest import SENTINEL, settings_for
from tests.fakes import FakeEmbedder, FakeLLM
from tests.unit.test_uploads import NEW_REPORT
from ui.app import ChatApp
from ui.gate import CHANGES_OFF
from ui.reports import Pending

SALT = "How much saffron was found in Port Aldeney?"


def _chat(tmp_path: Path, **ui: Any) -> ChatApp:
    corpus = tmp_path / "reports"
    shutil.copytree(BUNDLED_CORPUS, corpus)
    settings = settings_for(corpus, tmp_path / "index", ui={"workspace_corpus_dir": tmp_path / "workspace", **ui})
    chat = ChatApp(Pipeline(settings, embedder=FakeEmbedder(), llm=FakeLLM()))
    chat.pipeline.reindex()
    chat.indexer = chat.pipeline.resources.background_indexer(chat.upload_dir, make=FakeEmbedder)
    return chat


def _settle(poll: Any, pending: Pending | None) -> tuple:
    """Poll like the page's timer until the background work is done; returns the last update."""
    deadline = time.monotonic() + 30
    update = poll(pending)
    while update[-2] is not None:
        assert time.monotonic() < deadline, "never indexed"
        time.sleep(0.05)
        update = poll(update[-2])
    return update


def _uploaded(chat: ChatApp, tmp_path: Path) -> None:
    report = tmp_path / "harbour.md"
    report.write_text(NEW_REPORT)
    _, _, _, pending, _ = chat.upload([str(report)])
    _settle(lambda p: chat.index_progress(p), pending)


def test_the_list_follows_uploads_and_tells_uploads_from_folder_reports(tmp_path: Path) -> None:
    chat = _chat(tmp_path)
    table, choices = chat.reports.listing()
    assert "harbour.md" not in table and len(choices["choices"]) == 5
    _uploaded(chat, tmp_path)
    table, choices = chat.reports.listing("harbour.md")
    assert "harbour.md" in table and choices["value"] == "harbour.md" and len(choices["choices"]) == 6
    row = table.split("harbour.md")[1].split("</tr>")[0]
    assert "2024-03-12" in row and "uploaded" in row
    assert "folder" in table.split(SENTINEL[0])[1].split("</tr>")[0]


def test_deleting_an_upload_asks_first_then_removes_its_file_and_answers(tmp_path: Path) -> None:
    chat = _chat(tmp_path)
    _uploaded(chat, tmp_path)
    panel, path = chat.reports, chat.upload_dir / "harbour.md"
    question, row, asked = panel.ask_delete("harbour.md")
    assert "Delete <b>harbour.md</b>?" in question and "uploaded" in question and row["visible"] and asked
    assert path.exists()  # asking changes nothing

    refused = panel.confirm_delete(SENTINEL[0], asked)  # the selection changed after the question
    assert "nothing to confirm" in refused[0] and refused[4] is None and path.exists()
    assert panel.cancel()[2] is None

    status, question, row, asked, pending, _ = panel.confirm_delete("harbour.md", "harbour.md")
    assert not path.exists() and pending is not None and not row["visible"] and asked is None
    status, table, choices, corpus, done, _ = _settle(lambda p: panel.progress(p, "harbour.md"), pending)
    assert "✓ deleted <b>harbour.md</b>" in status and done is None
    assert "harbour.md" not in table and "harbour.md" not in corpus and choices["value"] is None
    assert all(hit.doc_id != "harbour.md" for hit in chat.pipeline.retrieve(SALT, 10))
    again = panel.confirm_delete("harbour.md", None)  # a second click on the confirmation
    assert "nothing to confirm" in again[0]


def test_deleting_a_folder_report_excludes_it_and_leaves_the_file(tmp_path: Path) -> None:
    chat = _chat(tmp_path)
    path = chat.upload_dir / SENTINEL[0]
    stat, data = path.stat(), path.read_bytes()
    question, _, asked = chat.reports.ask_delete(SENTINEL[0])
    index_dir = chat.pipeline.settings.resolved_index_dir()
    assert "is not touched" in question and f"rag index {chat.upload_dir} --index-dir {index_dir} --include " \
        f"{SENTINEL[0]}</code>" in question
    *_, pending, _ = chat.reports.confirm_delete(SENTINEL[0], asked)
    status, table, *_ = _settle(chat.reports.progress, pending)
    assert "✓ excluded" in status and "Excluded" in table and SENTINEL[0] in table.split("Excluded")[1]
    assert path.read_bytes() == data and path.stat().st_mtime_ns == stat.st_mtime_ns
    assert SENTINEL[0] not in chat.pipeline.index.manifest.documents


def test_uploading_an_excluded_report_again_indexes_it(tmp_path: Path) -> None:
    chat = _chat(tmp_path)
    path = chat.upload_dir / SENTINEL[0]
    copy = tmp_path / "incoming" / SENTINEL[0]
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    *_, pending, _ = chat.reports.confirm_delete(SENTINEL[0], SENTINEL[0])
    _settle(chat.reports.progress, pending)
    path.unlink()  # the user moved it away: it stays excluded
    _, _, _, pending, _ = chat.upload([str(copy)])
    status, *_ = _settle(lambda p: chat.index_progress(p), pending)
    assert SENTINEL[0] in chat.pipeline.index.manifest.documents and "failed" not in status
    assert chat.pipeline.index.manifest.excluded == []


def test_reindex_reads_the_report_again_in_the_background(tmp_path: Path) -> None:
    chat = _chat(tmp_path)
    status, pending, _ = chat.reports.reindex(SENTINEL[0])
    status, *_ = _settle(chat.reports.progress, pending)
    assert f"✓ re-indexed <b>{SENTINEL[0]}</b>" in status
    report = chat.indexer.status().report
    assert report is not None and report.updated == [SENTINEL[0]] and report.embedded_chunks > 0


@pytest.mark.parametrize("name", [None, "", "gone.txt"])
def test_a_missing_choice_or_an_unknown_name_is_one_line(tmp_path: Path, name: str | None) -> None:
    chat = _chat(tmp_path)
    for html in (chat.reports.ask_delete(name)[0], chat.reports.reindex(name)[0]):
        assert "rag-up-refused" in html and ("choose a report" in html or "no report named" in html)


def test_where_uploads_are_off_so_are_deleting_and_reindexing(tmp_path: Path) -> None:
    chat = _chat(tmp_path, host="0.0.0.0")  # reachable from the network, no login
    assert not chat.uploads
    path = chat.upload_dir / SENTINEL[0]
    assert CHANGES_OFF in chat.reports.ask_delete(SENTINEL[0])[0]
    assert CHANGES_OFF in chat.reports.confirm_delete(SENTINEL[0], SENTINEL[0])[0]  # a forged confirmation
    assert CHANGES_OFF in chat.reports.reindex(SENTINEL[0])[0]
    assert path.exists() and SENTINEL[0] in chat.pipeline.index.manifest.documents
    assert SENTINEL[0] in chat.reports.listing()[0]  # the list is still shown

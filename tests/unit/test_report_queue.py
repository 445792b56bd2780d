"""Queued changes to named reports, over the fakes: each request is checked on its own (a bad name fails only its
request), merged requests keep the later word on a name, a failed run keeps its change once, an upload of an
excluded name brings it back, and every "bring it back" hint is one command naming the index's folder."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from rag.app.reports import removal, reread_report
from rag.app.uploads import save_upload, upload_change
from rag.background import BackgroundIndexer
from rag.errors import RagError, UnknownReport
from rag.index_changes import IndexChange, Reports, check_change, include_command, queue_change
from rag.indexing import IndexReport
from rag.pipeline import Pipeline
from rag.settings import default_index_dir
from tests.fakes import FakeEmbedder
from tests.unit.test_reports import SENTINEL_FILE, _docs, pipeline  # noqa: F401 - the fixture
from tests.unit.test_uploads import _file


def _wait(indexer: BackgroundIndexer, ticket: int) -> None:
    deadline = time.monotonic() + 30
    while indexer.status().finished < ticket:
        assert time.monotonic() < deadline, "never indexed"
        time.sleep(0.02)


def _held(pipeline: Pipeline) -> tuple[BackgroundIndexer, threading.Event]:  # noqa: F811
    """The pipeline's background indexer, its first run held (loading its model) until the event is set: the
    requests made meanwhile merge into the next run."""
    release = threading.Event()
    indexer = pipeline.resources.background_indexer(
        pipeline.settings.resolved_corpus_dir(), make=lambda: (release.wait(30), FakeEmbedder())[1])
    indexer.submit()
    return indexer, release


def test_a_later_exclusion_cancels_an_earlier_reread() -> None:
    merged = IndexChange.of(reread=["a", "b"]).then(IndexChange.of(exclude=["a"]))
    assert merged == IndexChange.of(exclude=["a"], reread=["b"])


def test_reindex_then_delete_of_one_report_merges_into_one_run_that_works(pipeline: Pipeline) -> None:  # noqa: F811
    indexer, release = _held(pipeline)
    indexer.submit(IndexChange.of(reread=[SENTINEL_FILE]))
    ticket = indexer.submit(IndexChange.of(exclude=[SENTINEL_FILE]))
    release.set()
    _wait(indexer, ticket)
    assert indexer.status().error is None and SENTINEL_FILE not in _docs(pipeline)


def test_a_bad_name_fails_its_own_request_at_once_and_no_other(pipeline: Pipeline) -> None:  # noqa: F811
    indexer, release = _held(pipeline)
    ticket = indexer.submit(IndexChange.of(exclude=[SENTINEL_FILE]))
    for bad in (IndexChange.of(exclude=["nope.txt"]), IndexChange.of(include=["nope.txt"]),
                IndexChange.of(reread=[SENTINEL_FILE])):  # re-reading a report whose exclusion is queued
        with pytest.raises(UnknownReport) as raised:
            indexer.submit(bad)
        assert "\n" not in str(raised.value)
    release.set()
    _wait(indexer, ticket)
    assert indexer.status().error is None and SENTINEL_FILE not in _docs(pipeline)
    assert pipeline.index.manifest.excluded == [SENTINEL_FILE]


def test_a_request_is_checked_against_the_changes_queued_before_it() -> None:
    reports = Reports(Path("/c"), None, frozenset({"a", "b"}), frozenset({"a", "b"}), frozenset({"x"}))
    exclude_a, include_a = IndexChange.of(exclude=["a"]), IndexChange.of(include=["a"])
    assert queue_change(IndexChange(), exclude_a, include_a, reports) == IndexChange()  # undone before it ran
    assert queue_change(exclude_a, IndexChange(), include_a, reports) == include_a  # after the running exclusion
    assert queue_change(IndexChange(), IndexChange.of(exclude=["x"]), IndexChange.of(include=["x"]),
                        reports) == IndexChange.of(include=["x"])  # excluded before: brought back
    with pytest.raises(UnknownReport, match="not excluded"):
        queue_change(IndexChange(), IndexChange(), include_a, reports)
    check_change(queue_change(IndexChange(), exclude_a, IndexChange.of(reread=["b"]), reports), reports)


def test_a_failed_run_keeps_its_change_for_the_next_run_once() -> None:
    seen: list[IndexChange] = []
    failures: list[Exception] = [RagError("disk full"), RagError("disk full"), UnknownReport("gone")]

    def update(_embedder: object, change: IndexChange) -> IndexReport:
        seen.append(change)
        if failures:
            raise failures.pop(0)
        return IndexReport(Path("/i"))

    indexer = BackgroundIndexer(update, FakeEmbedder)
    exclude = IndexChange.of(exclude=["a.md"])
    _wait(indexer, indexer.submit(exclude))
    assert "disk full" in (indexer.status().error or "") and "kept" in (indexer.status().error or "")
    _wait(indexer, indexer.submit(IndexChange.of(reread=["b.md"])))  # the kept change runs with the next request
    assert seen[1] == IndexChange.of(exclude=["a.md"], reread=["b.md"]) and "kept" not in str(indexer.status().error)
    _wait(indexer, indexer.submit(IndexChange.of(exclude=["c.md"])))  # failed twice: dropped, never again
    assert seen[2] == IndexChange.of(exclude=["c.md"])
    _wait(indexer, indexer.submit())  # an unknown name would fail again: not kept
    assert seen[3] == IndexChange() and indexer.status().error is None


def test_an_upload_of_an_excluded_name_brings_it_back(pipeline: Pipeline, tmp_path: Path) -> None:  # noqa: F811
    corpus = pipeline.settings.resolved_corpus_dir()
    data = (corpus / SENTINEL_FILE).read_bytes()
    pipeline.reindex(change=IndexChange.of(exclude=[SENTINEL_FILE]))
    (corpus / SENTINEL_FILE).unlink()  # the user moved it away; the exclusion stays with the index
    pipeline.reindex()
    saved = save_upload(_file(tmp_path, SENTINEL_FILE, data), SENTINEL_FILE, corpus, pipeline.settings)
    other = save_upload(_file(tmp_path, "other.md", "# Other\n\nA new report.\n"), "other.md", corpus,
                        pipeline.settings)
    change = upload_change([saved, other], corpus, pipeline.settings)
    assert saved.doc_id == SENTINEL_FILE and change == IndexChange.of(include=[SENTINEL_FILE])
    report = pipeline.reindex(change=change)
    assert SENTINEL_FILE in report.added and SENTINEL_FILE in _docs(pipeline) and not report.excluded


def test_the_command_that_brings_a_report_back_names_the_folder_and_is_quoted() -> None:
    assert include_command("/srv/my reports", "Q1 notes.md") == "rag index '/srv/my reports' --include 'Q1 notes.md'"
    assert include_command(Path("/c"), None, default_index_dir()) == "rag index /c --include NAME"
    assert include_command("/c", "a.md", Path("/idx")) == "rag index /c --index-dir /idx --include a.md"


def test_every_hint_to_bring_a_report_back_is_the_same_command(pipeline: Pipeline) -> None:  # noqa: F811
    corpus, index_dir = pipeline.settings.resolved_corpus_dir(), pipeline.settings.resolved_index_dir()
    (corpus / "my notes.md").write_text("# My notes\n\nThe harbour was inspected twice.\n")
    pipeline.reindex()
    command = f"rag index {corpus} --index-dir {index_dir} --include 'my notes.md'"
    assert f"`{command}` brings it back" in removal(pipeline.index.manifest, "my notes.md", index_dir).describe()
    pipeline.reindex(change=IndexChange.of(exclude=["my notes.md"]))
    manifest, messages = pipeline.index.manifest, set()
    for call in (lambda: removal(manifest, "my notes.md", index_dir),
                 lambda: reread_report(manifest, "my notes.md", index_dir),
                 lambda: pipeline.reindex(change=IndexChange.of(reread=["my notes.md"]))):
        with pytest.raises(UnknownReport) as raised:
            call()
        messages.add(str(raised.value))
    assert messages == {f"'my notes.md' is excluded from the index; bring it back with `{command}`"}

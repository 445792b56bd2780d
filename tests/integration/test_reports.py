"""Managing reports with the real embedder and a real index on disk: a deleted upload's paragraphs are gone, an
excluded report's file is untouched and it stays out through `rag index`, re-reading one, and `rag index --watch`
as the user runs it (a file added is found by `rag search`, Ctrl-C exits 0). Over the fakes:
tests/unit/test_reports.py, tests/unit/test_watch.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from embeddings import Embedder
from rag.app.reports import delete_report, reread_report
from rag.app.uploads import save_upload
from rag.app.watch import start_watcher
from rag.pipeline import Pipeline
from rag.store.index import SegmentedIndex
from tests.conftest import SENTINEL, SENTINEL_QUESTION, settings_for
from tests.integration.test_cli import rag
from tests.unit.test_uploads import NEW_REPORT, _file

SALT = "How much saffron was found in Port Aldeney?"
WATCH_SECONDS = 120  # the watcher loads the embedder, then indexes a batch; each `rag search` loads it again


def _pipeline(corpus: Path, tmp_path: Path, embedder: Embedder, **sections: object) -> Pipeline:
    pipeline = Pipeline(settings_for(corpus, tmp_path / "index", **sections), embedder=embedder)
    pipeline.reindex()
    return pipeline


def _found(pipeline: Pipeline, question: str, k: int = 10) -> list[str]:
    return [hit.doc_id for hit in pipeline.retrieve(question, k)]


def test_a_deleted_upload_is_gone_from_the_folder_and_from_the_answers(
        tmp_path: Path, corpus: Path, embedder: Embedder) -> None:
    pipeline = _pipeline(corpus, tmp_path, embedder)
    saved = save_upload(_file(tmp_path, "harbour.md", NEW_REPORT), "harbour.md", corpus, pipeline.settings)
    pipeline.reindex()
    assert _found(pipeline, SALT)[0] == saved.doc_id
    removal, report = delete_report(pipeline, saved.doc_id)
    assert removal.deletes_file and not saved.path.exists() and report.removed == ["harbour.md"]
    assert "harbour.md" not in _found(pipeline, SALT)
    reopened = Pipeline(pipeline.settings, embedder=embedder)  # another process, reading the version on disk
    assert "harbour.md" not in _found(reopened, SALT)


def test_an_excluded_report_keeps_its_file_and_stays_out_through_rag_index(
        tmp_path: Path, corpus: Path, embedder: Embedder) -> None:
    pipeline = _pipeline(corpus, tmp_path, embedder)
    path = corpus / SENTINEL[0]
    data, mtime = path.read_bytes(), path.stat().st_mtime_ns
    assert _found(pipeline, SENTINEL_QUESTION)[0] == SENTINEL[0]
    removal, _ = delete_report(pipeline, SENTINEL[0])
    assert not removal.deletes_file and SENTINEL[0] not in _found(pipeline, SENTINEL_QUESTION)

    index_dir = str(pipeline.settings.resolved_index_dir())
    again = rag("index", str(corpus), "--index-dir", index_dir)
    assert again.returncode == 0, again.stderr
    assert "0 added" in again.stdout and "1 excluded" in again.stdout
    searched = rag("search", SENTINEL_QUESTION, "--index-dir", index_dir)
    assert searched.returncode == 0 and SENTINEL[0] not in searched.stdout, searched.stdout
    assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime  # never touched

    listed = rag("reports", "--index-dir", index_dir)
    assert f"{SENTINEL[0]}  (excluded" in listed.stdout
    back = rag("index", str(corpus), "--index-dir", index_dir, "--include", SENTINEL[0])
    assert back.returncode == 0 and "1 added" in back.stdout, back.stderr
    assert SENTINEL[0] in rag("search", SENTINEL_QUESTION, "--index-dir", index_dir).stdout


def test_reindexing_one_report_embeds_it_again_and_it_still_answers(
        tmp_path: Path, corpus: Path, embedder: Embedder) -> None:
    pipeline = _pipeline(corpus, tmp_path, embedder)
    texts = len({c.embed_text for c in pipeline.index.chunks if c.doc_id == SENTINEL[0]})  # each embedded once
    report = pipeline.reindex(change=reread_report(pipeline.index.manifest, SENTINEL[0]))
    assert report.updated == [SENTINEL[0]] and report.embedded_chunks == texts > 0
    assert _found(pipeline, SENTINEL_QUESTION)[0] == SENTINEL[0]
    assert SegmentedIndex.load(pipeline.settings.resolved_index_dir(), verify=True).paragraph_count == report.paragraphs


def _until(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_rag_index_watch_follows_the_folder_and_stops_on_ctrl_c(corpus: Path, tmp_path: Path) -> None:
    index_dir = str(tmp_path / "index")
    log = tmp_path / "watch.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {"RAG_INDEX__WATCH_DEBOUNCE_MS": "300"}
    with log.open("w") as output:
        watcher = subprocess.Popen([sys.executable, "-m", "rag.app.cli", "index", str(corpus), "--index-dir",
                                    index_dir, "--watch"], stdout=output, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        _until(lambda: "watching" in log.read_text(), WATCH_SECONDS, "the first index")
        (corpus / "harbour.md").write_text(NEW_REPORT)
        _until(lambda: "harbour.md" in rag("search", SALT, "--k", "1", "--index-dir", index_dir).stdout,
               WATCH_SECONDS, "`rag search` to find the new report")
        assert "added harbour.md" in log.read_text()
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(60) == 0, log.read_text()
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert "stopped watching" in log.read_text() and "Traceback" not in log.read_text()
    assert rag("index", "--check", "--index-dir", index_dir).returncode == 0  # a complete version


def test_the_servers_watcher_feeds_its_background_indexer(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    """What `rag serve --watch` runs: the answers follow each new version without a restart."""
    pipeline = _pipeline(corpus, tmp_path, embedder, index={"watch_debounce_ms": 200})
    indexer = pipeline.resources.background_indexer(corpus, make=lambda: embedder)
    stop = start_watcher(corpus, pipeline.settings.index, indexer.submit)
    try:
        time.sleep(1)  # the watcher is watching
        (corpus / "harbour.md").write_text(NEW_REPORT)
        _until(lambda: "harbour.md" in _found(pipeline, SALT, 1), 60, "the pipeline to answer from the new file")
        (corpus / "harbour.md").unlink()
        _until(lambda: "harbour.md" not in pipeline.index.manifest.documents, 60, "the removal")
    finally:
        stop.set()

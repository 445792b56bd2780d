"""Uploads with the real embedder: the indexed folder takes them, and an upload is indexed incrementally and found.
Names, refusals and overwrites: tests/unit/test_uploads.py."""

from __future__ import annotations

from pathlib import Path

from embeddings import Embedder
from rag.app.uploads import (
    save_upload,
    with_writable_corpus,
    writable_corpus,
)
from rag.indexing import update_index
from rag.query.retrieval import Retriever
from rag.settings import Settings
from tests.conftest import settings_for
from tests.unit.test_uploads import NEW_REPORT, _file


def test_without_a_configured_corpus_the_indexed_folder_takes_the_uploads(
        tmp_path: Path, corpus: Path, embedder: Embedder) -> None:
    """`rag index ~/reports` then `rag serve`: the UI serves ~/reports, not the bundled sample."""
    (corpus / "harbour.md").write_text(NEW_REPORT)  # the user's own folder, not a copy of the sample
    index_dir = tmp_path / "index"
    update_index(corpus, index_dir, embedder, settings_for(corpus, index_dir).index)
    settings = Settings(index={"index_dir": index_dir}, ui={"workspace_corpus_dir": tmp_path / "workspace"})
    assert writable_corpus(settings) == corpus.resolve() == with_writable_corpus(settings).index.corpus_dir
    assert not (tmp_path / "workspace").exists()


def test_an_index_of_another_copy_of_the_sample_does_not_take_uploads(
        tmp_path: Path, corpus: Path, embedder: Embedder) -> None:
    """Another checkout's data/reports is the sample too: uploads go to the workspace, not into it."""
    index_dir = tmp_path / "index"
    update_index(corpus, index_dir, embedder, settings_for(corpus, index_dir).index)  # corpus: an unchanged copy
    settings = Settings(index={"index_dir": index_dir}, ui={"workspace_corpus_dir": tmp_path / "workspace"})
    assert writable_corpus(settings) == (tmp_path / "workspace").resolve()


def test_an_upload_is_indexed_incrementally_and_found(tmp_path: Path, corpus: Path, embedder: Embedder) -> None:
    index_dir = tmp_path / "index"
    settings = settings_for(corpus, index_dir)
    _, first = update_index(corpus, index_dir, embedder, settings.index)
    saved = save_upload(_file(tmp_path, "harbour.md", NEW_REPORT), "harbour.md", corpus, settings)
    index, report = update_index(corpus, index_dir, embedder, settings.index)
    assert report.added == ["harbour.md"] and len(report.unchanged) == 5 and report.rebuilt_because is None
    new_chunks = [c for c in index.chunks if c.doc_id == saved.doc_id]
    assert report.embedded_chunks == len(new_chunks) > 0  # only the new file was embedded
    assert report.chunks == first.chunks + len(new_chunks)
    assert index.document("harbour.md").title == "Harbour inspection in Port Aldeney"
    hits = Retriever(index, embedder).search("How much saffron was found in Port Aldeney?", 3)
    assert hits[0].key == ("harbour.md", 4)

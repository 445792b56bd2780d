"""Managing reports over the fakes: list them, delete an upload's file, exclude anyone else's report (its file never
touched, the exclusion kept by later updates), read one again, and one-line errors for names that are not there.
With the real embedder and `rag index --watch`: tests/integration/test_reports.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.app.reports import delete_report, list_reports, removal, reread_report
from rag.app.upload_ledger import LEDGER, uploaded_files
from rag.app.uploads import save_upload
from rag.errors import CorpusNotFound, RagError, UnknownReport
from rag.index_changes import IndexChange
from rag.pipeline import Pipeline
from rag.settings import BUNDLED_CORPUS
from rag.store.index import SegmentedIndex
from rag.store.integrity import read_pointer
from tests.conftest import SENTINEL, settings_for
from tests.fakes import FakeEmbedder
from tests.pdf_reports import write_report_pdf
from tests.unit.test_uploads import NEW_REPORT, _file

SENTINEL_FILE = SENTINEL[0]
SALT = "How much saffron was found in Port Aldeney?"


@pytest.fixture()
def pipeline(tmp_path: Path) -> Pipeline:
    """A copy of the bundled reports, indexed with the fake embedder; the folder is the user's own."""
    corpus = tmp_path / "reports"
    shutil.copytree(BUNDLED_CORPUS, corpus)
    built = Pipeline(settings_for(corpus, tmp_path / "index"), embedder=FakeEmbedder())
    built.reindex()
    return built


def _fingerprint(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and modification time: what "never touched" means."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file()}


def _docs(pipeline: Pipeline) -> set[str]:
    return set(pipeline.index.manifest.documents)


def _upload(pipeline: Pipeline, tmp_path: Path, name: str = "harbour.md", text: str = NEW_REPORT) -> str:
    corpus = pipeline.settings.resolved_corpus_dir()
    saved = save_upload(_file(tmp_path, name, text), name, corpus, pipeline.settings)
    pipeline.reindex()
    return saved.doc_id


def test_the_list_names_each_report_with_its_date_paragraphs_pages_and_origin(pipeline: Pipeline,
                                                                               tmp_path: Path) -> None:
    write_report_pdf(pipeline.settings.resolved_corpus_dir() / "paged.pdf")
    _upload(pipeline, tmp_path)
    reports = {r.name: r for r in list_reports(pipeline.index.manifest)}
    assert set(reports) == _docs(pipeline) and len(reports) == 7
    assert reports["harbour.md"].uploaded and reports["harbour.md"].date == "2024-03-12"
    assert reports["harbour.md"].paragraphs == 4 and reports["harbour.md"].pages == 0
    assert reports["paged.pdf"].pages >= 2 and not reports["paged.pdf"].uploaded
    assert not reports[SENTINEL_FILE].uploaded and reports[SENTINEL_FILE].paragraphs > 0


def test_deleting_an_upload_removes_its_file_and_its_paragraphs(pipeline: Pipeline, tmp_path: Path) -> None:
    name = _upload(pipeline, tmp_path)
    corpus = pipeline.settings.resolved_corpus_dir()
    assert pipeline.retrieve(SALT)[0].doc_id == name
    before = read_pointer(pipeline.settings.resolved_index_dir()).version
    planned, report = delete_report(pipeline, name)
    assert planned.deletes_file and "deleted" in planned.describe()
    assert not (corpus / name).exists() and name not in uploaded_files(corpus)
    assert report.removed == [name] and report.excluded == []
    assert name not in _docs(pipeline) and all(h.doc_id != name for h in pipeline.retrieve(SALT, 10))
    assert read_pointer(pipeline.settings.resolved_index_dir()).version != before  # a new version


def test_excluding_the_users_own_report_never_touches_a_file_and_lasts(pipeline: Pipeline) -> None:
    corpus = pipeline.settings.resolved_corpus_dir()
    files = _fingerprint(corpus)
    planned, report = delete_report(pipeline, SENTINEL_FILE)
    assert not planned.deletes_file and "excluded" in planned.describe() and "--include" in planned.describe()
    assert _fingerprint(corpus) == files  # same files, same bytes, same modification times
    assert report.removed == [SENTINEL_FILE] and report.excluded == [SENTINEL_FILE]
    assert SENTINEL_FILE not in _docs(pipeline)
    assert all(h.doc_id != SENTINEL_FILE for h in pipeline.retrieve("What did Operation Sentinel seize?", 10))

    again = pipeline.reindex()  # what a later `rag index` does: the exclusion is kept with the index
    assert again.added == [] and again.excluded == [SENTINEL_FILE] and SENTINEL_FILE not in _docs(pipeline)
    assert SegmentedIndex.read_manifest(pipeline.settings.resolved_index_dir()).excluded == [SENTINEL_FILE]

    back = pipeline.reindex(change=IndexChange.of(include=[SENTINEL_FILE]))
    assert back.added == [SENTINEL_FILE] and back.excluded == [] and SENTINEL_FILE in _docs(pipeline)
    assert _fingerprint(corpus) == files


def test_an_upload_edited_since_is_the_users_and_only_excluded(pipeline: Pipeline, tmp_path: Path) -> None:
    name = _upload(pipeline, tmp_path)
    path = pipeline.settings.resolved_corpus_dir() / name
    path.write_text(NEW_REPORT + "\nA line the user added.\n")
    pipeline.reindex()
    planned, _ = delete_report(pipeline, name)
    assert not planned.deletes_file and path.exists() and name not in _docs(pipeline)


def test_a_seeded_copy_of_the_sample_or_a_damaged_record_means_exclusion(pipeline: Pipeline, tmp_path: Path) -> None:
    name = _upload(pipeline, tmp_path)
    corpus = pipeline.settings.resolved_corpus_dir()
    assert not removal(pipeline.index.manifest, SENTINEL_FILE).deletes_file  # never uploaded
    (corpus / LEDGER).write_text("{not json")
    assert not removal(pipeline.index.manifest, name).deletes_file and (corpus / name).exists()


def test_reindexing_one_report_reads_and_embeds_it_again(pipeline: Pipeline) -> None:
    before = read_pointer(pipeline.settings.resolved_index_dir()).version
    report = pipeline.reindex(change=reread_report(pipeline.index.manifest, SENTINEL_FILE))
    assert report.updated == [SENTINEL_FILE] and len(report.unchanged) == 4 and report.embedded_chunks > 0
    assert read_pointer(pipeline.settings.resolved_index_dir()).version != before
    assert pipeline.retrieve("What did Operation Sentinel seize?")[0].doc_id == SENTINEL_FILE


def test_unknown_names_are_one_line_errors_and_change_nothing(pipeline: Pipeline) -> None:
    manifest = pipeline.index.manifest
    version = read_pointer(pipeline.settings.resolved_index_dir()).version
    for call in (lambda: removal(manifest, "nope.txt"), lambda: reread_report(manifest, "nope.txt"),
                 lambda: pipeline.reindex(change=IndexChange.of(include=[SENTINEL_FILE])),
                 lambda: pipeline.reindex(change=IndexChange.of(exclude=["nope.txt"])),
                 lambda: pipeline.reindex(change=IndexChange.of(include=["nope.txt"]))):
        with pytest.raises(UnknownReport) as raised:
            call()
        assert "\n" not in str(raised.value) and ("nope.txt" in str(raised.value) or SENTINEL_FILE in str(raised.value))
    assert read_pointer(pipeline.settings.resolved_index_dir()).version == version


def test_an_excluded_report_cannot_be_reread_and_the_last_one_cannot_go(pipeline: Pipeline) -> None:
    pipeline.reindex(change=IndexChange.of(exclude=[SENTINEL_FILE]))
    with pytest.raises(UnknownReport, match="excluded"):
        reread_report(pipeline.index.manifest, SENTINEL_FILE)
    with pytest.raises(UnknownReport, match="--include"):
        pipeline.reindex(change=IndexChange.of(reread=[SENTINEL_FILE]))
    with pytest.raises(CorpusNotFound, match="every report .* is excluded"):
        pipeline.reindex(change=IndexChange.of(exclude=list(_docs(pipeline))))
    rest = sorted(_docs(pipeline))
    pipeline.reindex(change=IndexChange.of(exclude=rest[1:]))
    with pytest.raises(RagError, match="only report"):
        removal(pipeline.index.manifest, rest[0])


def test_queued_changes_merge_the_later_word_on_a_name_winning() -> None:
    first = IndexChange.of(exclude=["a", "b"], reread=["c"])
    merged = first.then(IndexChange.of(include=["a"])).then(IndexChange.of(exclude=["d"], reread=["e"]))
    assert merged == IndexChange.of(exclude=["b", "d"], include=["a"], reread=["c", "e"])
    assert not IndexChange() and merged.excluded({"a", "x"}) == {"b", "d", "x"}


def test_the_background_indexer_runs_each_queued_change(pipeline: Pipeline) -> None:
    import time

    indexer = pipeline.resources.background_indexer(pipeline.settings.resolved_corpus_dir(), make=FakeEmbedder)
    ticket = indexer.submit(IndexChange.of(exclude=[SENTINEL_FILE]))
    deadline = time.monotonic() + 30
    while indexer.status().finished < ticket:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert indexer.status().error is None and SENTINEL_FILE not in _docs(pipeline)
    shared = pipeline.resources.background_indexer(pipeline.settings.resolved_corpus_dir())
    assert shared is pipeline.resources.background_indexer(pipeline.settings.resolved_corpus_dir())  # one per folder


def test_a_format_3_index_loads_and_the_next_update_writes_format_4_without_re_embedding(pipeline: Pipeline) -> None:
    import json
    import os

    from rag.store.index import CURRENT
    from rag.store.integrity import write_pointer
    from rag.store.manifest import FORMAT_VERSION

    index_dir = pipeline.settings.resolved_index_dir()
    version = index_dir / read_pointer(index_dir).version
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 3
    del manifest["excluded"]
    for document in manifest["documents"].values():
        del document["pages"]
    (version / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    os.replace(write_pointer(index_dir, version, "format3"), index_dir / CURRENT)
    old = SegmentedIndex.load(index_dir, verify=True)
    assert old.manifest.format_version == 3 and old.manifest.excluded == []
    report = Pipeline(pipeline.settings, embedder=FakeEmbedder()).reindex()
    assert report.embedded_chunks == 0 and not report.changed
    assert SegmentedIndex.read_manifest(index_dir).format_version == FORMAT_VERSION == 4

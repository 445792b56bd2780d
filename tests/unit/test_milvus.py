"""The Milvus backend on Milvus Lite (a real engine, in the index folder): a cold reopen reads what was
written, each failure is one line that says what to do, and a change of backend or embedder moves the rows.

The adds, tombstones, compaction and kill -9 tests run on both backends in tests/unit/test_segments.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import IndexCorrupt, RagError
from rag.indexing import update_index
from rag.settings import BUNDLED_CORPUS, Settings
from rag.store.index import SegmentedIndex
from rag.store.milvus_client import MilvusUnavailable, client, collection_prefix, release_all, resolve_uri
from tests.fakes import FakeEmbedder

MILVUS = {"index_type": "milvus"}


@pytest.fixture(autouse=True)
def _release() -> object:
    yield
    release_all()


def _index(corpus: Path, index_dir: Path, embedder: FakeEmbedder | None = None, **index: object):
    """Build or update with these fields of the index section."""
    settings = Settings(index={"corpus_dir": corpus, "index_dir": index_dir, **index}).index
    return update_index(corpus, index_dir, embedder or FakeEmbedder(), settings)


def _milvus(index_dir: Path):
    return client(resolve_uri(index_dir, "")), collection_prefix(index_dir, "")


def test_a_cold_reopen_reads_the_same_records_vectors_and_rankings_as_faiss(tmp_path: Path) -> None:
    faiss, _ = _index(BUNDLED_CORPUS, tmp_path / "faiss")
    _index(BUNDLED_CORPUS, tmp_path / "milvus", **MILVUS)
    release_all()  # the next load starts Milvus Lite again and reads the collections from disk
    milvus = SegmentedIndex.load(tmp_path / "milvus", verify=True)
    assert milvus.paragraphs == faiss.paragraphs and milvus.chunks == faiss.chunks
    assert abs(milvus.vectors - faiss.vectors).max() < 1e-6
    assert milvus.manifest.segments[0].store == "milvus" and (tmp_path / "milvus" / "milvus.db").is_dir()
    for question in ["What did Operation Sentinel seize?", "Who opened the supply chain security seminar?"]:
        vector = FakeEmbedder().encode([question])[0]
        assert [c.key for c, _ in milvus.search(vector, 5)] == [c.key for c, _ in faiss.search(vector, 5)]
        assert milvus.keyword_search(question, 10) == faiss.keyword_search(question, 10)
        key = faiss.keyword_search(question, 1)[0]
        (score, span), (expected, expected_span) = milvus.best_chunk(key, vector), faiss.best_chunk(key, vector)
        assert score == pytest.approx(expected, abs=1e-6) and span == expected_span


def test_the_uri_setting_is_read_from_RAG_INDEX__URI(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_INDEX__INDEX_TYPE", "milvus")
    monkeypatch.setenv("RAG_INDEX__URI", "http://milvus:19530")
    settings = Settings().index
    assert (settings.index_type, settings.uri, settings.collection) == ("milvus", "http://milvus:19530", "")


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(MilvusUnavailable, match=r"Milvus at http://127\.0\.0\.1:9 is unreachable .*RAG_INDEX__URI") as error:
        _index(BUNDLED_CORPUS, tmp_path / "index", uri="http://127.0.0.1:9", **MILVUS)
    assert "\n" not in str(error.value)


def test_a_missing_package_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymilvus", None)
    with pytest.raises(RagError, match=r"pip install 'rag-reports\[milvus\]'"):
        _index(BUNDLED_CORPUS, tmp_path / "index", **MILVUS)


HOLDER = "import sys, time; from pymilvus import MilvusClient; MilvusClient(sys.argv[1]); print('ready', flush=True); " \
         "time.sleep(60)"


def test_milvus_lite_open_in_another_process_is_one_line_naming_the_folder(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    _index(BUNDLED_CORPUS, index_dir, **MILVUS)
    release_all()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(index_dir / "milvus.db")], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(MilvusUnavailable) as error:
            SegmentedIndex.load(index_dir)
    finally:
        holder.kill()
        holder.wait()
    message = str(error.value)
    assert str(index_dir / "milvus.db") in message and "Milvus Lite allows one process" in message
    assert "Milvus standalone" in message and "\n" not in message


def test_a_missing_collection_or_missing_rows_name_the_collection_and_rag_index_repairs(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    index, _ = _index(BUNDLED_CORPUS, index_dir, **MILVUS)
    milvus, prefix = _milvus(index_dir)
    segment = index.segments[0]
    milvus.delete(f"{prefix}_paragraphs", filter='doc_id == "000_75dd1b9587c7c497.txt"',
                  partition_name=segment.name.replace("-", "_"))
    with pytest.raises(IndexCorrupt, match=rf"Milvus collections '{prefix}_paragraphs'/.* hold \d+ paragraphs .*"
                                           rf"the manifest says {segment.record.paragraphs}.*`rag index .* --index-dir "):
        SegmentedIndex.load(index_dir)
    milvus.drop_collection(f"{prefix}_paragraphs")
    with pytest.raises(IndexCorrupt, match=rf"Milvus collection '{prefix}_paragraphs' is missing .*"
                                           rf"`rag index {BUNDLED_CORPUS} --index-dir {index_dir}` repairs it"):
        SegmentedIndex.load(index_dir)
    repaired, report = _index(BUNDLED_CORPUS, index_dir, **MILVUS)
    assert "is missing" in (report.rebuilt_because or "") and repaired.paragraph_count == index.paragraph_count
    assert SegmentedIndex.load(index_dir, verify=True).paragraph_count == index.paragraph_count


def test_changing_backend_or_embedder_moves_every_row(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    faiss, _ = _index(BUNDLED_CORPUS, index_dir)
    moved, report = _index(BUNDLED_CORPUS, index_dir, **MILVUS)
    assert report.embedded_chunks == 0 and [s.record.store for s in moved.segments] == ["milvus"]
    assert moved.paragraphs == faiss.paragraphs and not list(index_dir.glob("s-*"))
    smaller, report = _index(BUNDLED_CORPUS, index_dir, FakeEmbedder(dim=256), **MILVUS)
    assert "dim 512" in (report.rebuilt_because or "") and smaller.vectors.shape[1] == 256
    milvus, prefix = _milvus(index_dir)
    assert {f"{prefix}_chunks256", f"{prefix}_chunks512"} <= set(milvus.list_collections())
    back, _ = _index(BUNDLED_CORPUS, index_dir, FakeEmbedder(dim=256))
    assert [s.record.store for s in back.segments] == ["files"] and back.paragraphs == faiss.paragraphs
    # the version it replaced keeps its rows until the next write, and none after it
    assert milvus.list_partitions(f"{prefix}_chunks512") == ["_default"]
    assert len(milvus.list_partitions(f"{prefix}_chunks256")) == 2


def test_a_first_build_killed_before_its_switch_is_finished_by_the_next_rag_index(tmp_path: Path) -> None:
    from tests.unit.test_segments import KILLED_WRITER, _stored

    index_dir = tmp_path / "index"
    script = KILLED_WRITER.format(root=str(Path(__file__).parents[2]), module="rag.indexing", function="publish",
                                  before="pass", settings=MILVUS)
    result = subprocess.run([sys.executable, "-c", script, str(BUNDLED_CORPUS), str(index_dir)], capture_output=True,
                            timeout=120, check=False)
    assert result.returncode == -9, result.stderr.decode()
    assert len(_stored(index_dir, "milvus")) == 1 and not SegmentedIndex.exists(index_dir)  # rows, but no version
    index, report = _index(BUNDLED_CORPUS, index_dir, **MILVUS)  # no --force needed: the rows were ours
    assert len(report.added) == 5 and _stored(index_dir, "milvus") == {index.segments[0].name}

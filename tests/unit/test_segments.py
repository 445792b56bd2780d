"""The index as segments: an added report writes one small segment, a changed or deleted one leaves
tombstones that no search returns, compaction merges, and a writer killed at any point loses nothing.

Each test runs against both backends (the ``backend`` fixture): real FAISS, SQLite and bm25s files on
disk, and Milvus Lite (a real engine, in the index folder). The fake embedder keeps it fast (tests/fakes.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rag.indexing import update_index
from rag.settings import Settings
from rag.store.faiss_files import FaissSegment
from rag.store.index import SegmentedIndex
from rag.store.integrity import read_pointer
from rag.types import ParagraphKey
from tests.conftest import BACKENDS
from tests.fakes import FakeEmbedder

TOPICS = ["amber seizures in Riga", "tobacco smuggling in Narva", "cash couriers at Vilnius airport",
          "counterfeit watches in Gdansk", "fuel smuggling near Brest", "cigarette lorries at Terespil"]


def _write(corpus: Path, number: int, topic: str | None = None, extra: str = "") -> None:
    topic = topic or TOPICS[number]
    (corpus / f"r{number}.txt").write_text(
        f"Report {number}\n\nCustoms officers reported {topic} in 2019.{extra}\n\nA second paragraph on {topic}.\n",
        encoding="utf-8")


KEEP_TOMBSTONES = {"max_deleted_fraction": 0.9}  # with 3-report corpora one change is a third of a segment


def _build(tmp_path: Path, backend: str = "faiss", reports: int = 3, **overrides: object) -> tuple[Path, Path]:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for number in range(reports):
        _write(corpus, number)
    _update(corpus, index_dir, backend, **overrides)
    return corpus, index_dir


def _update(corpus: Path, index_dir: Path, backend: str = "faiss", compact: bool = False, **index: object):
    """Build or update with these fields of the index section (``max_segments=2``)."""
    settings = Settings(index={"corpus_dir": corpus, "index_dir": index_dir,
                               **KEEP_TOMBSTONES, **BACKENDS[backend], **index}).index
    return update_index(corpus, index_dir, FakeEmbedder(), settings, compact=compact)


def _stored(index_dir: Path, backend: str) -> set[str]:
    """The segments whose rows are stored: folders (also one still being written), or Milvus partitions."""
    if backend == "faiss":
        return {p.name for p in index_dir.iterdir() if p.is_dir() and p.name.startswith(("s-", ".tmp-"))}
    from rag.store.milvus_client import client, collection_prefix, resolve_uri

    milvus = client(resolve_uri(index_dir, ""))
    prefix = collection_prefix(index_dir, "")
    partitions = {p for c in milvus.list_collections() if c.startswith(prefix) for p in milvus.list_partitions(c)}
    return {p.replace("_", "-") for p in partitions - {"_default"}}


def _fingerprint(index_dir: Path, segment: FaissSegment) -> object:
    """What changes if a segment is rewritten: its files' inodes and times, or its Milvus rows."""
    if segment.record.store == "files":
        return _files(index_dir / segment.name)
    return [*segment.records.paragraphs()], [*segment.records.chunks()], segment.vectors_at(range(4)).tolist()


def _docs_found(index: SegmentedIndex, question: str) -> set[str]:
    vector = FakeEmbedder().encode([question])[0]
    return {c.doc_id for c, _ in index.search(vector, 50)} | {k.doc_id for k in index.keyword_search(question, 50)}


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_adding_a_report_writes_one_small_segment_and_touches_no_other(tmp_path: Path, backend: str) -> None:
    corpus, index_dir = _build(tmp_path, backend)
    first = SegmentedIndex.load(index_dir).segments[0]
    before = _fingerprint(index_dir, first)
    _write(corpus, 3)
    index, report = _update(corpus, index_dir, backend)
    assert report.added == ["r3.txt"] and report.embedded_chunks > 0
    assert index.segments[0].name == first.name and len(index.segments) == 2
    assert _fingerprint(index_dir, index.segments[0]) == before  # the old segment is not rewritten
    assert {s.record.store for s in index.segments} == {"milvus" if backend == "milvus" else "files"}
    new = index.segments[1]
    assert (new.records.paragraph_count, index.document("r3.txt").segment) == (3, new.name)  # title, 2 paragraphs
    assert "r3.txt" in _docs_found(index, "counterfeit watches Gdansk")
    assert index.paragraph("r0.txt", 3).text == "A second paragraph on amber seizures in Riga."
    assert SegmentedIndex.load(index_dir, verify=True).paragraph_count == 12


def test_a_changed_report_leaves_a_tombstone_that_no_search_returns(tmp_path: Path, backend: str) -> None:
    corpus, index_dir = _build(tmp_path, backend)
    question = "tobacco smuggling Narva"
    vector = FakeEmbedder().encode([question])[0]

    def old_text_found(index: SegmentedIndex) -> bool:
        chunks = [c.embed_text for c, _ in index.search(vector, 50)]
        segment = index.segments[0]
        rows = [row for row, _ in segment.keyword_search(question, 50)]
        return any("Narva" in text for text in chunks + [p.text for p in segment.records.paragraph_at(rows)])

    assert old_text_found(SegmentedIndex.load(index_dir))
    _write(corpus, 1, "heroin in lorry tyres")
    index, report = _update(corpus, index_dir, backend)
    assert report.updated == ["r1.txt"] and len(index.segments) == 2
    old, new = index.segments
    assert old.record.deleted == ["r1.txt"] and index.document("r1.txt").segment == new.name
    assert old.records.paragraph(ParagraphKey("r1.txt", 3)) is not None  # the old rows are still in the file ...
    assert not old_text_found(index)  # ... but no search returns them
    assert index.paragraph("r1.txt", 3).text == "A second paragraph on heroin in lorry tyres."
    assert index.paragraph_count == 9 and len(index.paragraphs) == 9


def test_a_deleted_report_is_gone_from_every_search_and_lookup(tmp_path: Path, backend: str) -> None:
    corpus, index_dir = _build(tmp_path, backend)
    (corpus / "r2.txt").unlink()
    index, report = _update(corpus, index_dir, backend)
    assert report.removed == ["r2.txt"] and index.segments[0].record.deleted == ["r2.txt"]
    assert "r2.txt" not in _docs_found(index, "cash couriers Vilnius airport")
    with pytest.raises(KeyError):
        index.paragraph("r2.txt", 1)
    assert index.paragraph_count == 6 and {p.doc_id for p in index.paragraphs} == {"r0.txt", "r1.txt"}


def test_compaction_merges_segments_drops_deleted_rows_and_searches_as_before(tmp_path: Path, backend: str) -> None:
    corpus, index_dir = _build(tmp_path, backend, reports=2)
    for number in (2, 3, 4):
        _write(corpus, number)
        _update(corpus, index_dir, backend)
    (corpus / "r0.txt").unlink()
    _write(corpus, 1, "heroin in lorry tyres")
    spread, _ = _update(corpus, index_dir, backend)
    assert len(spread.segments) >= 4
    question = FakeEmbedder().encode(["smuggling customs report"])[0]
    expected = sorted((-round(s, 5), c.key) for c, s in spread.search(question, 8))
    compacted, _ = _update(corpus, index_dir, backend, compact=True)
    merged = compacted.segments[0].name
    assert len(compacted.segments) == 1 and not compacted.segments[0].record.deleted
    assert compacted.segments[0].records.paragraph_count == compacted.paragraph_count == 12
    assert sorted((-round(s, 5), c.key) for c, s in compacted.search(question, 8)) == expected  # exact: same
    live = {p.name for p in index_dir.iterdir() if p.name.startswith(("s-", "v-"))}
    if backend == "faiss":
        assert live == {merged, read_pointer(index_dir).version}  # merged segments removed
    else:  # Milvus rows of the version just replaced stay for its readers until the next write
        assert live == {read_pointer(index_dir).version}
        assert _stored(index_dir, backend) == {merged} | {s.name for s in spread.segments}
        _write(corpus, 5)
        index, _ = _update(corpus, index_dir, backend)
        assert _stored(index_dir, backend) == {s.name for s in index.segments} and merged in _stored(index_dir, backend)


def test_more_segments_than_allowed_are_merged_keeping_the_largest(tmp_path: Path, backend: str) -> None:
    corpus, index_dir = _build(tmp_path, backend, reports=3, max_segments=2)
    largest = SegmentedIndex.load(index_dir).segments[0].name
    for number in (3, 4, 5):
        _write(corpus, number)
        index, _ = _update(corpus, index_dir, backend, max_segments=2)
        assert len(index.segments) <= 2
    assert index.segments[0].name == largest and index.paragraph_count == 18


def test_a_segment_mostly_deleted_is_rewritten(tmp_path: Path, backend: str) -> None:
    corpus, index_dir = _build(tmp_path, backend, reports=4)
    for number in (0, 1):
        (corpus / f"r{number}.txt").unlink()
    index, _ = _update(corpus, index_dir, backend, max_deleted_fraction=0.4)
    assert len(index.segments) == 1 and not index.segments[0].record.deleted
    assert index.segments[0].records.paragraph_count == 6


def test_auto_index_type_follows_the_segment_size(tmp_path: Path) -> None:  # FAISS only: Milvus has one type
    corpus, index_dir = _build(tmp_path, reports=3, flat_max_vectors=8, large_index_type="HNSW32")
    index = SegmentedIndex.load(index_dir)
    assert [s.record.index_type for s in index.segments] == ["HNSW32"]  # 3 reports: more than 8 vectors
    assert "HNSW" in type(index.faiss).__name__
    _write(corpus, 3)
    index, _ = _update(corpus, index_dir, flat_max_vectors=8, large_index_type="HNSW32")
    assert [s.record.index_type for s in index.segments] == ["HNSW32", "Flat"]  # the small new one is exact
    assert "r3.txt" in _docs_found(index, "counterfeit watches Gdansk")
    index, _ = _update(corpus, index_dir, index_type="Flat")  # an explicit type: every segment rebuilt with it
    assert [s.record.index_type for s in index.segments] == ["Flat"]


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {root!r})
import {module} as target
from rag.indexing import update_index
from rag.settings import Settings
from tests.fakes import FakeEmbedder

real = target.{function}
def killed(*args, **kwargs):
    {before}
    os.kill(os.getpid(), signal.SIGKILL)
target.{function} = killed
corpus, index_dir = Path(sys.argv[1]), Path(sys.argv[2])
update_index(corpus, index_dir, FakeEmbedder(),
             Settings(index={{"corpus_dir": corpus, "index_dir": index_dir, **{settings!r}}}).index)
"""

KILL_POINTS = {  # where `rag index` dies: (module, function patched, what runs first), per backend
    "while writing the new segment": {"faiss": ("rag.store.faiss_files", "write_records", "real(*args, **kwargs)"),
                                      # Milvus: the paragraphs are in (not flushed), the chunks not yet
                                      "milvus": ("rag.store.milvus", "insert_rows", "real(*args, **kwargs)")},
    "after the segment, before the manifest": {"faiss": ("rag.indexing", "publish", "pass"),
                                               "milvus": ("rag.indexing", "publish", "pass")},
    "just before CURRENT switches": {"faiss": ("rag.store.versions", "write_pointer", "real(*args, **kwargs)"),
                                     "milvus": ("rag.store.versions", "write_pointer", "real(*args, **kwargs)")},
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_9_during_rag_index_leaves_the_previous_version_live_and_the_next_run_cleans_up(
        tmp_path: Path, point: str, backend: str) -> None:
    corpus, index_dir = _build(tmp_path, backend)
    before = SegmentedIndex.load(index_dir)
    stored = _stored(index_dir, backend)
    _write(corpus, 3)
    (corpus / "r0.txt").unlink()
    module, function, first = KILL_POINTS[point][backend]
    script = KILLED_WRITER.format(root=str(Path(__file__).parents[2]), module=module, function=function,
                                  before=first, settings={**KEEP_TOMBSTONES, **BACKENDS[backend]})
    if backend == "milvus":  # Milvus Lite: one process at a time
        from rag.store.milvus_client import release_all

        release_all()
    result = subprocess.run([sys.executable, "-c", script, str(corpus), str(index_dir)], capture_output=True,
                            timeout=120, check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    after = SegmentedIndex.load(index_dir, verify=True)  # the previous version, whole (Milvus: row counts checked)
    assert sorted(after.manifest.documents) == sorted(before.manifest.documents) == ["r0.txt", "r1.txt", "r2.txt"]
    assert len(_docs_found(after, "cash couriers Vilnius airport")) > 0
    assert len(_stored(index_dir, backend)) == len(stored) + 1  # the killed writer's whole or partial segment ...
    index, report = _update(corpus, index_dir, backend)
    assert report.added == ["r3.txt"] and report.removed == ["r0.txt"]
    names = {p.name for p in index_dir.iterdir()} - {".lock", "CURRENT", "milvus.db"}
    assert names == {read_pointer(index_dir).version} | {s.name for s in index.segments if s.record.store == "files"}
    assert _stored(index_dir, backend) == {s.name for s in index.segments}  # ... and now gone
    assert "r3.txt" in _docs_found(index, "counterfeit watches Gdansk")


def test_a_file_whose_size_and_mtime_are_unchanged_is_not_hashed_again(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for number in range(3):
        _write(corpus, number)
        os.utime(corpus / f"r{number}.txt", ns=(1_600_000_000_000_000_000,) * 2)  # written long ago
    _update(corpus, index_dir)
    _write(corpus, 1, "heroin in lorry tyres")  # changed now: its mtime is too recent to trust later
    from rag import indexing as indexer

    hashed: list[str] = []
    real = indexer.file_sha256
    monkeypatch.setattr(indexer, "file_sha256", lambda path: hashed.append(path.name) or real(path))
    _, report = _update(corpus, index_dir)
    assert report.updated == ["r1.txt"] and hashed == ["r1.txt"]  # r0 and r2: stat only
    hashed.clear()
    _, report = _update(corpus, index_dir)
    assert not report.changed and hashed == ["r1.txt"]  # a just-written file is hashed until its mtime is old


def test_records_read_thousands_of_rows_at_once(tmp_path: Path) -> None:
    """SQLite limits bound variables (999 in older builds): large reads go in parts, in the order asked."""
    from rag.documents.paragraphs import Chunk, Paragraph
    from rag.store.records import SqliteRecords, write_records

    paragraphs = [Paragraph(f"d{n // 10:04d}.txt", n % 10 + 1, f"text {n}", n, n + 1) for n in range(3000)]
    chunks = [Chunk(p.doc_id, p.paragraph, p.start, p.end, p.text) for p in paragraphs]
    write_records(tmp_path / "records.sqlite", paragraphs, chunks)
    records = SqliteRecords(tmp_path / "records.sqlite")
    rows = list(range(2999, -1, -1)) + [5]
    assert [c.embed_text for c in records.chunks_at(rows)] == [f"text {r}" for r in rows]
    assert len(records.doc_paragraph_rows({p.doc_id for p in paragraphs})) == 3000


def test_large_segments_get_an_inverted_file_sized_to_them(tmp_path: Path) -> None:
    """The default approximate type: IVF with ~4·√n lists (at least 39 training points each), SQ8 codes."""
    from rag.store.faiss_types import choose_index_type, inverted_lists

    assert [inverted_lists(n) for n in (9, 100_000, 1_000_000)] == [1, 1024, 4096]
    assert choose_index_type("auto", 1_000_000, 100_000, "IVF{nlist},SQ8") == "IVF4096,SQ8"
    assert choose_index_type("auto", 100_000, 100_000, "IVF{nlist},SQ8") == "Flat"
    _, index_dir = _build(tmp_path, reports=6, flat_max_vectors=8)  # the default large type
    index = SegmentedIndex.load(index_dir)
    assert [s.record.index_type for s in index.segments] == ["IVF1,SQ8"]
    assert "r4.txt" in _docs_found(index, "fuel smuggling Brest")

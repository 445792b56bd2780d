"""A flipped bit never changes an answer silently: a reading process checks every index file once, when it opens it.

A probe run found: one flipped bit in ``records.sqlite`` changed a date ``rag search`` printed ("03 February
2009" where the report says 02) with exit 0; a flipped exponent bit in ``vectors.npy`` silently changed a
score; and a damaged page of ``records.sqlite`` read after opening gave "unexpected DatabaseError: database
disk image is malformed". Loads checked sizes only. Real index files on disk; the fake embedder keeps it fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexCorrupt
from rag.indexing import update_index
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.store.index import SegmentedIndex
from tests.conftest import segment_dir
from tests.fakes import FakeEmbedder, FakeLLM

REPORT = "Seizure report\n\nOn 02 February 2009 officers at Aktau seized 35 kg of heroin.\n"


def _index(tmp_path: Path) -> tuple[Settings, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "aktau.txt").write_text(REPORT, encoding="utf-8")
    settings = Settings(index={"corpus_dir": corpus, "index_dir": tmp_path / "index"})
    update_index(corpus, tmp_path / "index", FakeEmbedder(), settings.index)
    return settings, segment_dir(tmp_path / "index")


def _pipeline(settings: Settings) -> Pipeline:
    return Pipeline(settings, embedder=FakeEmbedder(), llm=FakeLLM())


def test_a_changed_date_in_the_records_is_caught_before_any_answer(tmp_path: Path) -> None:
    settings, segment = _index(tmp_path)
    records = segment / "records.sqlite"
    data = records.read_bytes()
    assert data.count(b"02 February 2009") >= 1
    records.write_bytes(data.replace(b"02 February 2009", b"03 February 2009"))  # same size: one bit
    SegmentedIndex.load(settings.resolved_index_dir())  # sizes alone: it opens
    with pytest.raises(IndexCorrupt) as error:
        _pipeline(settings).retrieve("When did officers at Aktau seize heroin?")
    message = str(error.value)
    assert "records.sqlite does not match its checksum" in message and "rag index" in message
    assert "\n" not in message


def test_a_flipped_exponent_bit_in_the_vectors_is_caught_before_any_score(tmp_path: Path) -> None:
    settings, segment = _index(tmp_path)
    vectors = np.load(segment / "vectors.npy")
    raw = bytearray((segment / "vectors.npy").read_bytes())
    raw[len(raw) - vectors.nbytes + 3] ^= 0x40  # the exponent of the first float
    (segment / "vectors.npy").write_bytes(bytes(raw))
    with pytest.raises(IndexCorrupt, match="vectors.npy does not match its checksum"):
        _pipeline(settings).retrieve("heroin at Aktau")


def test_damaged_records_read_without_checksums_are_one_line_naming_the_file_and_the_repair(tmp_path: Path) -> None:
    """What a plain load (sizes only: a writer's own fresh files) meets when a page is damaged anyway."""
    settings, segment = _index(tmp_path)
    records = segment / "records.sqlite"
    data = bytearray(records.read_bytes())
    for at in range(len(data) // 2, len(data)):
        data[at] ^= 0xFF  # the second half of the file: the pages that hold the rows
    records.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt) as error:
        index = SegmentedIndex.load(settings.resolved_index_dir())
        _ = index.paragraphs
    message = str(error.value)
    assert "records.sqlite" in message and "repairs it" in message, message
    assert "unexpected" not in message and "\n" not in message


def test_a_records_file_that_fails_after_opening_is_one_line(tmp_path: Path) -> None:
    """SQLite reads pages as they are needed: a page damaged after the checks is met by a query, mid-answer."""
    import sqlite3

    settings, segment = _index(tmp_path)
    index = SegmentedIndex.load(settings.resolved_index_dir(), checksums=True)
    records = index.segments[0].records
    records._db = sqlite3.connect(":memory:", check_same_thread=False)  # type: ignore[attr-defined]  # no tables
    with pytest.raises(IndexCorrupt) as error:
        _ = index.paragraphs
    message = str(error.value)
    assert f"{segment.name}/records.sqlite cannot be read (no such table: paragraphs)" in message
    assert f"--index-dir {settings.resolved_index_dir()}` repairs it" in message and "\n" not in message

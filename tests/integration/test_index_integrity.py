"""Every damaged index state a probe run found: one line naming the file and the fix, then a repair.

The files live in a segment folder (vectors, FAISS, SQLite records, BM25); the version folder holds
the manifest, whose checksums cover every segment file.

The probe: an empty ``vectors.npy`` gave "unexpected Abort"; an empty ``paragraphs.jsonl``
gave a ValueError and `rag index` then kept it broken; 7 of 9 single-bit flips went
unnoticed; a garbage or folder ``CURRENT``, a chunk pointing at a missing paragraph and a
document missing from the manifest gave "unexpected ..." errors with no hint.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from embeddings import Embedder
from rag.errors import IndexCorrupt
from rag.indexing import update_index
from rag.store.index import CURRENT, SegmentedIndex
from rag.store.integrity import read_pointer
from tests.conftest import segment_dir, settings_for
from tests.integration.test_index import CountingEmbedder


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> tuple[Path, Path]:
    """A small corpus and its index, built once; each test damages a copy."""
    root = tmp_path_factory.mktemp("integrity")
    corpus = root / "corpus"
    corpus.mkdir()
    for number, topic in enumerate(["amber seizures in Riga", "tobacco smuggling in Narva", "cash couriers"]):
        (corpus / f"r{number}.txt").write_text(
            f"Report {number}\n\nCustoms officers reported {topic} in 2019.\n\nA second paragraph on {topic}.\n",
            encoding="utf-8")
    update_index(corpus, root / "index", embedder, settings_for(corpus, root / "index").index)
    return corpus, root / "index"


def _flip_bit(path: Path, at: float = 0.7) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x04
    path.write_bytes(bytes(data))


def _orphan_chunk(segment: Path) -> None:
    """A chunk pointing at a paragraph the segment does not hold: same size on disk, so only the keys can tell."""
    import sqlite3

    connection = sqlite3.connect(segment / "records.sqlite")
    connection.execute("UPDATE chunks SET paragraph = 9 WHERE row = 0")
    connection.commit()
    connection.close()


def _drop_document_and_checksum(index_dir: Path, version: Path) -> None:
    """A manifest that lost a document, and a CURRENT without its checksum (so only consistency can tell)."""
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    manifest["documents"].pop("r1.txt")
    (version / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (index_dir / CURRENT).write_text(version.name + "\n", encoding="utf-8")


Damage = Callable[[Path, Path, Path], object]  # (index_dir, version, segment) -> damage one file
DAMAGE: dict[str, tuple[Damage, str, bool]] = {
    # case: (how to damage, the file the one-line error must name, whether only `verify` (checksums,
    # consistency of every row: `rag index`, `--check`) finds it; a plain load checks sizes and counts)
    "empty vectors.npy": (lambda d, v, s: (s / "vectors.npy").write_bytes(b""), "vectors.npy", False),
    "empty records.sqlite": (lambda d, v, s: (s / "records.sqlite").write_bytes(b""), "records.sqlite", False),
    "truncated index.faiss": (lambda d, v, s: (s / "index.faiss").write_bytes((s / "index.faiss").read_bytes()[:100]),
                              "index.faiss", False),
    "missing vectors.npy": (lambda d, v, s: (s / "vectors.npy").unlink(), "vectors.npy", False),
    "garbage manifest.json": (lambda d, v, s: (v / "manifest.json").write_text("{not json"), "manifest.json", False),
    "flipped bit in manifest.json": (lambda d, v, s: _flip_bit(v / "manifest.json", 0.3), "manifest.json", False),
    "chunk points at a missing paragraph": (lambda d, v, s: _orphan_chunk(s), "records.sqlite", True),
    "document missing from the manifest": (lambda d, v, s: _drop_document_and_checksum(d, v), "manifest.json", True),
}
BIT_FLIPS = ["vectors.npy", "records.sqlite", "index.faiss"]
NO_POINTER = {  # no valid CURRENT: a read fails, and `rag index` needs --force
    "garbage CURRENT": lambda d: (d / CURRENT).write_text("\x00garbage\n"),
    "CURRENT is a folder": lambda d: ((d / CURRENT).unlink(), (d / CURRENT).mkdir()),
    "CURRENT is missing": lambda d: (d / CURRENT).unlink(),
    "CURRENT names no version": lambda d: (d / CURRENT).write_text("v-20990101T000000-deadbeef\n"),
}


def _copy(pristine: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """A copy of the pristine index: (corpus, index folder, its version folder, its segment folder)."""
    corpus, index_dir = pristine
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy)
    return corpus, copy, copy / read_pointer(copy).version, segment_dir(copy)


def _assert_one_line(error: pytest.ExceptionInfo, *needles: str) -> None:
    message = str(error.value)
    assert "\n" not in message and "unexpected" not in message
    for needle in needles:
        assert needle in message, message


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_is_named_on_load_and_repaired_by_rag_index(pristine: tuple[Path, Path], tmp_path: Path,
                                                           embedder: Embedder, case: str) -> None:
    corpus, index_dir, version, segment = _copy(pristine, tmp_path)
    damage, culprit, needs_verify = DAMAGE[case]
    damage(index_dir, version, segment)
    if needs_verify:
        SegmentedIndex.load(index_dir)  # sizes and counts agree: a plain load, as for each question, opens it
    with pytest.raises(IndexCorrupt) as error:
        SegmentedIndex.load(index_dir, verify=needs_verify)
    readable = case != "garbage manifest.json" and "bit" not in case  # else the corpus is not known any more
    _assert_one_line(error, culprit, f"rag index {corpus if readable else 'FOLDER'} --index-dir {index_dir}")

    counting = CountingEmbedder(embedder)
    _, report = update_index(corpus, index_dir, counting, settings_for(corpus, index_dir).index)
    assert report.rebuilt_because and culprit in report.rebuilt_because
    repaired = SegmentedIndex.load(index_dir, verify=True)
    assert len(repaired.manifest.documents) == 3 and len(repaired.paragraphs) == 9
    if case in ("truncated index.faiss", "document missing from the manifest"):  # vectors verify: none re-embedded
        assert counting.texts == []


@pytest.mark.parametrize("name", BIT_FLIPS)
def test_a_flipped_bit_is_caught_by_check_and_never_reused(pristine: tuple[Path, Path], tmp_path: Path,
                                                           embedder: Embedder, name: str) -> None:
    corpus, index_dir, _, segment = _copy(pristine, tmp_path)
    _flip_bit(segment / name)
    with pytest.raises(IndexCorrupt) as error:
        SegmentedIndex.load(index_dir, verify=True)  # what `rag index --check` and `rag index` do
    _assert_one_line(error, name, "does not match its checksum")

    counting = CountingEmbedder(embedder)
    update_index(corpus, index_dir, counting, settings_for(corpus, index_dir).index)
    SegmentedIndex.load(index_dir, verify=True)
    assert bool(counting.texts) == (name in ("vectors.npy", "records.sqlite"))  # damaged vectors are re-embedded


@pytest.mark.parametrize("case", list(NO_POINTER))
def test_a_folder_without_a_valid_current_is_never_overwritten_without_force(
        pristine: tuple[Path, Path], tmp_path: Path, embedder: Embedder, case: str) -> None:
    corpus, index_dir, _, segment = _copy(pristine, tmp_path)
    NO_POINTER[case](index_dir)
    before = sorted(p.name for p in index_dir.iterdir())
    with pytest.raises(IndexCorrupt) as error:
        SegmentedIndex.load(index_dir)
    _assert_one_line(error, "--force")
    with pytest.raises(IndexCorrupt):
        update_index(corpus, index_dir, embedder, settings_for(corpus, index_dir).index)
    assert sorted(p.name for p in index_dir.iterdir()) == before and (segment / "vectors.npy").exists()

    counting = CountingEmbedder(embedder)
    update_index(corpus, index_dir, counting, settings_for(corpus, index_dir).index, force=True)
    assert len(SegmentedIndex.load(index_dir, verify=True).paragraphs) == 9
    assert counting.texts == []  # the lost version's vectors verified and were reused


def test_foreign_files_are_kept_even_with_force(pristine: tuple[Path, Path], tmp_path: Path,
                                                embedder: Embedder) -> None:
    corpus, _ = pristine
    target = tmp_path / "notes"
    target.mkdir()
    (target / "thesis.docx").write_bytes(b"precious")
    with pytest.raises(IndexCorrupt, match="holds files but no index"):
        update_index(corpus, target, embedder, settings_for(corpus, target).index)
    update_index(corpus, target, embedder, settings_for(corpus, target).index, force=True)
    assert (target / "thesis.docx").read_bytes() == b"precious" and SegmentedIndex.exists(target)


def test_the_manifest_alone_is_read_and_verified(pristine: tuple[Path, Path], tmp_path: Path) -> None:
    """What uploads need (the corpus an index was built from) costs one small file, still checksummed."""
    corpus, index_dir, version, segment = _copy(pristine, tmp_path)
    (segment / "vectors.npy").write_bytes(b"")  # records are not read at all
    assert SegmentedIndex.read_manifest(index_dir).corpus_root == str(corpus)
    _flip_bit(version / "manifest.json", 0.3)
    with pytest.raises(IndexCorrupt, match="manifest.json does not match its checksum"):
        SegmentedIndex.read_manifest(index_dir)

"""The index deletes only what it wrote, writes nothing where it was refused, and cleans up after a killed writer.

A probe run found: ``rag index --force`` deleted a user's ``s-budget.xlsx``, ``v-2024-plan.txt``, ``s-archive/``,
``.tmp-keep`` and ``.CURRENT.bak`` (cleanup removed any name with the index's prefixes); a refused ``rag index``
still created ``.lock`` in the user's folder; ``rag serve --index-dir TYPO`` built an index there; and after a
writer was killed, its temporary folder or a whole replaced version stayed until something else changed.
Real FAISS, SQLite and bm25s files on disk; the fake embedder keeps it fast.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.errors import IndexCorrupt, IndexNotFound
from rag.indexing import update_index
from rag.settings import Settings
from rag.store.index import CURRENT, SegmentedIndex
from rag.store.integrity import LOCK, is_own, read_pointer
from tests.fakes import FakeEmbedder


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for number, topic in enumerate(["amber seizures in Riga", "tobacco smuggling in Narva"]):
        (corpus / f"r{number}.txt").write_text(f"Report {number}\n\nCustoms officers reported {topic}.\n",
                                               encoding="utf-8")
    return corpus


def _index(corpus: Path, index_dir: Path, force: bool = False, compact: bool = False) -> SegmentedIndex:
    settings = Settings(index={"corpus_dir": corpus, "index_dir": index_dir}).index
    return update_index(corpus, index_dir, FakeEmbedder(), settings, force=force, compact=compact)[0]


def _users_files(folder: Path) -> dict[str, bytes]:
    """Names like the index's own, that the index did not write."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "s-budget.xlsx").write_bytes(b"budget")
    (folder / "v-2024-plan.txt").write_bytes(b"plan")
    (folder / "s-archive").mkdir()
    (folder / "s-archive" / "old.txt").write_bytes(b"archive")
    (folder / ".tmp-keep").write_bytes(b"keep")
    (folder / ".CURRENT.bak").write_bytes(b"backup")
    (folder / "v-20240101T000000-deadbeef").mkdir()  # the index's own name, holding a file the index never writes
    (folder / "v-20240101T000000-deadbeef" / "notes.docx").write_bytes(b"notes")
    (folder / ".tmp-0badcafe").mkdir()
    (folder / ".tmp-0badcafe" / "thesis.pdf").write_bytes(b"thesis")
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _still_there(folder: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        assert (folder / name).read_bytes() == content, f"{name} was deleted or changed"


def test_force_keeps_every_file_the_index_did_not_write(tmp_path: Path) -> None:
    corpus, target = _corpus(tmp_path), tmp_path / "mine"
    users = _users_files(target)
    with pytest.raises(IndexCorrupt, match="holds files but no index"):
        _index(corpus, target)
    _index(corpus, target, force=True)
    _index(corpus, target, force=True, compact=True)  # a second version and segment: the first are cleaned up
    _still_there(target, users)
    assert len(SegmentedIndex.load(target, verify=True).paragraphs) == 4
    own = [p.name for p in target.iterdir() if is_own(p)]
    assert len([n for n in own if n.startswith("v-")]) == 1 and len([n for n in own if n.startswith("s-")]) == 1


def test_a_current_folder_with_files_in_it_is_refused_even_with_force(tmp_path: Path) -> None:
    corpus, target = _corpus(tmp_path), tmp_path / "mine"
    (target / CURRENT).mkdir(parents=True)
    (target / CURRENT / "minutes.txt").write_text("minutes", encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="is a folder with files in it"):
        _index(corpus, target, force=True)
    assert (target / CURRENT / "minutes.txt").read_text(encoding="utf-8") == "minutes"
    assert not (target / LOCK).exists()


def test_a_refused_folder_gets_no_lock_file(tmp_path: Path) -> None:
    corpus, target = _corpus(tmp_path), tmp_path / "mine"
    target.mkdir()
    (target / "thesis.docx").write_bytes(b"precious")
    with pytest.raises(IndexCorrupt, match="--force"):
        _index(corpus, target)
    assert sorted(p.name for p in target.iterdir()) == ["thesis.docx"]


def test_an_index_folder_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    corpus, target = _corpus(tmp_path), tmp_path / "notes.txt"
    target.write_text("notes", encoding="utf-8")
    for attempt in (lambda: _index(corpus, target), lambda: SegmentedIndex.load(target), lambda: read_pointer(target)):
        with pytest.raises(IndexNotFound, match="is a file, not an index folder"):
            attempt()
    assert target.read_text(encoding="utf-8") == "notes"


def test_leftovers_of_a_killed_writer_go_with_the_next_run_even_when_nothing_changed(tmp_path: Path) -> None:
    corpus, index_dir = _corpus(tmp_path), tmp_path / "index"
    _index(corpus, index_dir)
    first = {p.name for p in index_dir.iterdir()}
    # a writer killed during compaction: its temporary folder, half-written
    half = index_dir / ".tmp-12345678"
    half.mkdir()
    (half / "vectors.npy").write_bytes(b"\x93NUMPY half")
    # a writer killed just after its switch: the version it replaced, with that version's segments, stays
    stale = tmp_path / "stale"
    shutil.copytree(index_dir, stale)
    _index(corpus, index_dir, compact=True)
    for name in first - {LOCK, CURRENT}:
        shutil.copytree(stale / name, index_dir / name, dirs_exist_ok=True)
    pointer = index_dir / ".CURRENT.abcdef12"
    pointer.write_text(f"{read_pointer(index_dir).version}\n", encoding="utf-8")  # a staged pointer, never switched
    assert len([p for p in index_dir.iterdir() if p.name.startswith("s-")]) == 2

    _index(corpus, index_dir)  # nothing changed in the corpus
    names = sorted(p.name for p in index_dir.iterdir())
    assert len([n for n in names if n.startswith("s-")]) == 1 and len([n for n in names if n.startswith("v-")]) == 1
    assert not half.exists() and not pointer.exists()
    assert len(SegmentedIndex.load(index_dir, verify=True).paragraphs) == 4


def test_a_first_build_killed_before_its_switch_needs_no_force(tmp_path: Path) -> None:
    corpus, index_dir = _corpus(tmp_path), tmp_path / "index"
    _index(corpus, tmp_path / "other")
    segment = next(p for p in (tmp_path / "other").iterdir() if p.name.startswith("s-"))
    index_dir.mkdir()
    shutil.copytree(segment, index_dir / segment.name)  # the segment was written, the version never was
    (index_dir / LOCK).touch()
    with pytest.raises(IndexNotFound):
        SegmentedIndex.load(index_dir)
    _index(corpus, index_dir)  # no --force needed: nothing there is the user's
    live = {s.name for s in SegmentedIndex.read_manifest(index_dir).segments}
    assert segment.name not in live and not (index_dir / segment.name).exists()  # the orphan went
    assert len(SegmentedIndex.load(index_dir, verify=True).paragraphs) == 4


def test_serve_with_a_mistyped_index_folder_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.serve import serve

    typo = tmp_path / "idnex"
    workspace = tmp_path / "workspace"
    settings = Settings(index={"index_dir": typo}, ui={"workspace_corpus_dir": workspace, "port": 7999})
    monkeypatch.setattr("ui.serve.check_address", lambda host, port: None)
    with pytest.raises(IndexNotFound, match=f"no index at {typo}"):
        serve(settings, block=False)
    assert not typo.exists() and not workspace.exists()

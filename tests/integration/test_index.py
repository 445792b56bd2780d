"""The on-disk FAISS index: round trip, incremental updates, atomic writes, mismatch and corruption."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from embeddings import Embedder
from rag.documents.paragraphs import Paragraph, chunk_paragraph
from rag.errors import CorpusNotFound, IndexMismatch
from rag.indexing import update_index
from rag.store.index import CURRENT, SegmentedIndex
from tests.conftest import BACKENDS, SENTINEL, settings_for


class CountingEmbedder:
    """The real embedder, counting what it is asked to embed (and able to fail on demand)."""

    def __init__(self, inner: Embedder, fail: bool = False) -> None:
        self.inner, self.fail, self.texts = inner, fail, []
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self.count_tokens = inner.count_tokens

    def encode(self, texts, progress=False):
        self.texts.extend(texts)
        if self.fail and texts:
            raise KeyboardInterrupt("simulated crash in the middle of embedding")
        return self.inner.encode(texts, progress)


def _build(corpus: Path, index_dir: Path, embedder, **index):
    """Build or update with these fields of the index section."""
    return update_index(corpus, index_dir, embedder, settings_for(corpus, index_dir, index=index).index)


def test_round_trip_keeps_records_vectors_and_manifest(bundled_index_dir: Path, bundled_index: SegmentedIndex,
                                                       embedder: Embedder) -> None:
    reloaded = SegmentedIndex.load(bundled_index_dir)
    assert len(reloaded) == len(bundled_index) >= 59
    assert reloaded.paragraph(*SENTINEL).text.startswith("Whilst in Russia")
    np.testing.assert_array_equal(reloaded.vectors, bundled_index.vectors)
    manifest = reloaded.manifest
    assert (manifest.embedder, manifest.dim, manifest.index_type) == (embedder.name, 384, "auto")
    assert [s.record.index_type for s in reloaded.segments] == ["Flat"]  # "auto": exact search at this size
    assert len(manifest.documents) == 5 and all(len(d.sha256) == 64 for d in manifest.documents.values())
    assert {"faiss-cpu", "sentence-transformers"} <= set(manifest.versions)
    # The keyword model and FAISS index are saved with their segment and read on first use, never rebuilt.
    assert all(segment._bm25 is None and segment._faiss is None for segment in reloaded.segments)
    assert reloaded.keyword_search("Operation Sentinel", 3) and all(s._loaders for s in reloaded.segments)
    assert all(type(segment.bm25).__name__ == "BM25" for segment in reloaded.segments)
    # The stored search gives the same neighbours as a fresh query through FAISS.
    query = embedder.encode(["Operation Sentinel drug seizures"])[0]
    assert [c.key for c, _ in reloaded.search(query, 3)] == [c.key for c, _ in bundled_index.search(query, 3)]


def test_incremental_update_re_embeds_only_changed_files(corpus: Path, tmp_path: Path, embedder: Embedder,
                                                         backend: str) -> None:
    index_dir = tmp_path / "index"
    first = CountingEmbedder(embedder)
    _, report = _build(corpus, index_dir, first, **BACKENDS[backend])
    assert len(report.added) == 5 and report.embedded_chunks == len(first.texts) > 0

    # Unchanged corpus: nothing embedded, nothing written.
    version = (index_dir / CURRENT).read_text()
    again = CountingEmbedder(embedder)
    _, report = _build(corpus, index_dir, again, **BACKENDS[backend])
    assert again.texts == [] and not report.changed and (index_dir / CURRENT).read_text() == version

    # Edit one report, delete another, add a new one.
    edited = corpus / "001_14bcd5b15b6cd4c8.txt"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n\nThe forum closed with a gala dinner.\n",
                      encoding="utf-8")
    (corpus / "004_94483c790ad03595.txt").unlink()
    (corpus / "sub").mkdir()
    (corpus / "sub" / "new.md").write_text("# Baltic note\n\nRiga customs seized 7 tonnes of amber.\n",
                                           encoding="utf-8")
    third = CountingEmbedder(embedder)
    index, report = _build(corpus, index_dir, third, **BACKENDS[backend])
    assert report.updated == ["001_14bcd5b15b6cd4c8.txt"]
    assert report.removed == ["004_94483c790ad03595.txt"]
    assert report.added == ["sub/new.md"]
    assert sorted(report.unchanged) == ["000_75dd1b9587c7c497.txt", "002_50d104ffb6a67dba.txt",
                                        "003_b84c42ec5a69f457.txt"]
    reloaded = SegmentedIndex.load(index_dir)
    # Only the chunks of the edited and the new file were embedded; unchanged files kept their vectors.
    changed = {"001_14bcd5b15b6cd4c8.txt", "sub/new.md"}
    assert sorted(third.texts) == sorted(c.embed_text for c in reloaded.chunks if c.doc_id in changed)
    assert any("gala dinner" in t for t in third.texts) and any("amber" in t for t in third.texts)
    assert not any(p.doc_id == "004_94483c790ad03595.txt" for p in reloaded.paragraphs)
    assert reloaded.paragraph("001_14bcd5b15b6cd4c8.txt", 9).text == "The forum closed with a gala dinner."
    assert reloaded.paragraph("sub/new.md", 2).text.startswith("Riga customs")
    # Kept vectors are byte-identical to a fresh embedding of the same chunk.
    kept = [i for i, c in enumerate(reloaded.chunks) if c.key == SENTINEL]
    fresh = embedder.encode([reloaded.chunks[kept[0]].embed_text])[0]
    np.testing.assert_allclose(reloaded.vectors[kept[0]], fresh, atol=1e-5)
    assert len(index) == len(reloaded)


def test_crash_while_embedding_leaves_the_previous_index_usable(corpus: Path, tmp_path: Path,
                                                                embedder: Embedder, backend: str) -> None:
    index_dir = tmp_path / "index"
    _build(corpus, index_dir, embedder, **BACKENDS[backend])
    before = sorted(p.name for p in index_dir.iterdir())
    (corpus / "002_50d104ffb6a67dba.txt").write_text("Replaced\n\nNothing about operations here.\n", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        _build(corpus, index_dir, CountingEmbedder(embedder, fail=True), **BACKENDS[backend])
    assert sorted(p.name for p in index_dir.iterdir()) == before
    assert "Operation Sentinel" in SegmentedIndex.load(index_dir).paragraph(*SENTINEL).text


def test_crash_while_writing_leaves_the_previous_index_usable(corpus: Path, tmp_path: Path, embedder: Embedder,
                                                              monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    index_dir = tmp_path / "index"
    index, _ = _build(corpus, index_dir, embedder, **BACKENDS[backend])
    before = sorted(p.name for p in index_dir.iterdir())
    (corpus / "extra.txt").write_text("Extra\n\nA new paragraph.\n", encoding="utf-8")
    import faiss

    from rag.store import milvus

    def crash(*args):
        if backend == "milvus" and args[1].endswith("_paragraphs"):
            return real_insert(*args)  # the paragraphs are in, then the chunks fail
        raise OSError("disk full (simulated)")

    real_insert = milvus.insert_rows
    monkeypatch.setattr(faiss, "write_index", crash)
    monkeypatch.setattr(milvus, "insert_rows", crash)
    with pytest.raises(OSError, match="disk full"):
        _build(corpus, index_dir, embedder, **BACKENDS[backend])
    assert sorted(p.name for p in index_dir.iterdir()) == before  # temporary directory removed
    loaded = SegmentedIndex.load(index_dir)
    assert "extra.txt" not in loaded.manifest.documents and len(loaded.manifest.documents) == 5
    if backend == "milvus":  # the new segment's partial rows were dropped on the error
        from rag.store.milvus_client import client, collection_prefix, resolve_uri

        milvus = client(resolve_uri(index_dir, ""))
        assert milvus.list_partitions(f"{collection_prefix(index_dir, '')}_paragraphs") == [
            "_default", index.segments[0].name.replace("-", "_")]


def test_index_built_with_another_embedder_is_refused(bundled_index_dir: Path, embedder: Embedder) -> None:
    index = SegmentedIndex.load(bundled_index_dir)
    index.check_embedder(embedder.name, embedder.dim)
    with pytest.raises(IndexMismatch, match="re-index with `rag index`") as error:
        index.check_embedder("sentence-transformers/all-mpnet-base-v2", 768)
    assert "\n" not in str(error.value)


def test_mismatched_index_is_rebuilt_by_rag_index(corpus: Path, tmp_path: Path, embedder: Embedder,
                                                  backend: str) -> None:
    index_dir = tmp_path / "index"
    index, _ = _build(corpus, index_dir, embedder, **BACKENDS[backend])
    index.manifest.embedder = "some-other-model"
    index.save(index_dir)
    _, report = _build(corpus, index_dir, embedder, **BACKENDS[backend])
    assert "some-other-model" in report.rebuilt_because and len(report.added) == 5
    SegmentedIndex.load(index_dir).check_embedder(embedder.name, embedder.dim)


def test_binary_file_in_corpus_is_skipped_and_index_stays_whole(corpus: Path, tmp_path: Path,
                                                                embedder: Embedder) -> None:
    (corpus / "photo.txt").write_bytes(bytes(range(256)) * 10)
    (corpus / "legacy.txt").write_bytes("Acta de la reuni\u00f3n".encode("cp1252"))
    index, report = _build(corpus, tmp_path / "index", embedder)
    assert sorted(s.doc_id for s in report.skipped) == ["legacy.txt", "photo.txt"]
    assert len(index.manifest.documents) == 5


def test_missing_or_empty_corpus_is_a_clear_error(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(CorpusNotFound, match="corpus folder not found"):
        _build(tmp_path / "nope", tmp_path / "index", embedder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusNotFound, match="no readable documents"):
        _build(tmp_path / "empty", tmp_path / "index", embedder)
    assert not SegmentedIndex.exists(tmp_path / "index")


def test_other_faiss_index_types_by_config_string(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    index, _ = _build(corpus, tmp_path / "hnsw", embedder, index_type="HNSW32")
    query = embedder.encode(["What did Operation Sentinel seize?"])[0]
    assert SENTINEL in [c.key for c, _ in SegmentedIndex.load(tmp_path / "hnsw").search(query, 3)]
    assert "HNSW" in type(index.faiss).__name__


def test_long_paragraph_is_split_into_overlapping_pieces_keeping_its_number(embedder: Embedder) -> None:
    sentences = [f"Sentence number {i} describes customs cooperation between agencies in detail." for i in range(60)]
    text = " ".join(sentences)
    paragraph = Paragraph("long.txt", 4, text, 100, 100 + len(text))
    chunks = chunk_paragraph(paragraph, "A title", embedder.count_tokens, embedder.max_tokens, overlap_sentences=1)
    assert len(chunks) > 1
    assert all(c.paragraph == 4 and c.doc_id == "long.txt" for c in chunks)
    assert all(c.embed_text.startswith("A title\n") for c in chunks)
    assert all(embedder.count_tokens(c.embed_text) <= embedder.max_tokens for c in chunks)
    assert chunks[0].start == 100 and chunks[-1].end == 100 + len(text)
    for left, right in itertools.pairwise(chunks):
        assert right.start < left.end  # overlap: the next piece starts inside the previous one


def test_readers_never_see_a_half_switched_index(bundled_index_dir: Path, tmp_path: Path) -> None:
    """One thread keeps publishing new versions (deleting old ones) while another keeps loading."""
    import shutil
    import threading

    index_dir = tmp_path / "index"
    shutil.copytree(bundled_index_dir, index_dir)
    index = SegmentedIndex.load(index_dir)
    errors: list[Exception] = []
    stop = threading.Event()

    def publish() -> None:
        while not stop.is_set():
            index.save(index_dir)

    writer = threading.Thread(target=publish)
    writer.start()
    try:
        for _ in range(30):
            try:
                assert len(SegmentedIndex.load(index_dir)) == len(index)
            except Exception as exc:  # noqa: BLE001 - collected for the assertion below
                errors.append(exc)
    finally:
        stop.set()
        writer.join()
    assert errors == []
    assert len([p for p in index_dir.iterdir() if p.name.startswith("v-")]) == 1

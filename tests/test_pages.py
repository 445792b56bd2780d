"""A paragraph's page, as data: from ``Document.pages`` to ``Paragraph``, the index records and ``Citation``.

No model: ``FakeEmbedder`` over a real FAISS index in a temporary folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rag.ingest.documents import Document
from rag.ingest.index import CURRENT, FaissIndex
from rag.ingest.indexer import update_index
from rag.ingest.integrity import file_records, read_pointer, write_pointer
from rag.ingest.paragraphs import split_paragraphs
from rag.settings import Settings
from rag.types import Answer, Citation
from tests.fakes import FakeEmbedder
from tests.pdf_fixture import write_text_pdf


def test_a_paragraph_gets_the_page_it_starts_on() -> None:
    text = "Title\n\nFirst page paragraph.\n\nSecond page paragraph\ncontinues.\n\nThird page."
    starts = ((0, 1), (text.index("Second"), 2), (text.index("Third"), 3))
    paragraphs = split_paragraphs(Document("r.pdf", text, "Title", None, "0" * 64, starts))
    assert [(p.paragraph, p.page) for p in paragraphs] == [(1, 1), (2, 1), (3, 2), (4, 3)]
    assert all(text[p.start:p.end] == p.text for p in paragraphs)
    unpaged = split_paragraphs(Document("r.txt", text, "Title", None, "0" * 64))
    assert {p.page for p in unpaged} == {None}


def test_the_label_shows_the_page_beside_the_document_wide_paragraph() -> None:
    cited = Citation("report.pdf", 137, "Text.", 0.5, page=4)
    assert cited.label() == "report.pdf p. 4 ¶137" and cited.key == ("report.pdf", 137)
    assert Citation("002.txt", 9, "Text.", 0.5).label() == "002.txt ¶9"
    data = Answer("q", "Text [1].", False, citations=[cited, Citation("a.txt", 2, "T.", 0.1)]).to_dict()
    assert [(c["doc_id"], c["paragraph"], c["page"]) for c in data["citations"]] == [
        ("report.pdf", 137, 4), ("a.txt", 2, None)]


def _downgrade_to_format_1(index_dir: Path) -> None:
    """Rewrite the live version as the previous program wrote it: no ``page``, no ``reader``, format 1."""
    version = index_dir / read_pointer(index_dir).version
    paragraphs = version / "paragraphs.jsonl"
    rows = [json.loads(line) for line in paragraphs.read_text(encoding="utf-8").splitlines()]
    paragraphs.write_text("".join(json.dumps({k: v for k, v in row.items() if k != "page"}) + "\n" for row in rows),
                          encoding="utf-8")
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 1
    for document in manifest["documents"].values():
        del document["reader"]
    manifest["files"] = file_records(version)
    (version / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    os.replace(write_pointer(index_dir, version, "downgrade"), index_dir / CURRENT)


def test_pages_are_stored_and_a_format_1_index_loads_then_rereads_only_its_pdfs(tmp_path: Path) -> None:
    corpus, index_dir = tmp_path / "reports", tmp_path / "index"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Notes\n\nThe Narva crossing opened in 2011.\n", encoding="utf-8")
    write_text_pdf(corpus / "b.pdf", ["Pdf report title", "", "The Tallinn office seized 42 kg of tobacco."])
    settings = Settings(corpus_dir=corpus, index_dir=index_dir).index
    index, _ = update_index(corpus, index_dir, FakeEmbedder(), settings)
    assert {(p.doc_id, p.page) for p in FaissIndex.load(index_dir).paragraphs} == {("a.txt", None), ("b.pdf", 1)}
    assert index.manifest.format_version == 2 and index.document("b.pdf").reader

    _downgrade_to_format_1(index_dir)
    old = FaissIndex.load(index_dir, verify=True)  # loads: a missing page reads as None
    assert old.manifest.format_version == 1 and {p.page for p in old.paragraphs} == {None}

    index, report = update_index(corpus, index_dir, FakeEmbedder(), settings)
    assert report.unchanged == ["a.txt"] and report.updated == ["b.pdf"]  # only the PDF is read again
    assert index.manifest.format_version == 2
    assert {(p.doc_id, p.page) for p in FaissIndex.load(index_dir).paragraphs} == {("a.txt", None), ("b.pdf", 1)}

"""Documents -> paragraphs on the real bundled reports, other formats, and unreadable files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rag.documents.paragraphs import split_paragraphs
from rag.documents.readers import UnreadableFile, list_files, load_document, load_documents
from rag.settings import BUNDLED_CORPUS, Settings
from tests.pdf_fixture import write_text_pdf

EXPECTED_PARAGRAPHS = {
    "000_75dd1b9587c7c497.txt": 18,
    "001_14bcd5b15b6cd4c8.txt": 8,
    "002_50d104ffb6a67dba.txt": 13,
    "003_b84c42ec5a69f457.txt": 11,
    "004_94483c790ad03595.txt": 9,
}


def _bundled():
    documents, skipped = load_documents(BUNDLED_CORPUS, list_files(BUNDLED_CORPUS, [".txt"]))
    assert skipped == []
    return {d.doc_id: d for d in documents}


def test_bundled_corpus_is_the_five_shared_reports() -> None:
    shared = Path(__file__).resolve().parents[3] / "shared" / "corpus"
    names = sorted(p.name for p in BUNDLED_CORPUS.iterdir())
    assert names == sorted(EXPECTED_PARAGRAPHS)
    if shared.is_dir():  # beside the checkout in CI: the bundled copies are byte-identical
        for name in names:
            assert (BUNDLED_CORPUS / name).read_bytes() == (shared / name).read_bytes()


def test_paragraph_counts_ids_and_spans_on_real_reports() -> None:
    for doc_id, document in _bundled().items():
        paragraphs = split_paragraphs(document)
        assert len(paragraphs) == EXPECTED_PARAGRAPHS[doc_id]
        assert [p.paragraph for p in paragraphs] == list(range(1, len(paragraphs) + 1))
        for p in paragraphs:
            assert p.doc_id == doc_id
            assert document.text[p.start:p.end] == p.text
            assert p.text == p.text.strip() and "\n\n" not in p.text


def test_sentinel_is_paragraph_9_counting_every_block() -> None:
    paragraphs = split_paragraphs(_bundled()["002_50d104ffb6a67dba.txt"])
    assert paragraphs[0].text.startswith("Esta página no está disponible")  # the Spanish banner counts
    sentinel = paragraphs[8]
    assert sentinel.paragraph == 9
    assert "Operation Sentinel" in sentinel.text and "160 kg" in sentinel.text


def test_titles_skip_banners_and_dates_parse() -> None:
    documents = _bundled()
    assert documents["002_50d104ffb6a67dba.txt"].title == "10th International Exhibition, Customs 2009, in Moscow"
    assert documents["003_b84c42ec5a69f457.txt"].title.startswith("Meeting between senior executives")
    assert documents["000_75dd1b9587c7c497.txt"].date == "2009-02-02"
    assert documents["002_50d104ffb6a67dba.txt"].date == "2009-10-27"  # "27 octubre 2009"
    assert documents["003_b84c42ec5a69f457.txt"].date == "2006-01-11"  # not the "TODAY IS ... 2018" banner
    assert documents["004_94483c790ad03595.txt"].date == "2009-09-15"  # "September 15-17, 2009"


def test_markdown_html_and_pdf_are_loaded(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Harbour checks\n\nThe port of Kotka ran 12 checks.\n", encoding="utf-8")
    (tmp_path / "page.html").write_text(
        "<html><head><title>Border note</title><script>var x=1;</script></head><body>"
        "<h1>Border note</h1><p>The <b>Narva</b> crossing opened on 3 March 2011.</p>"
        "<div><p>Second paragraph.</p></div></body></html>", encoding="utf-8")
    write_text_pdf(tmp_path / "scan.pdf", ["Pdf report title", "", "The Tallinn office seized 42 kg of tobacco."])
    documents, skipped = load_documents(tmp_path, list_files(tmp_path, [".md", ".html", ".pdf"]))
    assert skipped == []
    by_id = {d.doc_id: d for d in documents}
    html = by_id["page.html"]
    assert "var x" not in html.text
    assert [p.text for p in split_paragraphs(html)][-2:] == [
        "The Narva crossing opened on 3 March 2011.", "Second paragraph."]
    assert html.date == "2011-03-03"
    assert by_id["notes.md"].title == "# Harbour checks"
    assert any("42 kg of tobacco" in p.text for p in split_paragraphs(by_id["scan.pdf"]))


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("empty.md", b"", "empty"),
        ("latin1.txt", "Caf\u00e9 report".encode("latin-1"), "not UTF-8"),
        ("blank.txt", b"  \n\n \n", "no text"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
    ],
)
def test_unreadable_files_are_skipped_with_a_one_line_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, content: bytes, reason: str) -> None:
    (tmp_path / "good.txt").write_text("Title\n\nA readable paragraph.\n", encoding="utf-8")
    (tmp_path / name).write_bytes(content)
    with caplog.at_level(logging.WARNING):
        documents, skipped = load_documents(tmp_path, list_files(tmp_path, [".txt", ".md", ".pdf"]))
    assert [d.doc_id for d in documents] == ["good.txt"]
    assert [s.doc_id for s in skipped] == [name] and reason in skipped[0].reason
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1 and name in warning[0] and "\n" not in warning[0]


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("x" * 2000, encoding="utf-8")
    with pytest.raises(UnreadableFile, match="larger than 1000 bytes"):
        load_document(tmp_path, path, max_bytes=1000)


def _write_docx(path: Path) -> None:
    """A Word report: a line before the heading, an empty paragraph, line breaks, a table with a merged cell."""
    from docx import Document as new_docx

    document = new_docx()
    document.add_paragraph("Draft for the regional board")
    document.add_heading("Harbour inspections at Kotka", level=1)
    document.add_paragraph("")  # Word's empty paragraphs are not paragraphs
    breaks = document.add_paragraph("On 12 May 2011 the port of Kotka ran 12 checks.").add_run()
    breaks.add_break()
    breaks.add_break()  # an empty line inside a Word paragraph does not split it
    document.paragraphs[-1].add_run("A second line of the same paragraph.")
    table = document.add_table(rows=3, cols=3)
    for row, cells in zip(table.rows, [("Port", "Checks", "Seized (kg)"), ("Kotka", "12", "42"), ("Hamina", "", "")]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    table.cell(2, 1).merge(table.cell(2, 2)).text = "closed"
    document.add_heading("Outcome", level=2)
    document.add_paragraph("The tobacco was destroyed.")
    document.save(str(path))


def test_word_files_keep_words_paragraphs_headings_and_tables(tmp_path: Path) -> None:
    _write_docx(tmp_path / "kotka.docx")
    documents, skipped = load_documents(tmp_path, list_files(tmp_path, Settings().index.extensions))
    assert skipped == []
    [document] = documents
    assert document.title == "Harbour inspections at Kotka"  # the first heading, not the line above it
    assert document.date == "2011-05-12" and document.pages == ()
    paragraphs = split_paragraphs(document)
    assert [(p.paragraph, p.text, p.page) for p in paragraphs] == [
        (1, "Draft for the regional board", None),
        (2, "Harbour inspections at Kotka", None),
        (3, "On 12 May 2011 the port of Kotka ran 12 checks.\nA second line of the same paragraph.", None),
        (4, "Port | Checks | Seized (kg)\nKotka | 12 | 42\nHamina | closed", None),
        (5, "Outcome", None),
        (6, "The tobacco was destroyed.", None),
    ]
    assert all(document.text[p.start:p.end] == p.text for p in paragraphs)


def test_a_broken_word_file_is_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "good.txt").write_text("Title\n\nA readable paragraph.\n", encoding="utf-8")
    documents, skipped = load_documents(tmp_path, list_files(tmp_path, [".txt", ".docx"]))
    assert [d.doc_id for d in documents] == ["good.txt"]
    assert [s.doc_id for s in skipped] == ["broken.docx"] and "unreadable Word file" in skipped[0].reason

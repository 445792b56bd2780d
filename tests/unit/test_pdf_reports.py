"""PDFs laid out as real reports (``tests.pdf_reports``) -> paragraphs with their pages; no model."""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

import pytest

from rag.documents.paragraphs import Paragraph, split_paragraphs
from rag.documents.readers import Document, load_documents
from tests.pdf_reports import EXPECTED, FOOTER, HEADER, SCANNED_PAGE, SCANNED_TEXT, write_report_pdf

SKIPPED = (f"report.pdf: page {SCANNED_PAGE} has no text layer (scanned?); skipped — install tesseract-ocr to "
           "read it")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pdf-reports")
    write_report_pdf(folder / "report.pdf")
    return folder


def _load(corpus: Path) -> tuple[Document, list[Paragraph]]:
    documents, skipped = load_documents(corpus, [corpus / "report.pdf"])
    assert skipped == []
    return documents[0], split_paragraphs(documents[0])


def _no_tesseract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rag.documents.pdf.shutil.which", lambda name: None)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_paragraphs_pages_and_numbers_of_a_two_column_report(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_tesseract(monkeypatch)
    document, paragraphs = _load(corpus)
    assert [(p.page, p.text) for p in paragraphs] == EXPECTED
    assert [p.paragraph for p in paragraphs] == list(range(1, len(EXPECTED) + 1))  # counted over the whole file
    assert all(document.text[p.start:p.end] == p.text for p in paragraphs)
    assert document.title == "Annual Review of the Baltic Customs Office"

    def find(fragment: str) -> Paragraph:
        [found] = [p for p in paragraphs if fragment in p.text]
        return found

    assert (find("Franco-German").paragraph, find("Baltic Shield").paragraph) == (4, 5)  # left column, then right
    running = find("northern border posts")  # from the foot of page 1's right column to the top of page 2
    assert (running.page, running.paragraph) == (1, 6) and running.text.endswith("with the new scanners.")
    assert (find("Paldiski").page, find("Paldiski").paragraph) == (4, 12)


def test_headers_footers_and_page_numbers_are_not_paragraphs(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_tesseract(monkeypatch)
    document, paragraphs = _load(corpus)
    assert HEADER not in document.text and FOOTER not in document.text
    assert not [p for p in paragraphs if re.fullmatch(r"\d+", p.text)]
    assert not re.search(r"(^|\n)\d\n", document.text)


def test_line_end_hyphens_are_joined_and_real_hyphens_kept(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_tesseract(monkeypatch)
    document, _ = _load(corpus)
    assert "the customs declarations" in document.text and "for the inspections of" in document.text
    assert "cus-" not in document.text and "inspec-" not in document.text
    assert "A Franco-German team" in document.text  # a capital after the hyphen: a real one
    assert "the well-known handlers" in document.text  # written "well-known" elsewhere in the report


def test_a_table_is_one_paragraph_of_rows(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_tesseract(monkeypatch)
    _, paragraphs = _load(corpus)
    [table] = [p for p in paragraphs if p.text.startswith("Port | ")]
    assert table.page == 2 and table.text.splitlines()[1] == "Tallinn | 12 | 42"


def test_a_scanned_page_gives_one_warning_and_the_rest_is_read(corpus: Path, monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    _no_tesseract(monkeypatch)
    with caplog.at_level(logging.WARNING):
        _, paragraphs = _load(corpus)
    assert _warnings(caplog) == [SKIPPED]
    assert SCANNED_PAGE not in {p.page for p in paragraphs} and len(paragraphs) == len(EXPECTED)


def _fake_tesseract(folder: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """A ``tesseract`` on the PATH: a Python script that checks it was given a 300 dpi A4 page image."""
    folder.mkdir()
    script = folder / "tesseract"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom PIL import Image\n"
                      "image, out = sys.argv[1:3]\nassert out == 'stdout', sys.argv\n"
                      "assert abs(Image.open(image).size[0] - 2480) <= 2, Image.open(image).size\n" + body,
                      encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")


def test_a_scanned_page_is_read_by_tesseract_when_it_is_installed(corpus: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    half = SCANNED_TEXT.index("destroyed")
    _fake_tesseract(tmp_path / "bin", monkeypatch,
                    f"print({SCANNED_TEXT[:half].strip()!r})\nprint({SCANNED_TEXT[half:]!r})\nprint()\n")
    with caplog.at_level(logging.WARNING):
        _, paragraphs = _load(corpus)
    assert _warnings(caplog) == []
    pages = [(p.page, p.text) for p in paragraphs]
    assert (SCANNED_PAGE, SCANNED_TEXT) in pages and pages[-3] == (SCANNED_PAGE, SCANNED_TEXT)  # in page order


def test_a_failing_tesseract_is_one_warning_not_a_crash(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    _fake_tesseract(tmp_path / "bin", monkeypatch,
                    "sys.stderr.write('Error opening data file eng.traineddata\\n')\nsys.exit(1)\n")
    with caplog.at_level(logging.WARNING):
        _, paragraphs = _load(corpus)
    [warning] = _warnings(caplog)
    assert warning.startswith(f"report.pdf: page {SCANNED_PAGE} has no text layer and OCR failed")
    assert "eng.traineddata" in warning and "\n" not in warning
    assert [(p.page, p.text) for p in paragraphs] == EXPECTED


def test_margins_lose_page_numbers_and_repeated_lines_but_keep_words() -> None:
    """Roman page numbers go, a margin word that only looks like one ("civil") stays, as does a line seen once."""
    from rag.documents.pdf_layout import Segment, drop_furniture

    def page(number: str, *extra: Segment) -> list[Segment]:
        return [Segment("Body text of the page.", 72, 400, 400, 10), Segment(number, 290, 300, 30, 9),
                Segment("Annual report", 72, 140, 810, 9), *extra]

    pages = [page("xiv"), page("xv", Segment("civil", 72, 90, 60, 9)), page("- 16 -")]
    kept = drop_furniture(pages, [842.0] * 3)
    assert [[s.text for s in p] for p in kept] == [["Body text of the page."], ["Body text of the page.", "civil"],
                                                   ["Body text of the page."]]


def test_where_each_paragraph_is_drawn_is_kept_and_its_region_can_be_highlighted(
        corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Paragraph 6 fills the foot of page 1's right column and the top of page 2's left one."""
    from io import BytesIO

    from PIL import Image

    from rag.app.page_image import cited_region_png

    _no_tesseract(monkeypatch)
    _, paragraphs = _load(corpus)
    running = paragraphs[5]
    assert [(page, round(left)) for page, left, *_ in running.boxes] == [(1, 308), (2, 72)]
    [(_, left, bottom, right, top)] = paragraphs[8].boxes  # the table, across both columns
    assert left < 90 and right > 400 and top - bottom > 60

    def yellow_columns(png: bytes | None) -> tuple[int, int, int]:
        assert png is not None
        image = Image.open(BytesIO(png)).convert("RGB")
        pixels = [(x, image.getpixel((x, y))) for x in range(0, image.width, 4) for y in range(0, image.height, 4)]
        xs = [x for x, (r, _, b) in pixels if r > 200 and r - b > 60]  # the yellow highlight
        return image.width, min(xs), max(xs)

    # The region is the column's paragraph and a 36-point margin: at 700 pixels a page, about 250 pixels wide.
    width, first, last = yellow_columns(cited_region_png(corpus / "report.pdf", 1, running.boxes, width=700))
    assert 200 < width < 320 and 30 < first < 50 and width - 50 < last < width - 30  # the right column of page 1
    width, first, last = yellow_columns(cited_region_png(corpus / "report.pdf", 2, running.boxes, width=700))
    assert 200 < width < 320 and first < 50  # the left column of page 2, from the page's margin
    assert cited_region_png(corpus / "report.pdf", 4, running.boxes) is None  # not on that page
    assert cited_region_png(corpus / "missing.pdf", 1, running.boxes) is None


def test_ragged_right_text_goes_on_across_a_page_when_the_next_word_would_not_have_fitted() -> None:
    """'... consolidation of' at a page's foot, 'Customs-Business partnership ...' at the next page's head."""
    from rag.documents.pdf_layout import Line, _starts_new

    def foot(x1: float) -> Line:
        return Line("through consolidation of", 100, 10, 1, x0=40, left=40, x1=x1, right=380)

    head = Line("Customs-Business partnership and the border", 500, 10, 2, x0=40, left=40, x1=260, right=380)
    assert not _starts_new(foot(300), head, {}, new_block=True)  # 16 letters more would pass the right edge
    assert _starts_new(foot(200), head, {}, new_block=True)  # room to spare: the line ended there on purpose

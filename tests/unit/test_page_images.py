"""A PDF source card's page image: drawn with the paragraph highlighted and nothing else, registered by an
opaque id that reaches no file outside the corpus, and served only to the app's own page.

No server and no model: the route runs in-process behind ``ui.gate.PageGate`` (Starlette's test client).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from rag.app.page_image import cited_page_png, cited_region_png
from rag.documents.pdf import read_pdf
from rag.types import Box, Citation
from tests.pdf_reports import write_report_pdf
from ui.gate import PageGate
from ui.page_images import PageImageRoute, PageImages
from ui.render import source_card

NARVA = 6  # index of "The well-known Narva crossing opened a second lane ..." (page 2, left column)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[tuple[int, str, tuple[Box, ...]]]]]:
    corpus = tmp_path_factory.mktemp("pages") / "reports"
    corpus.mkdir()
    write_report_pdf(corpus / "report.pdf")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("rag.documents.pdf.shutil.which", lambda name: None)  # the scanned page is skipped
        yield corpus, read_pdf((corpus / "report.pdf").read_bytes(), "report.pdf")


def _highlighted(png: bytes) -> tuple[Image.Image, list[tuple[int, int]]]:
    """The decoded image and its yellow pixels (the highlight over white paper or black glyphs, or its outline)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = image.load()
    assert pixels is not None
    return image, [(x, y) for x in range(image.width) for y in range(image.height)
                   if pixels[x, y][0] > 80 and pixels[x, y][0] - pixels[x, y][2] > 60]


def test_the_whole_page_is_yellow_inside_the_paragraphs_box_and_nowhere_else(report: Any) -> None:
    corpus, paragraphs = report
    page, text, boxes = paragraphs[NARVA]
    assert page == 2 and text.startswith("The well-known Narva crossing")
    image, yellow = _highlighted(cited_page_png(corpus / "report.pdf", 2, boxes) or b"")
    [(_, left, bottom, right, top)] = boxes
    scale = image.width / 595.0  # A4 is 595 x 842 points; y grows downwards in pixels
    inside = (left * scale - 6, (842 - top) * scale - 6, right * scale + 6, (842 - bottom) * scale + 6)
    assert len(yellow) > 2000  # the paragraph's box is filled, not only outlined
    outside = [(x, y) for x, y in yellow if not (inside[0] <= x <= inside[2] and inside[1] <= y <= inside[3])]
    assert outside == []
    assert Image.open(io.BytesIO(cited_page_png(corpus / "report.pdf", 2, boxes, width=500) or b"")).width == 500


def test_the_region_is_the_paragraph_with_a_margin_and_only_it_is_highlighted(report: Any) -> None:
    corpus, paragraphs = report
    _, _, boxes = paragraphs[NARVA]
    region, yellow = _highlighted(cited_region_png(corpus / "report.pdf", 2, boxes) or b"")
    whole, _ = _highlighted(cited_page_png(corpus / "report.pdf", 2, boxes) or b"")
    assert region.width < whole.width / 2 and region.height < whole.height / 8  # one column's paragraph
    xs, ys = [x for x, _ in yellow], [y for _, y in yellow]
    assert min(xs) > 30 and max(xs) < region.width - 30  # a margin all round, not highlighted
    assert min(ys) > 30 and max(ys) < region.height - 30
    area = (max(xs) - min(xs)) * (max(ys) - min(ys))
    assert len(yellow) > 0.8 * area  # filled, not only outlined
    assert cited_region_png(corpus / "report.pdf", 1, boxes) is None  # the paragraph is not on page 1


def _citation(doc_id: str = "report.pdf", page: int | None = 2, boxes: tuple[Box, ...] = ((2, 72, 600, 280, 640),)
              ) -> Citation:
    return Citation(doc_id, 7, "The Narva crossing opened a second lane.", 0.9, page=page, boxes=boxes)


def test_only_a_pdf_paragraph_drawn_on_its_page_gets_links_and_they_name_no_file(tmp_path: Path) -> None:
    images = PageImages(tmp_path)
    region, whole = images.links(_citation()) or ("", "")
    ident = re.fullmatch(r"rag-page/([0-9a-f]{32})\.png", region)
    assert ident and whole == f"rag-page/{ident[1]}-page.png" and "report" not in region
    assert images.links(_citation()) == (region, whole)  # the same region, the same id
    assert images.links(_citation(page=3)) != (region, whole)
    assert images.links(_citation("notes.txt")) is None
    assert images.links(_citation(page=None)) is None
    assert images.links(_citation(boxes=((1, 72, 600, 280, 640),))) is None  # drawn on another page only
    assert images.links(_citation(boxes=())) is None

    card = source_card(1, _citation(), images.links(_citation()))
    assert f'<img class="rag-page-img" src="{region}"' in card and f'href="{whole}" target="_blank"' in card
    assert "report.pdf p. 2 ¶7" in card and "rag-page" not in source_card(1, _citation("notes.txt", None, ()))


def test_a_region_never_reads_a_file_outside_the_corpus_or_one_that_is_not_a_pdf(tmp_path: Path) -> None:
    corpus = tmp_path / "reports"
    corpus.mkdir()
    write_report_pdf(tmp_path / "secret.pdf")
    (corpus / "link.pdf").symlink_to(tmp_path / "secret.pdf")
    (corpus / "notes.txt").write_text("Notes.\n")
    write_report_pdf(corpus / "report.pdf")
    images = PageImages(corpus)
    assert images.file("report.pdf") == (corpus / "report.pdf").resolve()
    for doc_id in ("../secret.pdf", str(tmp_path / "secret.pdf"), "link.pdf", "notes.txt", "missing.pdf"):
        assert images.file(doc_id) is None, doc_id
        links = images.links(_citation(doc_id if doc_id.endswith(".pdf") else "x.pdf"))
        assert links is not None


@pytest.fixture()
def client(report: Any) -> Iterator[tuple[TestClient, PageImages]]:
    """The page-image route behind the gate, over an app whose only page is '/' (which sets the cookie)."""
    corpus, _ = report
    images = PageImages(corpus)
    app = Starlette(routes=[Route("/", lambda request: HTMLResponse("<html>the app</html>"))],
                    middleware=[Middleware(PageGate, blocks=None, files=False),
                                Middleware(PageImageRoute, images=images)])
    with TestClient(app) as test_client:
        yield test_client, images


def test_the_route_serves_the_region_and_the_whole_page_to_the_page_only(client: Any, report: Any) -> None:
    test_client, images = client
    _, paragraphs = report
    _, _, boxes = paragraphs[NARVA]
    region, whole = images.links(_citation(boxes=boxes)) or ("", "")
    assert test_client.get(f"/{region}").status_code == 403  # no cookie: not the app's page
    test_client.get("/")  # the page sets its cookie
    shown = test_client.get(f"/{region}")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
    page = test_client.get(f"/{whole}")
    assert page.status_code == 200
    assert Image.open(io.BytesIO(page.content)).height > 3 * Image.open(io.BytesIO(shown.content)).height
    assert test_client.get("/rag-page/" + "0" * 32 + ".png").status_code == 404  # never registered
    assert test_client.get("/rag-page/../report.pdf").status_code in (403, 404)
    gone = images.links(_citation("missing.pdf", boxes=boxes)) or ("", "")
    assert test_client.get(f"/{gone[0]}").status_code == 503  # registered, but it cannot be drawn


class _CountingLock:
    """``threading.Lock`` that counts how often it is taken."""

    def __init__(self) -> None:
        import threading

        self.lock, self.taken = threading.Lock(), 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got = self.lock.acquire(blocking, timeout)
        self.taken += got
        return got

    def release(self) -> None:
        self.lock.release()

    def locked(self) -> bool:
        return self.lock.locked()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def test_reading_a_pdf_lets_go_of_pdfium_between_pages_and_while_tesseract_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """So a page image waits for one page's reading at most, never for a whole upload or an OCR run."""
    import subprocess

    lock = _CountingLock()
    monkeypatch.setattr("rag.documents.pdf.PDFIUM", lock)
    monkeypatch.setattr("rag.documents.pdf.shutil.which", lambda name: f"/usr/bin/{name}")

    def tesseract(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        assert not lock.locked(), "tesseract runs while PDFium is held"
        return subprocess.CompletedProcess(command, 0, b"Annex: the cigarettes were destroyed.\n", b"")

    monkeypatch.setattr("rag.documents.pdf.subprocess.run", tesseract)
    write_report_pdf(tmp_path / "report.pdf")
    found = read_pdf((tmp_path / "report.pdf").read_bytes(), "report.pdf")
    assert (3, "Annex: the cigarettes were destroyed.") in [(page, text) for page, text, _ in found]
    assert lock.taken >= 4 + 3  # open, count, each of the 4 pages, close


def test_a_drawing_waits_for_pdfium_only_so_long(report: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    corpus, paragraphs = report
    lock = _CountingLock()
    monkeypatch.setattr("rag.documents.pdf.PDFIUM", lock)
    with lock:  # an upload being read, say
        started = time.monotonic()
        assert cited_region_png(corpus / "report.pdf", 2, paragraphs[NARVA][2], width=321, wait=0.3) is None
        assert 0.25 < time.monotonic() - started < 2
    assert cited_region_png(corpus / "report.pdf", 2, paragraphs[NARVA][2], width=321, wait=0.3) is not None

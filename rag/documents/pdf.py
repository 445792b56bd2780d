"""Read a PDF with PDFium (pypdfium2): every character with its position, then paragraphs with their pages.

pypdf gave each page's text without positions, so running headers, page numbers and the
two columns of a page ran into the paragraphs; ``rag.documents.pdf_layout`` rebuilds them from
positions instead. A page without a text layer (a scan) is read by ``tesseract`` when it is
installed, from an image PDFium renders; otherwise it is skipped with one warning naming the
file and the page. PDFium is not thread-safe and the UI reads an upload while it draws cited pages,
so every call into it holds one lock (``PDFIUM``), taken page by page and never around tesseract: a page
image waits for at most one page's reading, not for a whole upload.
"""

from __future__ import annotations

import ctypes
import logging
import math
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from rag.documents.hyphenation import HYPHEN, Hyphenation
from rag.documents.limits import ReadBudget, UnreadableFile
from rag.documents.pdf_layout import Char, Line, blocks, drop_furniture, lines, paragraphs, segments
from rag.errors import literal, one_line
from rag.types import Box

log = logging.getLogger(__name__)

PDFIUM = threading.Lock()  # held by every use of PDFium (rag.app.page_image too)
OCR_DPI = 300
OCR_TIMEOUT = 120.0  # seconds for one page
_UPRIGHT = 0.02  # radians: characters turned further (diagonal watermarks) are left out


def read_pdf(raw: bytes, name: str, budget: ReadBudget | None = None) -> list[tuple[int, str, tuple[Box, ...]]]:
    """(page the paragraph starts on, its text, where it is drawn) in reading order; ``name`` names the file in
    warnings; ``budget`` bounds its pages, time and text (checked before the first page and after each)."""
    import pypdfium2 as pdfium

    with PDFIUM:
        try:
            pdf = pdfium.PdfDocument(raw)
        except pdfium.PdfiumError as exc:
            password = "password" in str(exc).lower()
            raise UnreadableFile("encrypted PDF" if password else f"unreadable PDF ({one_line(exc)})") from None
    try:
        return _read(pdf, name, budget or ReadBudget())
    finally:
        with PDFIUM:
            pdf.close()


def _read(pdf: Any, name: str, budget: ReadBudget) -> list[tuple[int, str, tuple[Box, ...]]]:
    pages, heights = [], []
    scanned: dict[int, list[str]] = {}  # page index -> OCR lines of a page without a text layer
    with PDFIUM:
        count = len(pdf)
    budget.pages(count)
    for index in range(count):
        with PDFIUM:  # one page at a time: a page image for the UI may be drawn in between
            page = pdf[index]
            try:
                chars = _chars(page)
                blank = not any(c.text.strip() for c in chars) and _has_image(page)
                scan = _scan(page) if blank else None
                heights.append(page.get_height())
            finally:
                page.close()
        if blank:
            scanned[index] = _ocr_or_warn(scan, name, index + 1)
        budget.add(len(chars) + sum(len(line) for line in scanned.get(index, ())))
        pages.append(segments(chars))
    in_order: list[list[Line]] = []
    for index, page_segments in enumerate(drop_furniture(pages, heights)):
        if index in scanned:
            in_order += _ocr_blocks(scanned[index], index + 1)
        in_order += [lines(block, index + 1) for block in blocks(page_segments)]
    return paragraphs(in_order)


def _chars(page: Any) -> list[Char]:
    """The page's characters in text order with their boxes, baselines and sizes (from the glyph box: a
    font drawn at size 1 and scaled by its matrix reports size 1)."""
    import pypdfium2.raw as pdfium_c

    text_page = page.get_textpage()
    try:
        box, x, y = pdfium_c.FS_RECTF(), ctypes.c_double(), ctypes.c_double()
        out: list[Char] = []
        for i in range(pdfium_c.FPDFText_CountChars(text_page)):
            code = pdfium_c.FPDFText_GetUnicode(text_page, i)
            if code == 2:
                text = HYPHEN
            elif code < 32 and code not in (9, 10, 13) or code in (0xFFFE, 0xFFFF):
                continue
            elif chr(code).isspace():  # generated line breaks too: lines are found by position
                out.append(Char(" ", 0, 0, 0, 0))
                continue
            else:
                text = chr(code)
            angle = pdfium_c.FPDFText_GetCharAngle(text_page, i)
            if _UPRIGHT < angle < 2 * math.pi - _UPRIGHT:
                continue
            pdfium_c.FPDFText_GetLooseCharBox(text_page, i, box)
            pdfium_c.FPDFText_GetCharOrigin(text_page, i, x, y)
            out.append(Char(text, box.left, box.right, y.value, 0.85 * (box.top - box.bottom)))
        return out
    finally:
        text_page.close()


def _has_image(page: Any) -> bool:
    import pypdfium2.raw as pdfium_c

    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))


def _scan(page: Any) -> Any | None:
    """The page as an image for tesseract (a PIL image), or None when tesseract is not installed or it cannot
    be drawn."""
    import pypdfium2 as pdfium

    if shutil.which("tesseract") is None:
        return None
    try:
        return page.render(scale=OCR_DPI / 72).to_pil()
    except (pdfium.PdfiumError, ValueError, MemoryError):
        return None  # _ocr_or_warn says so, naming the file and the page


def _ocr_or_warn(image: Any | None, name: str, number: int) -> list[str]:
    """The lines tesseract reads on the page image, or [] with one warning when it is missing or fails."""
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        log.warning("%s: page %d has no text layer (scanned?); skipped — install tesseract-ocr to read it",
                    literal(name, lines=False), number)
        return []
    try:
        if image is None:
            raise RuntimeError("the page could not be drawn")
        with tempfile.TemporaryDirectory(prefix="rag-ocr-") as folder:
            png = Path(folder) / "page.png"
            image.save(png)
            done = subprocess.run([tesseract, str(png), "stdout"], capture_output=True, timeout=OCR_TIMEOUT,
                                  check=False)
        if done.returncode != 0:
            said = " ".join(done.stderr.decode("utf-8", "replace").split())[-200:]
            raise RuntimeError(said or f"exit {done.returncode}")
    except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        log.warning("%s: page %d has no text layer and OCR failed (%s); skipped", literal(name, lines=False), number,
                    one_line(exc))
        return []
    text = done.stdout.decode("utf-8", "replace")
    log.info("%s: page %d has no text layer; read by tesseract", literal(name, lines=False), number)
    return [re.sub(r"[\x00-\x08\x0b-\x1f]", "", line).strip() for line in text.splitlines()]


def _ocr_blocks(ocr_lines: list[str], number: int) -> list[list[Line]]:
    """Tesseract's blank-line-separated paragraphs as blocks of lines (no positions: one paragraph per block)."""
    out: list[list[Line]] = []
    current: list[str] = []
    hyphens = Hyphenation(ocr_lines)
    for line in [*ocr_lines, ""]:
        if line:
            current.append(line)
        elif current:
            text = current[0]
            for more in current[1:]:
                text = hyphens.join(text, more)
            out.append([Line(text, 0.0, 0.0, number)])
            current = []
    return out

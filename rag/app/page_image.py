"""The page a citation points at, as a PNG with the paragraph highlighted: what a source card shows.

The paragraph's rectangles were saved at ingestion (``Paragraph.boxes`` -> ``Citation.boxes``), so the
file is only rendered here, never read for text again. ``cited_region_png`` is the paragraph's rectangles
plus a margin (the card: a column's paragraph then fills the card's width, legible); ``cited_page_png``
the whole page (opened large). Both come from one rendering per page, kept in a small LRU: a card and
its enlargement, or two answers citing the same page, render it once. PDFium is held only while a page renders, and a renderer waits at most
``wait`` seconds for it (an upload being read holds it page by page), so a busy server answers "not now"
rather than piling up waiting threads.

Example::

    png = cited_region_png(corpus / citation.doc_id, citation.page, citation.boxes)
"""

from __future__ import annotations

import ctypes
import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.documents.corpus import read_inside
from rag.types import Box

log = logging.getLogger(__name__)

HIGHLIGHT = (255, 210, 0, 90)  # translucent yellow: the text stays readable under it
OUTLINE = (220, 150, 0, 255)
WIDTH = 1000  # pixels across the page: about 120 dpi on A4, sharp on a high-density screen at card width
MAX_HEIGHT = 2000  # pixels: a very tall page is drawn smaller, so no page costs more than WIDTH x MAX_HEIGHT
LOCK_WAIT = 10.0  # seconds a renderer waits for PDFium before it gives up
CACHED_PAGES = 8  # renderings kept (at most ~6 MB each)

Affine = tuple[float, float, float, float, float, float]  # device x = a*x + b*y + c, device y = d*x + e*y + f
_cache: OrderedDict[tuple[Any, ...], tuple[Any, Affine]] = OrderedDict()
_cache_lock = threading.Lock()


def _affine(page: Any, size: tuple[int, int]) -> Affine:
    """PDF points -> pixels of a rendering of ``size``, as PDFium maps them (crop box and page rotation included)."""
    import pypdfium2.raw as pdfium_c

    def device(x: float, y: float) -> tuple[int, int]:
        px, py = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page, 0, 0, size[0], size[1], 0, x, y, px, py)
        return px.value, py.value

    far = 10_000.0  # integer pixels: measured over a long run, the slope is exact to 1e-4
    (x0, y0), (x1, y1), (x2, y2) = device(0, 0), device(far, 0), device(0, far)
    return (x1 - x0) / far, (x2 - x0) / far, x0, (y1 - y0) / far, (y2 - y0) / far, y0


def _rendered(path: Path, page: int, width: int, wait: float, root: Path) -> tuple[Any, Affine] | None:
    """The page as an RGB image and its point-to-pixel mapping; cached by file, page and width.

    The file is read through ``read_inside(root, ...)``: a PDF swapped for a link since it was indexed
    is not drawn."""
    import pypdfium2 as pdfium

    from rag.documents.pdf import PDFIUM

    try:
        stat = path.stat()
    except OSError as exc:
        log.warning("cannot draw %s page %d: %s", path.name, page, exc)
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size, page, width)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    if not PDFIUM.acquire(timeout=wait):
        log.warning("cannot draw %s page %d: PDFium busy for %.0f s", path.name, page, wait)
        return None
    try:
        pdf = pdfium.PdfDocument(read_inside(root, path))
        try:
            if not 1 <= page <= len(pdf):
                return None
            handle = pdf[page - 1]
            scale = min(width / handle.get_width(), MAX_HEIGHT / handle.get_height())
            image = handle.render(scale=scale).to_pil().convert("RGB")
            drawn = image, _affine(handle, image.size)
        finally:
            pdf.close()  # closes the page too
    except (pdfium.PdfiumError, OSError, ValueError) as exc:
        log.warning("cannot draw %s page %d: %s", path.name, page, exc)
        return None
    finally:
        PDFIUM.release()
    with _cache_lock:
        _cache[key] = drawn
        while len(_cache) > CACHED_PAGES:
            _cache.popitem(last=False)
    return drawn


def _rectangles(boxes: Sequence[Box], page: int, mapping: Affine) -> list[tuple[int, int, int, int]]:
    a, b, c, d, e, f = mapping
    out = []
    for _, left, bottom, right, top in (box for box in boxes if box[0] == page):
        xs = [a * x + b * y + c for x, y in ((left, bottom), (right, top))]
        ys = [d * x + e * y + f for x, y in ((left, bottom), (right, top))]
        out.append((round(min(xs)) - 3, round(min(ys)) - 3, round(max(xs)) + 3, round(max(ys)) + 3))  # some air
    return out


def _highlighted(path: Path, page: int, boxes: Sequence[Box], width: int, wait: float, root: Path
                 ) -> tuple[Any, list[tuple[int, int, int, int]], float] | None:
    """The page with the paragraph's rectangles painted on it, the rectangles, and pixels per point."""
    from PIL import Image, ImageDraw

    if not any(box[0] == page for box in boxes):
        return None
    drawn = _rendered(path, page, width, wait, root)
    if drawn is None:
        return None
    image, mapping = drawn
    rectangles = _rectangles(boxes, page, mapping)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for rectangle in rectangles:
        draw.rectangle(rectangle, fill=HIGHLIGHT, outline=OUTLINE, width=2)
    scale = (mapping[0] ** 2 + mapping[3] ** 2) ** 0.5
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB"), rectangles, scale


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def cited_region_png(path: Path, page: int, boxes: Sequence[Box], width: int = WIDTH, margin: float = 36.0,
                     wait: float = LOCK_WAIT, root: Path | None = None) -> bytes | None:
    """PNG of page ``page`` around the paragraph's rectangles on it, highlighted; None when it cannot be drawn.
    ``root``: the corpus folder the file must be in (default: its own folder)."""
    done = _highlighted(path, page, boxes, width, wait, root or path.parent)
    if done is None:
        return None
    image, rectangles, scale = done
    pad = round(margin * scale)
    left, top = (max(0, min(r[i] for r in rectangles) - pad) for i in (0, 1))
    right = min(image.width, max(r[2] for r in rectangles) + pad)
    bottom = min(image.height, max(r[3] for r in rectangles) + pad)
    return _png(image.crop((left, top, right, bottom)))


def cited_page_png(path: Path, page: int, boxes: Sequence[Box], width: int = WIDTH,
                   wait: float = LOCK_WAIT, root: Path | None = None) -> bytes | None:
    """PNG of the whole page ``page`` with the paragraph's rectangles on it highlighted; None as above."""
    done = _highlighted(path, page, boxes, width, wait, root or path.parent)
    return None if done is None else _png(done[0])

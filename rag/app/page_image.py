"""The part of a PDF page a citation points at, as a PNG with the paragraph highlighted: what a source card can show.

The paragraph's rectangles were saved at ingestion (``Paragraph.boxes`` -> ``Citation.boxes``), so the
file is only rendered here, never read for text again. The image is the page's full width, cut to the
paragraph's rectangles on the page where it starts plus a margin, to stay small enough to send inline.

Example::

    png = cited_region_png(corpus / citation.doc_id, citation.page, citation.boxes)
"""

from __future__ import annotations

import ctypes
import io
import logging
from collections.abc import Sequence
from pathlib import Path

from rag.types import Box

log = logging.getLogger(__name__)

HIGHLIGHT = (255, 210, 0, 90)  # translucent yellow: the text stays readable under it
OUTLINE = (220, 150, 0, 255)


def _to_pixels(page, size: tuple[int, int], x: float, y: float) -> tuple[int, int]:
    """PDF points -> pixels of a rendering of ``size``, as PDFium maps them (crop box and page rotation included)."""
    import pypdfium2.raw as pdfium_c

    px, py = ctypes.c_int(), ctypes.c_int()
    pdfium_c.FPDF_PageToDevice(page, 0, 0, size[0], size[1], 0, x, y, px, py)
    return px.value, py.value


def cited_region_png(path: Path, page: int, boxes: Sequence[Box], width: int = 700, margin: float = 36.0
                     ) -> bytes | None:
    """PNG of page ``page`` around the paragraph's rectangles on it, highlighted; None when it cannot be drawn."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    from rag.ingest.pdf import PDFIUM

    on_page = [box for box in boxes if box[0] == page]
    if not on_page:
        return None
    with PDFIUM:
        try:
            pdf = pdfium.PdfDocument(str(path))
        except (pdfium.PdfiumError, OSError) as exc:
            log.warning("cannot draw %s page %d: %s", path.name, page, exc)
            return None
        try:
            if not 1 <= page <= len(pdf):
                return None
            handle = pdf[page - 1]
            image = handle.render(scale=width / handle.get_width()).to_pil().convert("RGBA")
            corners = [_to_pixels(handle, image.size, x, y) for _, left, bottom, right, top in on_page
                       for x, y in ((left, bottom), (right, top))]
            pad = round(margin * width / handle.get_width())
        except pdfium.PdfiumError as exc:
            log.warning("cannot draw %s page %d: %s", path.name, page, exc)
            return None
        finally:
            pdf.close()  # closes the page too
    rectangles = [(min(a[0], b[0]) - 3, min(a[1], b[1]) - 3, max(a[0], b[0]) + 3, max(a[1], b[1]) + 3)
                  for a, b in zip(corners[::2], corners[1::2])]  # a little air around the glyphs
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for rectangle in rectangles:
        draw.rectangle(rectangle, fill=HIGHLIGHT, outline=OUTLINE, width=2)
    top = max(0, min(r[1] for r in rectangles) - pad)
    bottom = min(image.height, max(r[3] for r in rectangles) + pad)
    region = Image.alpha_composite(image, overlay).crop((0, top, image.width, bottom)).convert("RGB")
    out = io.BytesIO()
    region.save(out, format="PNG", optimize=True)
    return out.getvalue()

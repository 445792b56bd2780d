"""The cited PDF pages of the chat's source cards: an opaque id per cited region, and the route that serves it.

Gradio's chat keeps ``<img src="data:...">``, but inline images would put every rendering into the
answer's HTML before it can be shown (and again into each later message of the conversation), and
the whole page that a card opens on click would have to be inlined too. So a card holds two small
links instead, ``rag-page/<id>.png`` (the region) and ``rag-page/<id>-page.png`` (the whole page),
drawn only when the browser asks. The id is an HMAC of (file, page, rectangles) under a per-server
secret, registered when the card is made: a request can only name a region the server cited, and
the file is looked up inside the corpus folder and must be a PDF there. ``ui.gate.PageGate`` lets
only the app's own page fetch these images (the same cookie as its handlers).

Example::

    images = PageImages(settings.resolved_corpus_dir())
    region, whole = images.links(citation)        # None for a text file, or a PDF paragraph without boxes
    app = PageImageRoute(app, images)             # ASGI: GET /rag-page/<id>.png
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.app.page_image import cited_page_png, cited_region_png
from rag.types import Box, Citation

ROUTE = re.compile(r"/rag-page/(?P<id>[0-9a-f]{32})(?P<whole>-page)?\.png$")
RENDERERS = 2  # pages drawn at once (PDFium draws one at a time anyway): more requests wait, off the event loop
_attached: weakref.WeakKeyDictionary[Any, PageImages] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Region:
    """What a card shows: the file, the page the paragraph starts on, and where the paragraph is drawn."""

    doc_id: str
    page: int
    boxes: tuple[Box, ...]


class PageImages:
    """The regions cited so far (the newest ``capacity``), by opaque id, and their PNGs."""

    def __init__(self, corpus_dir: Path, capacity: int = 4096) -> None:
        self.corpus = corpus_dir.resolve()
        self.capacity = capacity
        self._secret = secrets.token_bytes(32)
        self._regions: OrderedDict[str, Region] = OrderedDict()
        self._lock = threading.Lock()

    def links(self, citation: Citation) -> tuple[str, str] | None:
        """(region, whole page) URLs relative to the page, or None when the citation has no page to show."""
        if citation.page is None or not citation.doc_id.lower().endswith(".pdf") or not any(
                box[0] == citation.page for box in citation.boxes):
            return None
        region = Region(citation.doc_id, citation.page, tuple(citation.boxes))
        ident = hmac.new(self._secret, repr(region).encode("utf-8"), hashlib.sha256).hexdigest()[:32]
        with self._lock:
            self._regions[ident] = region
            self._regions.move_to_end(ident)
            while len(self._regions) > self.capacity:
                self._regions.popitem(last=False)
        return f"rag-page/{ident}.png", f"rag-page/{ident}-page.png"

    def region(self, ident: str) -> Region | None:
        with self._lock:
            return self._regions.get(ident)

    def file(self, doc_id: str) -> Path | None:
        """The PDF ``doc_id`` names inside the corpus folder; None for anything that resolves elsewhere."""
        path = self.corpus / doc_id
        if not path.resolve().is_relative_to(self.corpus) or path.suffix.lower() != ".pdf" or not path.is_file():
            return None
        return path  # as named: drawing reads it without following a link (rag.documents.corpus.read_inside)

    def png(self, region: Region, whole: bool = False) -> bytes | None:
        """The region (or its whole page) drawn with the paragraph highlighted; None when it cannot be drawn."""
        path = self.file(region.doc_id)
        if path is None:
            return None
        draw = cited_page_png if whole else cited_region_png
        return draw(path, region.page, region.boxes, root=self.corpus)


def attach(demo: Any, images: PageImages) -> None:
    """Remember the app's page images, for ``ui.serve.launch`` to add the route that serves them."""
    _attached[demo] = images


def attached(demo: Any) -> PageImages | None:
    return _attached.get(demo)


class PageImageRoute:
    """ASGI middleware answering ``GET /rag-page/<id>.png`` (and ``-page.png``); everything else goes on."""

    def __init__(self, app: ASGIApp, images: PageImages) -> None:
        self.app = app
        self.images = images
        self._limiter: anyio.CapacityLimiter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = ROUTE.search(scope["path"]) if scope["type"] == "http" else None
        if found is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        region = self.images.region(found["id"])
        if region is None:
            response: Response = PlainTextResponse("no such page image (the server was restarted?)", 404)
        else:
            self._limiter = self._limiter or anyio.CapacityLimiter(RENDERERS)
            png = await anyio.to_thread.run_sync(self.images.png, region, bool(found["whole"]),
                                                 limiter=self._limiter)
            response = (PlainTextResponse("the page cannot be drawn now", 503, headers={"Retry-After": "5"})
                        if png is None else
                        Response(png, media_type="image/png", headers={
                            "Cache-Control": "private, max-age=600", "X-Content-Type-Options": "nosniff"}))
        await response(scope, receive, send)

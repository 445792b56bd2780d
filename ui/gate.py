"""Only the app's own page may run its internal handlers: a cookie set with the page gates them.

Why this exists: in Gradio 6.31, ``api_visibility="private"`` hides a handler from the API
docs and from ``gradio_client``, but the server still runs it for anyone who names it.
``POST /gradio_api/queue/join`` takes any ``fn_index`` (routes.py ``queue_join`` ->
queueing.py ``Queue.push`` -> route_utils.py ``get_fn``, which indexes ``fns[body.fn_index]``
with no visibility check), and so do ``/run/{name}`` (``fn_index`` in the body wins) and
``/call/{name}`` (by the handler's api_name). Anyone reaching the port could upload a file
and index it into the corpus without ever opening the page.

This ASGI middleware (installed by ``ui.serve.launch`` through ``app_kwargs``) sets an
HttpOnly, SameSite=Lax cookie on every HTML page the app serves (behind ``--auth``, only to a
logged-in client) and then lets a request with a body (any handler, an upload, a recording, a
component server) or a fetch of a cited page image (``ui.page_images``) through only when it
carries that cookie; everything not named as open is closed. Public handlers (``/ask``) stay open to
any client. A client that fetches the page first is, to the server, a browser: what that
may do is limited by ``--auth`` and by uploads being off on an exposed address
(``rag.app.uploads.uploads_allowed``). The cookie also stops other web sites from driving
the handlers from a visitor's browser (Lax cookies are not sent with cross-site POSTs).

Example::

    from starlette.middleware import Middleware
    demo.launch(app_kwargs={"middleware": [Middleware(PageGate, blocks=demo, files=True)]})
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from typing import Any

import gradio as gr
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.page_images import ROUTE

# Routes that run a handler: queue/join by fn_index; run/api by fn_index, else name; call by name.
RUNS = re.compile(r"/gradio_api/(?:(?P<join>queue/join)|(?P<route>run|api|call/v2|call)/(?P<name>[^/]+))/?$")
FILES = re.compile(r"/gradio_api/(upload|process_recording)/?$")  # routes that take a file
LOGIN = re.compile(r"/login/?$")  # the login form posts here: the one body a client without the page may send
NOT_FROM_PAGE = "this part of the app can only be used from its page; scripts may call /ask"
PAGE_IMAGE = ROUTE  # ui.page_images: a cited page drawn for a source card
UPLOADS_OFF = "uploads are off on this server (start it with --allow-uploads to turn them on)"
CHANGES_OFF = ("deleting and re-indexing reports are off on this server, as uploads are "
               "(start it with --allow-uploads to turn them on)")
LOGIN_FIRST = "log in first"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class PageGate:
    """ASGI middleware: the page's cookie on HTML responses, and a check of it on every request with a body.

    Every request that can carry a body (POST, PUT, PATCH, DELETE) needs the page's cookie, except a run of
    a public handler (``/ask``; Gradio checks a login for it itself) and the login form. Behind ``--auth``
    the cookie is given only to a logged-in page, and the routes this app adds (cited page images) need
    the login as well: the login page alone opens nothing.
    """

    def __init__(self, app: ASGIApp, blocks: gr.Blocks, files: bool = True) -> None:
        self.app = app
        self.blocks = blocks
        self.files = files  # False: no client may upload files at all (uploads are off)
        self.cookie = f"rag-page-{secrets.token_hex(4)}"  # cookies ignore ports: one name per server
        self.token = secrets.token_urlsafe(32)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        logged_in = self._logged_in(scope)
        if scope["method"] in SAFE_METHODS:
            if PAGE_IMAGE.search(path) and not (logged_in and self._from_page(scope)):
                reason = NOT_FROM_PAGE if logged_in else LOGIN_FIRST
                await _refuse(reason, scope, receive, send)  # a cited page is the corpus: the page's only
                return
            await self.app(scope, receive, self._setting_cookie(send) if logged_in else send)
            return
        if LOGIN.search(path):
            await self.app(scope, receive, send)
            return
        if FILES.search(path) and not self.files:
            await _refuse(UPLOADS_OFF, scope, receive, send)
            return
        runs = RUNS.search(path)
        if runs and scope["method"] == "POST":
            body, receive = await _buffered(receive)
            fn = self._target(body, runs)
            if fn is not None and fn.api_visibility == "public":
                problem = _bad_data(body, fn)
                if problem:  # Gradio would answer 500 {"error": null} and log a traceback
                    await _refuse(problem, scope, receive, send, status=422)
                    return
                await self.app(scope, receive, send)
                return
        if logged_in and self._from_page(scope):
            await self.app(scope, receive, send)
            return
        await _refuse(NOT_FROM_PAGE, scope, receive, send)

    def _logged_in(self, scope: Scope) -> bool:
        """Without ``--auth``, everyone; with it, a request carrying a token Gradio's login gave out."""
        server = getattr(self.blocks, "server_app", None)
        if server is None or not getattr(server, "auth", None):
            return True
        cookies = cookie_parser(_cookies(scope))
        token = (cookies.get(f"access-token-{server.cookie_id}")
                 or cookies.get(f"access-token-unsecure-{server.cookie_id}"))
        return token is not None and token in server.tokens

    def _setting_cookie(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/html"):
                    cookie = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Lax"
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)
        return sending

    def _from_page(self, scope: Scope) -> bool:
        return hmac.compare_digest(cookie_parser(_cookies(scope)).get(self.cookie, ""), self.token)

    def _target(self, body: bytes, route: re.Match[str]) -> Any:
        """The handler Gradio will run for this request (by fn_index, else by name), or None."""
        try:
            payload: Any = json.loads(body)
        except ValueError:
            return None
        index = payload.get("fn_index") if isinstance(payload, dict) else None
        fns = self.blocks.fns
        if route["join"] or (route["route"] in ("run", "api") and index is not None):
            return fns.get(index) if isinstance(index, int) else None
        return next((f for f in fns.values() if f.api_name == route["name"]), None)


def _bad_data(body: bytes, fn: Any) -> str | None:
    """Why a public handler's request cannot run (not one value per input), in one line; None when it can."""
    payload = json.loads(body)
    data = payload.get("data") if isinstance(payload, dict) else None
    wanted = len(fn.inputs)
    if isinstance(data, list) and len(data) >= wanted:
        return None
    return (f"/{fn.api_name} takes {wanted} value{'s' * (wanted != 1)} in \"data\", e.g. "
            f"{{\"data\": [\"What did Operation Sentinel seize?\"]}}")


def _cookies(scope: Scope) -> str:
    return b"; ".join(value for key, value in scope["headers"] if key == b"cookie").decode("latin-1")


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that replays it to the app."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", receive  # the client went away
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body, replayed = b"".join(chunks), False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return body, replay


async def _refuse(reason: str, scope: Scope, receive: Receive, send: Send, status: int = 403) -> None:
    await JSONResponse({"detail": reason}, status_code=status)(scope, receive, send)

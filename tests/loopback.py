"""What the fake servers share: an HTTP server on a free loopback port, in a thread, used as a context manager.

Example::

    @dataclass
    class FakeThing(LoopbackServer):
        def __post_init__(self) -> None:
            self.serve(self._handler())   # a BaseHTTPRequestHandler subclass

    with FakeThing() as fake:
        requests.get(f"http://127.0.0.1:{fake.port}/")
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from typing_extensions import Self

POLL_SECONDS = 0.05  # shutdown() waits for one poll, and every test starts and stops a server or three


class LoopbackServer:
    server: ThreadingHTTPServer
    thread: threading.Thread

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": POLL_SECONDS},
                                       daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class JSONHandler(BaseHTTPRequestHandler):
    """The fakes' request handlers: HTTP/1.1 (streams stay open), silent, JSON replies."""

    protocol_version = "HTTP/1.1"
    content_type = "application/json"

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def word_chunks(reply: str) -> list[str]:
    """``reply`` as a server streams it: word by word, each after the first with its leading space."""
    words = reply.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]

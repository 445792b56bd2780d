"""A loopback HTTP server that speaks Ollama's wire format, for tests of the Ollama backend.

Faithful to the parts the client uses: ``GET /api/tags``, ``POST /api/show`` and
``POST /api/chat`` with NDJSON streaming (one JSON object per line, a final object
with ``"done": true`` and token counts), and ``404 {"error": "model ... not found"}``
for a model that was not pulled. It can also cut a stream off or stall, to test
those failures. Every request body is recorded for assertions.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.loopback import JSONHandler, LoopbackServer, word_chunks


@dataclass
class FakeOllama(LoopbackServer):
    models: list[str] = field(default_factory=lambda: ["qwen2.5:3b"])
    reply: str = "Operation Sentinel resulted in over 100 seizures of drugs [1]."
    cut_after_chunks: int | None = None  # close the connection mid-stream, without "done"
    stall_seconds: float = 0.0  # wait before answering (to trigger client timeouts)
    requests: list[tuple[str, dict]] = field(default_factory=list)
    # A structured-output request (``format``, the evidence choice) gets {"chosen": [the id of the numbered
    # sentence that holds this text]}, or {"chosen": ["none"]} when no sentence does.
    choose_containing: str = "100 seizures"
    structured: bool = True  # False: refuse a ``format`` request with a 500, as a proxy without schemas does

    def __post_init__(self) -> None:
        self.serve(self._handler())

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def choose(self, body: dict) -> list[str]:
        user = next((m["content"] for m in reversed(body.get("messages", [])) if m["role"] == "user"), "")
        found = re.search(rf"^\[(\d+\.\d+)\] [^\n]*{re.escape(self.choose_containing)}", user, re.MULTILINE)
        return [found.group(1)] if found else ["none"]

    def chunks(self) -> list[str]:
        return word_chunks(self.reply)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(JSONHandler):
            content_type = "application/json; charset=utf-8"

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append((self.path, body))
                return body

            def do_GET(self) -> None:
                fake.requests.append((self.path, {}))
                if self.path == "/api/tags":
                    self._json(200, {"models": [{"name": m, "model": m, "size": 1, "digest": "0" * 64,
                                                 "modified_at": "2026-01-01T00:00:00Z", "details": {}}
                                                for m in fake.models]})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = self._body()
                model = body.get("model", "")
                if self.path not in ("/api/show", "/api/chat"):
                    return self._json(404, {"error": "not found"})
                if model not in fake.models:
                    return self._json(404, {"error": f"model '{model}' not found"})
                if self.path == "/api/show":
                    return self._json(200, {"modelfile": "", "parameters": "", "template": "",
                                            "details": {"family": "qwen2"}, "model_info": {}})
                time.sleep(fake.stall_seconds)
                if body.get("format") is not None and not fake.structured:
                    return self._json(500, {"error": "1 validation error: response_format"})
                if body.get("format") is not None:
                    return self._json(200, self._final(model, json.dumps({"chosen": fake.choose(body)})))
                if not body.get("stream", True):
                    return self._json(200, self._final(model, fake.reply))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for number, chunk in enumerate(fake.chunks()):
                    if fake.cut_after_chunks is not None and number == fake.cut_after_chunks:
                        self.wfile.flush()
                        self.connection.shutdown(2)  # drop the connection mid-stream
                        return
                    self._chunk({"model": model, "created_at": "2026-11-22T10:00:00Z",
                                 "message": {"role": "assistant", "content": chunk}, "done": False})
                self._chunk(self._final(model, ""))
                self.wfile.write(b"0\r\n\r\n")

            def _chunk(self, obj: dict) -> None:
                line = (json.dumps(obj) + "\n").encode()
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()

            @staticmethod
            def _final(model: str, content: str) -> dict:
                return {"model": model, "created_at": "2026-11-22T10:00:01Z",
                        "message": {"role": "assistant", "content": content}, "done": True,
                        "done_reason": "stop", "total_duration": 1000, "load_duration": 10,
                        "prompt_eval_count": 321, "prompt_eval_duration": 100,
                        "eval_count": len(fake.chunks()), "eval_duration": 500}

        return Handler


def free_port() -> int:
    """A port on loopback that nothing listens on (for 'server down' tests)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

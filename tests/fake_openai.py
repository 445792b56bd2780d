"""A loopback HTTP server that speaks the OpenAI chat API, for unit tests of the OpenAI-compatible backend.

Faithful to the parts the ``openai`` client uses: ``GET /v1/models``, ``POST /v1/chat/completions`` streamed
as server-sent events (``data: {...}`` chunks, a ``finish_reason``, a usage chunk when ``stream_options``
asks for it, ``data: [DONE]``) or answered whole, with ``response_format`` and ``logprobs``; errors as
``{"error": {...}}`` with 401 for a wrong key and 404 for an unknown model. Switches make it behave like
the servers users have: one that refuses ``json_schema`` (llama-cpp-python's), one without ``stream_options``
or log-probabilities, one that cuts a stream off or stalls. Every request body is recorded.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import JSONHandler, LoopbackServer, word_chunks


@dataclass
class FakeOpenAI(LoopbackServer):
    models: list[str] = field(default_factory=lambda: ["local-model"])
    reply: str = "Operation Sentinel resulted in over 100 seizures of drugs [1]."
    api_key: str | None = None  # the key the server wants (None: any)
    chat_models: list[str] | None = None  # the models chat answers for (None: those listed)
    formats: tuple[str, ...] = ("json_schema", "json_object")  # response_format types it accepts
    stream_usage: bool = True  # False: a 400 for stream_options, as an older server gives
    logprobs: dict[str, float] | None = field(default_factory=lambda: {"Yes": -0.2, "No": -1.8, "Maybe": -4.0})
    cut_after_chunks: int | None = None  # close the connection mid-stream
    no_finish: bool = False  # end the stream with [DONE] but no finish_reason
    stall_seconds: float = 0.0  # wait before answering (to trigger client timeouts)
    choose_containing: str = "100 seizures"  # a structured request chooses the id of the sentence with this
    fail_with: list[tuple[int, str]] = field(default_factory=list)  # the next chat requests answer these, one each
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.serve(self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def bodies(self, path: str = "/v1/chat/completions") -> list[dict[str, Any]]:
        return [body for at, body, _ in self.requests if at == path]

    def chosen(self, body: dict[str, Any]) -> list[str]:
        user = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
        found = re.search(rf"^\[(\d+\.\d+)\] [^\n]*{re.escape(self.choose_containing)}", user, re.MULTILINE)
        return [found.group(1)] if found else ["none"]

    def chunks(self) -> list[str]:
        return word_chunks(self.reply)

    def top_logprobs(self) -> list[dict[str, Any]]:
        assert self.logprobs is not None
        return [{"token": token, "logprob": logprob, "bytes": None} for token, logprob in self.logprobs.items()]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(JSONHandler):

            def _error(self, status: int, message: str, code: str) -> None:
                self._json(status, {"error": {"message": message, "type": "invalid_request_error", "code": code}})

            def _authorised(self, body: dict[str, Any]) -> bool:
                fake.requests.append((self.path, body, {k.lower(): v for k, v in self.headers.items()}))
                if fake.api_key is None or self.headers.get("Authorization") == f"Bearer {fake.api_key}":
                    return True
                self._error(401, "Incorrect API key provided", "invalid_api_key")
                return False

            def do_GET(self) -> None:
                if not self._authorised({}):
                    return
                if self.path != "/v1/models":
                    return self._error(404, "not found", "not_found")
                self._json(200, {"object": "list", "data": [{"id": m, "object": "model", "created": 0,
                                                             "owned_by": "me"} for m in fake.models]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if not self._authorised(body):
                    return
                if self.path != "/v1/chat/completions":
                    return self._error(404, "not found", "not_found")
                if body.get("model") not in (fake.models if fake.chat_models is None else fake.chat_models):
                    return self._error(404, f"The model `{body.get('model')}` does not exist", "model_not_found")
                time.sleep(fake.stall_seconds)
                if fake.fail_with:  # a prompt too long for the context, a one-off crash: nothing about an option
                    status, message = fake.fail_with.pop(0)
                    return self._error(status, message, "error")
                kind = (body.get("response_format") or {}).get("type")
                if kind is not None and kind not in fake.formats:  # as llama_cpp.server answers it
                    return self._error(500, "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
                                       f"'response_format', 'type'), 'msg': \"Input should be 'text' or "
                                       f"'json_object'\", 'input': {kind!r}}}", "internal_server_error")
                if body.get("logprobs") and fake.logprobs is None:
                    return self._error(400, "logprobs are not supported", "unsupported_parameter")
                if body.get("stream_options") and not fake.stream_usage:
                    return self._error(400, "Unrecognized request argument: stream_options", "bad_request")
                if body.get("stream"):
                    return self._stream(body)
                content = json.dumps({"chosen": fake.chosen(body)}) if kind else fake.reply
                choice: dict[str, Any] = {"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": content}}
                if body.get("logprobs"):
                    content = max(fake.logprobs or {}, key=lambda t: (fake.logprobs or {})[t])
                    choice["message"]["content"] = content
                    choice["logprobs"] = {"content": [{"token": content, "logprob": math.log(0.5), "bytes": None,
                                                       "top_logprobs": fake.top_logprobs()}]}
                self._json(200, {"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                                 "choices": [choice], "usage": self._usage()})

            @staticmethod
            def _usage() -> dict[str, int]:
                return {"prompt_tokens": 321, "completion_tokens": len(fake.chunks()),
                        "total_tokens": 321 + len(fake.chunks())}

            def _stream(self, body: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
                for number, text in enumerate(fake.chunks()):
                    if fake.cut_after_chunks is not None and number == fake.cut_after_chunks:
                        self.wfile.flush()
                        self.connection.shutdown(2)  # drop the connection mid-stream
                        return
                    self._event({**base, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})
                if not fake.no_finish:
                    self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    self._event({**base, "choices": [], "usage": self._usage()})
                self._send(b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")

            def _event(self, data: dict[str, Any]) -> None:
                self._send(f"data: {json.dumps(data)}\n\n".encode())

            def _send(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        return Handler

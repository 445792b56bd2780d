"""Ollama backend through the official ``ollama`` client (streaming, temperature 0).

Every failure becomes a one-line ``LLMUnavailable`` that says what to do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager

import httpx
import ollama

from rag.errors import LLMUnavailable, one_line
from rag.llm.base import NONE, Message, Selection, TextStream, Usage, json_choice_tokens, parse_json_choice

log = logging.getLogger(__name__)


class OllamaLLM:
    backend = "ollama"

    def __init__(self, model: str, host: str, timeout: float = 120.0, temperature: float = 0.0,
                 max_tokens: int = 512, seed: int = 42, num_ctx: int = 4096, probe_timeout: float = 1.5) -> None:
        self.model = model
        self.host = host
        self.timeout = timeout
        self.options = {"temperature": temperature, "num_predict": max_tokens, "seed": seed, "num_ctx": num_ctx}
        self.client = ollama.Client(host=host, timeout=timeout)
        self.probe = ollama.Client(host=host, timeout=probe_timeout)  # health checks must not hang the UI

    def start(self) -> None:
        """Nothing to load here: the Ollama server loads the model on the first request."""

    def warm_up(self) -> str:
        """Ready when the server answers and has the model (it loads the weights on the first request)."""
        return self.check()

    def _unreachable(self) -> LLMUnavailable:
        return LLMUnavailable(f"Ollama is not reachable at {self.host}; start it with `ollama serve` "
                              "or set OLLAMA_HOST (or use --llm embedded)")

    def _response_error(self, exc: ollama.ResponseError) -> LLMUnavailable:
        """The server answered with an error: a 404 means the model was never pulled."""
        if exc.status_code == 404:
            return LLMUnavailable(f"model {self.model!r} is not on the Ollama server at {self.host}; "
                                  f"run `ollama pull {self.model}`")
        return LLMUnavailable(f"Ollama error from {self.host} ({exc.status_code}): {one_line(exc)}")

    def check(self) -> str:
        """Raise LLMUnavailable unless the server answers and has the model (used by 'auto' and health)."""
        try:
            self.probe.show(self.model)
        except ollama.ResponseError as exc:
            raise self._response_error(exc) from None
        except (ConnectionError, httpx.TransportError):
            raise self._unreachable() from None
        return f"Ollama at {self.host} is up and has the model"

    @contextmanager
    def _failures(self, what: str) -> Iterator[None]:
        """Every way a request can fail, as one LLMUnavailable line that says what to do."""
        try:
            yield
        except ollama.ResponseError as exc:
            raise self._response_error(exc) from None
        except (ConnectionError, httpx.ConnectError):
            raise self._unreachable() from None
        except httpx.TimeoutException:
            raise LLMUnavailable(f"Ollama at {self.host} did not answer within {self.timeout:g}s "
                                 "(raise RAG_LLM__OLLAMA_TIMEOUT or use a smaller model)") from None
        except (httpx.TransportError, json.JSONDecodeError):
            raise LLMUnavailable(f"the {what} from Ollama at {self.host} was cut off; try again") from None

    def stream(self, messages: list[Message], max_tokens: int | None = None) -> TextStream[Usage]:
        return TextStream(self._generate(messages, max_tokens))

    def _generate(self, messages: list[Message], max_tokens: int | None) -> Generator[str, None, Usage]:
        usage = Usage()
        done = False
        options = self.options if max_tokens is None else {**self.options, "num_predict": max_tokens}
        with self._failures("answer stream"):
            for part in self.client.chat(self.model, messages=messages, stream=True, options=options):
                if part.message and part.message.content:
                    yield part.message.content
                if part.done:
                    done = True
                    if part.done_reason == "error":
                        raise LLMUnavailable(f"Ollama stopped with an error while answering with {self.model!r}")
                    usage = Usage(part.prompt_eval_count, part.eval_count)
        if not done:
            raise LLMUnavailable(f"the answer stream from Ollama at {self.host} was cut off; try again")
        return usage

    def choose(self, messages: list[Message], options: Sequence[str], max_choices: int) -> Selection:
        """The model's choice under a JSON schema (Ollama's structured outputs): ``{"chosen": [...]}``, each
        item one of the options or "none". A server that cannot constrain its reply (an Ollama-compatible proxy
        in front of another runtime) answers the same prompt unconstrained: the ids it writes are read."""
        schema = {"type": "object", "required": ["chosen"], "properties": {"chosen": {
            "type": "array", "minItems": 1, "maxItems": max_choices,
            "items": {"type": "string", "enum": [*options, NONE]}}}}
        options_ = {**self.options, "num_predict": json_choice_tokens(max_choices)}
        try:
            with self._failures("reply"):
                reply = self.client.chat(self.model, messages=messages, format=schema, options=options_)
        except LLMUnavailable:
            if self._missing_model():
                raise
            log.warning("%s at %s refused a structured-output request; reading its plain reply", self.model, self.host)
            with self._failures("reply"):
                reply = self.client.chat(self.model, messages=messages, options=options_)
        content, usage = reply.message.content or "", Usage(reply.prompt_eval_count, reply.eval_count)
        return Selection(parse_json_choice(content, options, max_choices), usage)

    def _missing_model(self) -> bool:
        """True when the failure was the server being down or lacking the model (a retry cannot help)."""
        try:
            self.check()
        except LLMUnavailable:
            return True
        return False

    def prefer(self, messages: list[Message], first: str, second: str) -> float | None:
        """None: Ollama's chat API gives no probabilities for a continuation that was not generated."""
        return None

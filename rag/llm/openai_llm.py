"""OpenAI-compatible backend through the official ``openai`` client: LM Studio, vLLM, llama.cpp's
``llama-server``, ``python -m llama_cpp.server`` or a hosted endpoint, at the ``base_url`` the user gives.

Streaming chat completions (token counts where the server reports them), the evidence choice under a
JSON schema, and the refusal preference from token log-probabilities where the server returns them.
Every failure becomes a one-line ``LLMUnavailable`` that says what to do. The client talks to
``base_url`` only: there is no default address, and it sends nothing anywhere else.

Example::

    llm = OpenAILLM("http://localhost:8080/v1", "qwen2.5-3b-instruct", timeout=120, temperature=0, max_tokens=512,
                    seed=42)  # as rag.llm.factory.make_openai passes the llm settings
    print("".join(llm.stream([{"role": "user", "content": "Say hello"}])))
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import openai

from rag.errors import LLMUnavailable, one_line
from rag.llm.base import NONE, Message, Selection, TextStream, Usage, json_choice_tokens, parse_json_choice, shown_url

log = logging.getLogger(__name__)

NO_KEY = "no-key"  # local servers check no key, but the client sends no request without one
TOP_LOGPROBS = 20  # the most alternatives per token the OpenAI API returns
PREFER_MAX_TOKENS = 32  # 'prefer' generates through the shared start of the two texts; longer starts: no answer
SHOWN_MODELS = 10  # an unknown model's error lists at most this many of the server's models
# How a server refuses a parameter it does not know: 400 or 422 (OpenAI: "Unrecognized request argument supplied:
# stream_options"; vLLM: "Extra inputs are not permitted"), or 500 (llama_cpp.server: "1 validation error: {... 'loc':
# ('body', 'response_format', 'type') ... 'input': 'json_schema'}"). Only a refusal whose text names the option, or
# says it is unsupported, makes the backend do without it: a context-length 400 or a one-off 500 is just an error.
REFUSED = (openai.BadRequestError, openai.UnprocessableEntityError, openai.InternalServerError)
UNSUPPORTED = ("not supported", "unsupported", "unrecognized", "extra inputs", "extra fields", "extra_forbidden",
               "unknown parameter")
FORMAT_WORDS = ("response_format", "json_schema", "json_object", "grammar")
LOGPROBS_WORDS = ("logprobs",)
STREAM_USAGE_WORDS = ("stream_options", "include_usage")


def _login(url: str) -> tuple[str, str] | None:
    """The ``user:password`` an address carries (a proxy in front of the server may want it), else None."""
    parts = urlsplit(url)
    return (unquote(parts.username or ""), unquote(parts.password or "")) if parts.username or parts.password else None


def _refuses(exc: openai.APIStatusError, option: tuple[str, ...]) -> bool:
    """Whether the server refused the request for the option named by ``option`` (see ``REFUSED``)."""
    text = f"{exc} {exc.body}".lower()
    return isinstance(exc, REFUSED) and any(word in text for word in (*option, *UNSUPPORTED))


def _formats(schema: dict[str, Any]) -> list[dict[str, Any] | None]:
    """The ways to ask for a reply under ``schema``, most widely supported first; None: a plain reply."""
    return [{"type": "json_schema", "json_schema": {"name": "choice", "schema": schema, "strict": True}},
            {"type": "json_object", "schema": schema},  # llama-cpp-python's server (and llama-server) dialect
            None]


class OpenAILLM:
    backend = "openai"

    def __init__(self, base_url: str, model: str = "", api_key: str = "", *, timeout: float, temperature: float,
                 max_tokens: int, seed: int) -> None:
        self.base_url = shown_url(base_url.rstrip("/"))  # what messages and logs name: no user:password@
        self.configured = model  # empty: the one model the server lists
        self.served: str | None = None  # the model name once the server has been seen to have it
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.sampling = {"temperature": temperature, "seed": seed}
        login = _login(base_url)  # sent as HTTP basic auth, as the address asked, but never in a URL the client logs
        self.client = openai.OpenAI(base_url=self.base_url, api_key=api_key or NO_KEY, timeout=timeout,
                                    max_retries=0,  # a failure is reported at once, in one line
                                    http_client=openai.DefaultHttpxClient(auth=login) if login else None)
        # The client would also send $OPENAI_ORG_ID and $OPENAI_PROJECT_ID, meant for OpenAI, to this server
        self.client.organization = self.client.project = None
        self._usage_in_stream = True  # False once the server refused stream_options and took the request without
        self._format = 0  # index into _formats: the last one a request succeeded with
        self._logprobs = True  # False once the server refused log-probabilities

    @property
    def model(self) -> str:
        return self.served or self.configured or "(the server's model)"

    def start(self) -> None:
        """Nothing to load here: the server holds the model."""

    def warm_up(self) -> str:
        return self.check()

    def check(self) -> str:
        """Raise LLMUnavailable unless the server answers and lists the model (a real round trip)."""
        self.served = self._served_model()
        return f"the OpenAI-compatible server at {self.base_url} is up and has {self.served}"

    def _ready(self) -> str:
        """The model name to send: checked against the server's list once, before the first request."""
        if self.served is None:
            self.check()
        assert self.served is not None
        return self.served

    def _model_names(self) -> list[str] | None:
        """The models the server lists; None when it has no model list."""
        with self._failures():
            try:
                return [model.id for model in self.client.models.list()]
            except openai.NotFoundError:
                return None

    def _served_model(self) -> str:
        names = self._model_names()
        if names is None:  # a server without /models: trust the configured name
            if self.configured:
                return self.configured
            raise LLMUnavailable(f"the server at {self.base_url} lists no models (is it the OpenAI API address, "
                                 "often ending in /v1?); name the model with RAG_LLM__OPENAI_MODEL or --model")
        if self.configured in names or (not self.configured and len(names) == 1):
            return self.configured or names[0]
        raise self._unknown_model(names)

    def _unknown_model(self, names: list[str] | None) -> LLMUnavailable:
        wanted = self.configured or self.served
        if names == []:
            return LLMUnavailable(f"the server at {self.base_url} has no model loaded; load one there")
        listed = ", ".join(names[:SHOWN_MODELS]) + (", ..." if len(names) > SHOWN_MODELS else "") if names else ""
        if not wanted:
            return LLMUnavailable(f"the server at {self.base_url} has several models ({listed}); "
                                  "choose one with RAG_LLM__OPENAI_MODEL or --model")
        has = f"; it has {listed}" if listed else " (or that is not its OpenAI API address, often ending in /v1)"
        return LLMUnavailable(f"model {wanted!r} is not on the server at {self.base_url}{has}; "
                              "set RAG_LLM__OPENAI_MODEL or --model")

    def _missing(self) -> LLMUnavailable:
        """A 404 for the model: say which models the server has, if it says; check again next time."""
        try:
            names = self._model_names()
        except LLMUnavailable:
            names = None
        wanted = self.configured or self.served
        error = self._unknown_model(names) if not names or wanted not in names else LLMUnavailable(
            f"the server at {self.base_url} lists {wanted!r} but answered 404 for it; is that its OpenAI API "
            "address (often ending in /v1)?")
        self.served = None
        return error

    @contextmanager
    def _failures(self, streaming: bool = False) -> Iterator[None]:
        """Every way a request can fail, as one LLMUnavailable line that says what to do."""
        try:
            yield
        except openai.APITimeoutError:
            raise LLMUnavailable(f"the server at {self.base_url} did not answer within {self.timeout:g}s "
                                 "(raise RAG_LLM__OPENAI_TIMEOUT or use a smaller model)") from None
        except openai.APIConnectionError:
            if streaming:
                raise LLMUnavailable(f"the answer stream from {self.base_url} was cut off; try again") from None
            raise LLMUnavailable(f"no OpenAI-compatible server answers at {self.base_url}; start it (LM Studio, "
                                 "`vllm serve`, `llama-server`) or set RAG_LLM__BASE_URL (or use --llm embedded)"
                                 ) from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise LLMUnavailable(f"the server at {self.base_url} refused the API key ({exc.status_code}); set "
                                 "RAG_LLM__API_KEY to a key it accepts") from None
        except openai.NotFoundError:
            raise self._missing() from None
        except openai.APIStatusError as exc:
            raise LLMUnavailable(f"the server at {self.base_url} answered {exc.status_code}: {one_line(exc)}"
                                 ) from None
        except openai.APIError as exc:  # an error event inside a stream, a reply that is not JSON
            raise LLMUnavailable(f"the server at {self.base_url} failed: {one_line(exc)}") from None

    def _complete(self, model: str, messages: list[Message], max_tokens: int, **extra: Any) -> Any:
        """One chat completion (typed loosely: requests differ only in the extra parameters)."""
        completions: Any = self.client.chat.completions
        return completions.create(model=model, messages=messages, max_tokens=max_tokens, **self.sampling, **extra)

    def stream(self, messages: list[Message], max_tokens: int | None = None) -> TextStream[Usage]:
        return TextStream(self._generate(messages, max_tokens or self.max_tokens))

    def _open(self, model: str, messages: list[Message], max_tokens: int) -> Any:
        """The stream, asking for token counts in its last chunk unless the server refused that once."""
        if not self._usage_in_stream:
            return self._complete(model, messages, max_tokens, stream=True)
        try:
            return self._complete(model, messages, max_tokens, stream=True, stream_options={"include_usage": True})
        except REFUSED as exc:
            if not _refuses(exc, STREAM_USAGE_WORDS):
                raise
            chunks = self._complete(model, messages, max_tokens, stream=True)
            log.info("the server at %s refused stream_options (%s): answers come without token counts",
                     self.base_url, one_line(exc))
            self._usage_in_stream = False  # only now: the request without it was taken
            return chunks

    def _generate(self, messages: list[Message], max_tokens: int) -> Generator[str, None, Usage]:
        model = self._ready()
        with self._failures():
            chunks = self._open(model, messages, max_tokens)
        usage, finished = Usage(), False
        with self._failures(streaming=True), chunks:
            for chunk in chunks:
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices or []:
                    if choice.delta is not None and choice.delta.content:
                        yield choice.delta.content
                    finished = finished or choice.finish_reason is not None
        if not finished:
            raise LLMUnavailable(f"the answer stream from {self.base_url} was cut off; try again")
        return usage

    def choose(self, messages: list[Message], options: Sequence[str], max_choices: int) -> Selection:
        """The model's choice under a JSON schema, ``{"chosen": [...]}``, each item one of the options or "none".
        A server that refuses the schema is asked in the next dialect it may know, then plainly: the ids the
        plain reply writes are read. The dialect a request succeeded with is remembered; an error that does not
        name the format (a context-length 400, a one-off 500) is an error, not a reason to step down."""
        schema = {"type": "object", "required": ["chosen"], "properties": {"chosen": {
            "type": "array", "minItems": 1, "maxItems": max_choices,
            "items": {"type": "string", "enum": [*options, NONE]}}}}
        model, formats, index = self._ready(), _formats(schema), self._format
        while True:
            response_format = formats[index]
            extra = {} if response_format is None else {"response_format": response_format}
            with self._failures():
                try:
                    reply = self._complete(model, messages, json_choice_tokens(max_choices), **extra)
                    break
                except REFUSED as exc:
                    if response_format is None or not _refuses(exc, FORMAT_WORDS):
                        raise
                    log.warning("the server at %s refused response_format %s (%s); trying the next way",
                                self.base_url, response_format["type"], one_line(exc))
                    index += 1
        self._format = index
        content = reply.choices[0].message.content or "" if reply.choices else ""
        usage = Usage(reply.usage.prompt_tokens, reply.usage.completion_tokens) if reply.usage else Usage()
        return Selection(parse_json_choice(content, options, max_choices), usage)

    def prefer(self, messages: list[Message], first: str, second: str) -> float | None:
        """P(the reply goes on as ``first`` rather than ``second``), from the top log-probabilities where the
        greedy reply leaves their shared start; None when the server gives none or the reply leaves it early."""
        common = os.path.commonprefix([first, second])
        if common in (first, second):  # one is the start of the other: no preference to read
            return 0.5
        if not self._logprobs or len(common) >= PREFER_MAX_TOKENS:
            return None
        model = self._ready()
        with self._failures():
            try:
                reply = self._complete(model, messages, len(common) + 1, logprobs=True, top_logprobs=TOP_LOGPROBS)
            except REFUSED as exc:
                if not _refuses(exc, LOGPROBS_WORDS):
                    raise
                log.info("the server at %s gives no log-probabilities (%s)", self.base_url, one_line(exc))
                self._logprobs = False
                return None
        logprobs = reply.choices[0].logprobs if reply.choices else None
        return _preference(logprobs.content or [], common, first, second) if logprobs is not None else None


def _preference(tokens: Sequence[Any], common: str, first: str, second: str) -> float | None:
    """At the first generated token that leaves ``common``, the share of ``first`` among the alternatives that
    lead to one text and not the other; one missing from the top list counts as the least listed."""
    before = ""
    for token in tokens:
        if common.startswith(before + token.token):
            before += token.token
            continue
        p_first = p_second = 0.0
        for alternative in token.top_logprobs or []:
            text = before + alternative.token
            to_first = first.startswith(text) or text.startswith(first)
            to_second = second.startswith(text) or text.startswith(second)
            if to_first != to_second:
                p_first, p_second = ((p_first + math.exp(alternative.logprob), p_second) if to_first
                                     else (p_first, p_second + math.exp(alternative.logprob)))
        if not p_first and not p_second:
            return None
        least = min(math.exp(alternative.logprob) for alternative in token.top_logprobs)
        return (p_first or least) / ((p_first or least) + (p_second or least))
    return None

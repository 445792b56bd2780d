"""The one interface every LLM backend offers: stream text from chat messages."""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from rag.types import Message


@dataclass
class Usage:
    """Token counts as the backend reports them (None where it cannot say)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class Selection:
    """What ``LLM.choose`` returns: the options chosen, best first ([] for none), and what it cost."""

    chosen: list[str]
    usage: Usage


R = TypeVar("R")
NONE = "none"  # the choice of no option
_BRACKETED = re.compile(r"\[\s*([^\[\]]+?)\s*\]")
# A JSON choice, {"chosen": ["12.3", "4.1"]}, costs up to ~16 tokens per id (quotes, digits, comma: tokenizers split
# ids finely) plus ~16 for the braces and key. The cap stops a server that does not constrain the reply from
# writing a whole answer where a few ids were asked for; too tight a cap would cut the JSON and lose the choice.
JSON_TOKENS_PER_CHOICE = 16
JSON_CHOICE_OVERHEAD = 16


def json_choice_tokens(max_choices: int) -> int:
    """The reply cap for a JSON choice of up to ``max_choices`` options (Ollama's and the OpenAI API's)."""
    return JSON_TOKENS_PER_CHOICE * max_choices + JSON_CHOICE_OVERHEAD


def shown_url(url: str) -> str:
    """``url`` as logs, errors and the UI show it: without the ``user:password@`` it may carry."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def parse_choice(text: str, options: Sequence[str], max_choices: int) -> list[str]:
    """The options a reply names in square brackets ("[2.3] [1.1]"), in order, each once, at most ``max_choices``;
    [] for "[none]" or a reply that names no option. Every backend's reply is read the same way."""
    allowed, chosen = set(options), list[str]()
    for name in _BRACKETED.findall(text):
        if name == NONE:
            break
        if name in allowed and name not in chosen:
            chosen.append(name)
    return chosen[:max_choices]


def parse_json_choice(content: str, options: Sequence[str], max_choices: int) -> list[str]:
    """The options a structured reply ``{"chosen": [...]}`` names (see ``parse_choice``); a reply that is not
    that JSON (a server that could not constrain it) is read for the ids it writes in square brackets."""
    try:
        chosen = json.loads(content).get("chosen", [])
    except (json.JSONDecodeError, AttributeError):
        return parse_choice(content, options, max_choices)
    names = [str(name) for name in chosen] if isinstance(chosen, list) else []
    return parse_choice(" ".join(f"[{name}]" for name in names), options, max_choices)


class TextStream(Generic[R]):
    """Iterate for text deltas; once exhausted, ``result`` holds what the generator returned.

    Backends and the pipeline stay plain generators that yield text and *return* their
    result (token usage, the final Answer), and callers still get a simple iterator.
    """

    def __init__(self, generator: Generator[str, None, R]) -> None:
        self._generator = generator
        self.result: R | None = None

    def __iter__(self) -> Iterator[str]:
        self.result = yield from self._generator

    def drain(self) -> R:
        """Consume what is left of the text; the result."""
        for _ in self:
            pass
        assert self.result is not None
        return self.result


class LLM(Protocol):
    """What the pipeline, the status panel and the eval need of a backend; nobody asks which class it is."""

    @property
    def backend(self) -> str:
        """'ollama', 'embedded' or 'openai': logged and returned with every answer."""

    @property
    def model(self) -> str: ...

    def start(self) -> None:
        """Begin getting ready without waiting (the embedded model loads in its worker meanwhile)."""

    def warm_up(self) -> object:
        """Get ready and wait until ready; raises rag.errors.LLMUnavailable (one line) when it cannot answer."""

    def check(self) -> str:
        """One line on health after a real round trip; raises rag.errors.LLMUnavailable when it cannot answer."""

    def stream(self, messages: list[Message], max_tokens: int | None = None) -> TextStream[Usage]:
        """Raises rag.errors.LLMUnavailable (one line) when the backend cannot answer.

        ``max_tokens`` caps this one completion (default: the backend's answer cap).
        """

    def choose(self, messages: list[Message], options: Sequence[str], max_choices: int) -> Selection:
        """Up to ``max_choices`` of ``options`` (in the order the model names them) as the reply to ``messages``,
        which ask for them in square brackets; [] when it chooses none. The backend restricts the reply to
        exactly that (a grammar, a JSON schema). Raises rag.errors.LLMUnavailable like ``stream``."""

    def prefer(self, messages: list[Message], first: str, second: str) -> float | None:
        """Probability that the reply to ``messages`` goes on as ``first`` rather than ``second``, from the token
        probabilities where the two first differ; None when the backend does not expose them."""

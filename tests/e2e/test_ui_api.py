"""Scripted use of the web UI through ``gradio_client``: the named ``/ask`` endpoint, and ``rag serve`` itself."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from rag.pipeline import Pipeline
from rag.settings import BUNDLED_CORPUS, Settings
from tests.conftest import SENTINEL, SENTINEL_QUESTION
from tests.fake_ollama import FakeOllama, free_port
from tests.ui_harness import running_app, ui_settings

SENTINEL_LABEL = f"{SENTINEL[0]} ¶{SENTINEL[1]}"
MODEL = "qwen2.5:3b"
REPLY = "Operation Sentinel resulted in over 100 seizures of drugs"  # what the fake Ollama answers


def _marker_for_sentinel(index_dir: Path) -> int:
    """Which [n] the Sentinel paragraph gets in the prompt, so the fake model can cite it."""
    hits = Pipeline(Settings(index={"index_dir": index_dir})).retrieve(SENTINEL_QUESTION)
    return [h.key for h in hits].index(SENTINEL) + 1


@pytest.mark.llm
def test_ask_endpoint_answers_with_sources_as_markdown(tmp_path: Path, bundled_index_dir: Path,
                                                       model_cache_dir: Path) -> None:
    settings = ui_settings(tmp_path, bundled_index_dir, llm={"backend": "embedded", "model_cache_dir": model_cache_dir})
    with running_app(Pipeline(settings)) as url:
        client = Client(url, verbose=False)
        markdown = client.predict(SENTINEL_QUESTION, api_name="/ask")
    assert "160" in markdown and "[1]" in markdown, markdown
    assert f"**{SENTINEL_LABEL}**" in markdown and "**Sources**" in markdown
    assert "> Whilst in Russia" in markdown  # the cited paragraph, quoted


@pytest.fixture()
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama(models=[]) as fake:
        yield fake


def test_ask_is_the_one_public_endpoint_and_errors_are_one_line(tmp_path: Path, bundled_index_dir: Path,
                                                                ollama: FakeOllama) -> None:
    settings = ui_settings(tmp_path, bundled_index_dir,
                           llm={"backend": "ollama", "ollama_host": ollama.host, "ollama_model": MODEL})
    with running_app(Pipeline(settings)) as url:
        client = Client(url, verbose=False)
        api = client.view_api(print_info=False, return_format="dict")
        assert list(api["named_endpoints"]) == ["/ask"]  # chat, uploads and panels are not part of the API
        assert [p["python_type"]["type"] for p in api["named_endpoints"]["/ask"]["parameters"]] == ["str"]
        with pytest.raises(AppError, match=rf"model '{MODEL}' is not on the Ollama server.*ollama pull {MODEL}"):
            client.predict(SENTINEL_QUESTION, api_name="/ask")
        with pytest.raises(AppError, match="the question is empty"):
            client.predict("   ", api_name="/ask")
        ollama.models.append(MODEL)  # the same app answers once the model is there
        ollama.reply = f"{REPLY} [{_marker_for_sentinel(bundled_index_dir)}]."
        markdown = client.predict(SENTINEL_QUESTION, api_name="/ask")
    # The fake chose the Sentinel sentence under the JSON schema: quoted first, as the answer.
    assert markdown.startswith("> “The Operation resulted in over 100 seizures of drugs; more than 160 kg")
    assert f"[1] **{SENTINEL_LABEL}**" in markdown


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} did not come up in {seconds}s: {log.read_text()[-3000:]}")


def test_python_m_ui_serves_the_bundled_reports_from_a_fresh_start_with_a_login(
        tmp_path: Path, bundled_index_dir: Path, ollama: FakeOllama) -> None:
    """What a fresh clone does: seed the workspace, build the index, serve; here behind --auth."""
    ollama.models.append(MODEL)
    ollama.reply = f"{REPLY} [{_marker_for_sentinel(bundled_index_dir)}]."
    port, data_home = free_port(), tmp_path / "data-home"
    env = {**os.environ, "XDG_DATA_HOME": str(data_home), "OLLAMA_HOST": ollama.host, "GRADIO_ANALYTICS_ENABLED": "0"}
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "ui", "--port", str(port), "--auth", "reader:s3cret:pass", "--llm", "ollama",
         "--model", MODEL], stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, process, log)
        assert httpx.get(url + "config", timeout=5).status_code == 401  # nothing without the login
        with pytest.raises(Exception, match="(?i)login|auth|401|credentials"):
            Client(url, verbose=False, auth=("reader", "wrong"))
        client = Client(url, verbose=False, auth=("reader", "s3cret:pass"))
        markdown = client.predict(SENTINEL_QUESTION, api_name="/ask")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert f"[1] **{SENTINEL_LABEL}**" in markdown
    workspace = data_home / "rag" / "corpus"
    assert sorted(p.name for p in workspace.glob("*.txt")) == sorted(p.name for p in BUNDLED_CORPUS.glob("*.txt"))
    assert (data_home / "rag" / "index" / "CURRENT").exists()
    output = log.read_text()
    assert "index: 5 added" in output and "serving the reports in" in output, output[-3000:]


@pytest.mark.parametrize(("flags", "message"), [
    (["--auth", "nopassword"], "error: --auth must look like user:password"),
    (["--port", "PORT_IN_USE"], "error: cannot listen on 127.0.0.1:PORT_IN_USE: the port is in use"),
])
def test_serve_refuses_bad_options_in_one_line_before_any_work(tmp_path: Path, flags: list[str], message: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        command = [sys.executable, "-m", "rag.app.cli", "serve", *[f.replace("PORT_IN_USE", port) for f in flags]]
        result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                                env={**os.environ, "XDG_DATA_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(message.replace("PORT_IN_USE", port)), result.stderr
    assert not (tmp_path / "rag").exists()  # failed before seeding or indexing anything


@pytest.mark.llm
def test_ask_endpoint_survives_a_worker_crash_and_answers_the_next_question(
        tmp_path: Path, bundled_index_dir: Path, model_cache_dir: Path) -> None:
    """A segfault in the embedded model mid-answer: one line for that question, the server lives on."""
    settings = ui_settings(tmp_path, bundled_index_dir, llm={"backend": "embedded", "model_cache_dir": model_cache_dir,
                                                             "n_ctx": 3584})  # its own worker, not one shared
    answering = threading.Event()

    class Answering(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("the embedded model is answering"):
                answering.set()

    handler = Answering()
    logging.getLogger("rag.llm.worker_process").addHandler(handler)
    logging.getLogger("rag.llm.worker_process").setLevel(logging.INFO)
    pipeline = Pipeline(settings)
    try:
        with running_app(pipeline) as url:
            client = Client(url, verbose=False)
            job = client.submit(SENTINEL_QUESTION, api_name="/ask")
            assert answering.wait(120), "the question never reached the embedded model"
            os.kill(pipeline.llm.llm.worker.pid, signal.SIGSEGV)  # type: ignore[attr-defined]
            with pytest.raises(AppError, match=r"^the embedded model stopped \(signal 11, SIGSEGV\) while answering; "
                                               r"it has been restarted — ask again$"):
                job.result(timeout=120)
            markdown = client.predict(SENTINEL_QUESTION, api_name="/ask")
    finally:
        logging.getLogger("rag.llm.worker_process").removeHandler(handler)
        pipeline.llm.llm.worker.stop()  # type: ignore[attr-defined]
    assert "160" in markdown and f"**{SENTINEL_LABEL}**" in markdown, markdown


def test_ask_refuses_invalid_questions_and_reports_any_failure_in_one_line(
        tmp_path: Path, bundled_index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ui_settings(tmp_path, bundled_index_dir,
                           llm={"backend": "ollama", "ollama_host": f"http://127.0.0.1:{free_port()}"})
    pipeline = Pipeline(settings)
    with running_app(pipeline) as url:
        client = Client(url, verbose=False)
        for question, message in [("a\x00b", "the question holds a control character (U+0000 at character 2)"),
                                  ("\u200b\u200b", "the question is empty"), ("", "the question is empty"),
                                  (5, "the question must be text, not int"),
                                  (None, "the question must be text, not NoneType"),
                                  (["x"], "the question must be text, not list")]:
            with pytest.raises(AppError) as refused:
                client.predict(question, api_name="/ask")
            assert str(refused.value).startswith(message), (question, str(refused.value))
        # gradio_client cannot send a lone surrogate (httpx refuses to encode it), a script can:
        called = httpx.post(url + "gradio_api/call/ask", content=b'{"data": ["\\ud800"]}',
                            headers={"content-type": "application/json"})
        result = httpx.get(url + f"gradio_api/call/ask/{called.json()['event_id']}", timeout=60).text
        assert result.startswith('event: error\ndata: {"error": "the question is not valid Unicode (a lone '
                                 'surrogate at character 1)"'), result

        # no question at all, or no "data": one line and 422, where Gradio answered 500 {"error": null}
        for body in (b'{"data": []}', b'{}', b'{"data": "What?"}'):
            shaped = httpx.post(url + "gradio_api/call/ask", content=body, headers={"content-type": "application/json"})
            assert shaped.status_code == 422 and "takes 1 value" in shaped.json()["detail"], (body, shaped.text)

        def broken(question: str, *args: object) -> None:
            raise ValueError(f"broken state for {question}")  # not a RagError: an unexpected failure

        monkeypatch.setattr(pipeline, "ask", broken)
        with pytest.raises(AppError, match=r"^unexpected ValueError: broken state for Who\?$"):
            client.predict("Who?", api_name="/ask")
        called = httpx.post(url + "gradio_api/call/ask", content=b'{"data": ["Who \\udc80?"]}',
                            headers={"content-type": "application/json"})
        result = httpx.get(url + f"gradio_api/call/ask/{called.json()['event_id']}", timeout=60).text
        assert '"error": "unexpected ValueError: broken state for Who \\\\udc80?"' in result, result

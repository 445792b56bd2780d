"""Only /ask is an API: the app's internal handlers refuse raw HTTP clients that did not load its page.

Gradio's ``api_visibility="private"`` only hides a handler from the docs and gradio_client;
these tests drive the routes that run handlers (queue/join by fn_index, run/predict,
call/NAME, and the file upload) the way a script reaching the port would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from rag.app.uploads import writable_corpus
from rag.pipeline import Pipeline
from tests.e2e.test_ui_api import _wait_until_up
from tests.fake_ollama import free_port
from tests.ui_harness import running_app, ui_settings
from ui.app import ChatApp
from ui.gate import NOT_FROM_PAGE, UPLOADS_OFF

REPORT = "Harbour inspection in Port Aldeney\n\nThe inspection found 740 kg of undeclared saffron.\n"


def _file_data(path: Path) -> dict[str, Any]:
    return {"path": str(path), "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def _handlers(url: str) -> tuple[int, list[int]]:
    """The upload handler's fn_index and every non-public one, as a script reads them from /config."""
    dependencies = httpx.get(url + "config", timeout=10).json()["dependencies"]
    upload = next(d["id"] for d in dependencies if any(t[1] == "upload" for t in d["targets"]))
    return upload, [d["id"] for d in dependencies if d["api_visibility"] != "public"]


def _finished(client: httpx.Client, url: str, session: str) -> str:
    with client.stream("GET", url + f"gradio_api/queue/data?session_hash={session}", timeout=120) as events:
        for line in events.iter_lines():
            if "process_completed" in line:
                return line
    raise AssertionError("the queue never reported the upload as finished")


def test_a_script_cannot_upload_or_run_internal_handlers_but_can_ask(tmp_path: Path) -> None:
    settings = ui_settings(tmp_path, llm={"backend": "ollama", "ollama_host": f"http://127.0.0.1:{free_port()}"})
    corpus = writable_corpus(settings)
    before = sorted(p.name for p in corpus.iterdir())
    report = tmp_path / "harbour.md"
    report.write_text(REPORT)
    pipeline = Pipeline(settings)
    with running_app(pipeline) as url:
        upload, private = _handlers(url)
        assert upload in private and len(private) >= 10
        script = httpx.Client(timeout=30)
        refused = [script.post(url + "gradio_api/upload", files={"files": ("harbour.md", REPORT.encode())})]
        for fn_index in private:
            refused.append(script.post(url + "gradio_api/queue/join", json={
                "data": [[_file_data(report)]] if fn_index == upload else [], "fn_index": fn_index,
                "session_hash": "script"}))
        refused.append(script.post(url + "gradio_api/run/predict",
                                   json={"data": [[_file_data(report)]], "fn_index": upload}))
        refused.append(script.post(url + "gradio_api/call/upload", json={"data": [[_file_data(report)]]}))
        refused.append(script.post(url + "gradio_api/call/ask", json={"data": [[_file_data(report)]],
                                                                      "fn_index": upload}))
        assert [r.status_code for r in refused[:-1]] == [403] * (len(refused) - 1)
        assert all(r.json()["detail"] == NOT_FROM_PAGE for r in refused[:-1])
        assert refused[-1].status_code == 200  # /call/ask runs /ask whatever fn_index says (Gradio ignores it)
        time.sleep(1)
        assert sorted(p.name for p in corpus.iterdir()) == before  # nothing landed in the corpus

        client = Client(url, verbose=False)  # the public API is untouched
        assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ["/ask"]
        with pytest.raises(AppError, match="the question is empty"):
            client.predict("   ", api_name="/ask")

        page = httpx.Client(timeout=30)  # what the browser does: load the page, then upload through it
        assert page.get(url).status_code == 200
        uploaded = page.post(url + "gradio_api/upload", files={"files": ("harbour.md", REPORT.encode())})
        assert uploaded.status_code == 200, uploaded.text
        joined = page.post(url + "gradio_api/queue/join", json={
            "data": [[_file_data(Path(uploaded.json()[0]))]], "fn_index": upload, "session_hash": "page"})
        assert joined.status_code == 200, joined.text
        assert '"success":true' in _finished(page, url, "page")
        assert (corpus / "harbour.md").read_text() == REPORT
        deadline = time.monotonic() + 60  # indexed in the background: wait, so that nothing outlives the test
        while any(t.name == "upload-indexer" for t in threading.enumerate()):
            assert time.monotonic() < deadline, "the upload was never indexed"
            time.sleep(0.2)
        assert "harbour.md" in pipeline.index.manifest.documents


def _upload_component(url: str) -> dict[str, Any]:
    components = httpx.get(url + "config", timeout=10).json()["components"]
    return next(c for c in components if c.get("props", {}).get("elem_id") == "rag-upload")


def test_with_uploads_off_the_page_has_no_upload_and_the_handler_refuses(tmp_path: Path) -> None:
    settings = ui_settings(tmp_path, llm={"backend": "ollama", "ollama_host": f"http://127.0.0.1:{free_port()}"},
                           ui={"allow_uploads": False})
    pipeline = Pipeline(settings)
    corpus = writable_corpus(settings)
    before = sorted(p.name for p in corpus.iterdir())
    report = tmp_path / "harbour.md"
    report.write_text(REPORT)
    with running_app(pipeline) as url:
        assert _upload_component(url)["props"]["visible"] is False
        page = httpx.Client(timeout=30)
        assert page.get(url).status_code == 200 and "rag-uploads-off" in httpx.get(url + "config").text
        refused = page.post(url + "gradio_api/upload", files={"files": ("harbour.md", REPORT.encode())})
        assert refused.status_code == 403 and refused.json()["detail"] == UPLOADS_OFF
    status, *_ = ChatApp(pipeline).upload([str(report)])  # called as the page would: refused all the same
    assert "uploads are off on this server" in status
    assert sorted(p.name for p in corpus.iterdir()) == before


def test_serving_on_every_interface_without_a_login_warns_and_turns_uploads_off(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "GRADIO_ANALYTICS_ENABLED": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ui", "--host", "0.0.0.0", "--port", str(port), "--llm", "ollama"],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, process, log)
        assert ("[WARNING] WARNING: the UI on 0.0.0.0 has no login (--auth): anyone who can reach this address can "
                "read every report and ask questions; uploads are off (--allow-uploads turns them on)"
                in log.read_text().splitlines()), log.read_text()[-3000:]
        assert _upload_component(url)["props"]["visible"] is False
        page = httpx.Client(timeout=30)
        page.get(url)
        refused = page.post(url + "gradio_api/upload", files={"files": ("harbour.md", REPORT.encode())})
        assert refused.status_code == 403 and refused.json()["detail"] == UPLOADS_OFF
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_every_route_that_takes_a_body_needs_the_page(tmp_path: Path) -> None:
    """A probe posted a recording to /gradio_api/process_recording without the page's cookie, uploads off, and
    it was accepted: every route with a body is closed unless it is named as open (/ask, the login form)."""
    settings = ui_settings(tmp_path, llm={"backend": "ollama", "ollama_host": f"http://127.0.0.1:{free_port()}"},
                           ui={"allow_uploads": False})
    with running_app(Pipeline(settings)) as url:
        script = httpx.Client(timeout=30)
        recording = {"video": ("clip.webm", b"\x1aE\xdf\xa3 not really a video")}
        refused = {
            "process_recording": script.post(url + "gradio_api/process_recording", files=recording),
            "cancel": script.post(url + "gradio_api/cancel", json={"event_id": "x", "session_hash": "y"}),
            "reset": script.post(url + "gradio_api/reset", json={"event_id": "x"}),
            "stream": script.post(url + "gradio_api/stream/x", json={"data": []}),
            "component_server": script.post(url + "gradio_api/component_server", json={}),
            "vibe-edit": script.post(url + "gradio_api/vibe-edit", json={"prompt": "x"}),
            "put": script.put(url + "gradio_api/upload", content=b"x"),
        }
        assert {name: r.status_code for name, r in refused.items()} == {name: 403 for name in refused}
        page = httpx.Client(timeout=30)
        page.get(url)
        assert page.post(url + "gradio_api/process_recording", files=recording).json()["detail"] == UPLOADS_OFF


def test_behind_a_login_the_login_page_opens_nothing(tmp_path: Path) -> None:
    """A probe took the cookie the login page set and fetched a cited page image with it (200, a PNG)."""
    from ui.gate import LOGIN_FIRST
    from ui.page_images import ROUTE

    settings = ui_settings(tmp_path, llm={"backend": "ollama", "ollama_host": f"http://127.0.0.1:{free_port()}"},
                           ui={"auth": "reader:secret"})
    image = "rag-page/" + "0123456789abcdef" * 2 + ".png"
    assert ROUTE.search("/" + image)
    with running_app(Pipeline(settings)) as url:
        stranger = httpx.Client(timeout=30)
        login_page = stranger.get(url)
        assert login_page.status_code == 200 and not any(c.startswith("rag-page-") for c in stranger.cookies)
        refused = stranger.get(url + image)
        assert refused.status_code == 403 and refused.json()["detail"] == LOGIN_FIRST
        assert stranger.post(url + "gradio_api/upload", files={"files": ("a.md", b"x")}).status_code == 403

        reader = httpx.Client(timeout=30)
        logged_in = reader.post(url + "login", data={"username": "reader", "password": "secret"})
        assert logged_in.status_code == 200, logged_in.text
        reader.get(url)  # the app's page, now: it sets the page's cookie
        assert any(c.startswith("rag-page-") for c in reader.cookies)
        assert reader.get(url + image).status_code == 404  # through the gate to the route: no such image

"""Only /ask is an API: the app's internal handlers refuse raw HTTP clients that did not load its page.

Gradio's ``api_visibility="private"`` only hides a handler from the docs and gradio_client;
these tests drive the routes that run handlers (queue/join by fn_index, run/predict,
call/NAME, and the file upload) the way a script reaching the port would.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from rag.pipeline import Pipeline
from rag.uploads import writable_corpus
from tests.fake_ollama import free_port
from tests.ui_harness import running_app, ui_settings
from ui.gate import NOT_FROM_PAGE

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
    settings = ui_settings(tmp_path, llm="ollama", ollama_host=f"http://127.0.0.1:{free_port()}")
    corpus = writable_corpus(settings)
    before = sorted(p.name for p in corpus.iterdir())
    report = tmp_path / "harbour.md"
    report.write_text(REPORT)
    with running_app(Pipeline(settings)) as url:
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

"""Managing reports in a real browser (Debian's chromium via Playwright): a report uploaded through the page is listed,
deleted after a confirmation, and its paragraphs no longer answer. The model is tests.fake_ollama's, which
quotes the sentence holding "740 kg" when it is shown one; the embedder and the index are real."""

from __future__ import annotations

from pathlib import Path

from rag.pipeline import Pipeline
from tests.fake_ollama import FakeOllama
from tests.ui_harness import ARTIFACTS, ask, chromium, open_app, running_app, ui_settings
from tests.unit.test_uploads import NEW_REPORT

QUESTION = "How much saffron was found in Port Aldeney?"
NAME = "port_aldeney_inspection.md"
INDEXED_SECONDS = 120_000  # ms: the worker loads its own embedder copy, then embeds the upload


def test_an_uploaded_report_is_deleted_after_a_confirmation_and_no_longer_answers(tmp_path: Path) -> None:
    report = tmp_path / NAME
    report.write_text(NEW_REPORT)
    with FakeOllama(choose_containing="740 kg") as ollama:
        settings = ui_settings(tmp_path, llm={"backend": "ollama", "ollama_host": ollama.host,
                                              "ollama_model": "qwen2.5:3b"},
                               questions={"followup_turns": 0, "translate": False})
        pipeline = Pipeline(settings)
        with running_app(pipeline) as url, chromium() as browser:
            page, _ = open_app(browser, url)
            page.set_input_files("#rag-upload input[type=file]", [str(report)])
            page.locator("#rag-upload-status").get_by_text("✓ added").wait_for(timeout=INDEXED_SECONDS)
            saved = settings.index.corpus_dir / NAME
            assert saved.exists()
            before = ask(page, QUESTION)
            assert "740 kg" in before["text"], before["text"]
            assert page.locator("#rag-chat .rag-card", has_text=f"{NAME} ¶4").count() == 1

            page.get_by_text("Manage reports").click()
            listed = page.locator("#rag-reports-list tbody tr", has_text=NAME)
            listed.wait_for(timeout=10_000)  # the list followed the upload
            assert "uploaded" in listed.inner_text() and "2024-03-12" in listed.inner_text()
            page.click("#rag-report-choice input")
            page.get_by_role("option", name=NAME).click()

            page.click("#rag-report-delete")
            question = page.locator("#rag-report-question")
            question.get_by_text("Delete").wait_for(timeout=10_000)
            assert NAME in question.inner_text() and "uploaded" in question.inner_text()
            assert saved.exists()  # asking deletes nothing
            page.screenshot(path=str(_artifact("ui_reports_confirm.png")), full_page=True)

            page.click("#rag-report-confirm")
            page.locator("#rag-report-status").get_by_text("✓ deleted").wait_for(timeout=INDEXED_SECONDS)
            assert not saved.exists()
            page.locator("#rag-reports-list tbody tr", has_text=NAME).wait_for(state="detached", timeout=10_000)
            assert "Harbour inspection in Port Aldeney" not in page.inner_text("#rag-corpus")
            assert not page.locator("#rag-report-confirm").is_visible()  # the confirmation is gone

            assert all(hit.doc_id != NAME for hit in pipeline.retrieve(QUESTION, 10))
            after = ask(page, QUESTION)
            assert "740 kg" not in after["text"], after["text"]
            assert page.locator("#rag-chat .rag-card", has_text=NAME).count() == 1  # the earlier answer's only
            page.screenshot(path=str(_artifact("ui_reports_deleted.png")), full_page=True)
            assert page.locator(".toast-item").count() == 0, page.locator(".toast-item").all_inner_texts()
            assert "Traceback" not in page.content()


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name

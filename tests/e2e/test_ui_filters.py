"""Limiting the chat to some reports, in a real browser (Debian's chromium via Playwright) with the real embedded
LLM: the report picker lists the index and follows it after an upload, and a question asked with one report
picked cites only that report. One answer in all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.pipeline import Pipeline
from tests.ui_harness import ARTIFACTS, ask, chromium, open_app, running_app, ui_settings

pytestmark = pytest.mark.llm

FORUM = "001_14bcd5b15b6cd4c8.txt"  # Mikuriya in Moscow in 2021; report 000 has him there in 2009 as well
UPLOADED = "Harbour inspection in Port Aldeney\n\n12 March 2024\n\nCustoms officers inspected 31 containers.\n"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> Iterator[str]:
    settings = ui_settings(tmp_path_factory.mktemp("ui-filters"),
                           llm={"backend": "embedded", "model_cache_dir": model_cache_dir})
    with running_app(Pipeline(settings)) as url:
        yield url


def _options(page: Any) -> list[str]:
    """The picker's list, opened and read (a click elsewhere first: a focused picker opens only on a new focus)."""
    page.click("#rag-header")
    page.click("#rag-filter-docs input")
    options = page.locator("ul[role=listbox] li")
    options.first.wait_for(timeout=10_000)
    return [options.nth(i).inner_text() for i in range(options.count())]


def test_the_picker_follows_the_index_and_a_question_cites_only_the_picked_report(app: str, tmp_path: Path) -> None:
    report = tmp_path / "port_aldeney.md"
    report.write_text(UPLOADED)
    with chromium() as browser:
        page, _ = open_app(browser, app)
        page.click("#rag-filters .label-wrap")  # the accordion "Limit to some reports or dates"
        listed = _options(page)
        assert len(listed) == 5 and any(f"({FORUM}, 2021-10-25)" in option for option in listed), listed
        page.keyboard.press("Escape")

        page.set_input_files("#rag-upload input[type=file]", [str(report)])
        page.locator("#rag-upload-status").get_by_text("✓ added").wait_for(timeout=120_000)
        page.wait_for_function("document.querySelectorAll('#rag-corpus tbody tr').length == 6", timeout=10_000)
        page.wait_for_timeout(500)  # the picker is refreshed after the corpus list
        listed = _options(page)
        assert len(listed) == 6 and "Harbour inspection in Port Aldeney (port_aldeney.md, 2024-03-12)" in listed

        page.locator("ul[role=listbox] li", has_text=FORUM).click()
        page.keyboard.press("Escape")
        page.fill("#rag-filter-since textarea", "2020-01-01")
        answer = ask(page, "Whom did Kunio Mikuriya meet in Moscow?")
        message = page.locator("#rag-chat .rag-answer, #rag-chat .rag-refusal").last
        places = [message.locator(".rag-loc, .rag-quote-loc").nth(i).inner_text()
                  for i in range(message.locator(".rag-loc, .rag-quote-loc").count())]
        assert places and all(place.startswith(f"{FORUM} ¶") for place in places), (places, answer["text"])
        assert "Traceback" not in page.content()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ui_filters.png"), full_page=True)

"""The web UI in a real browser (Debian's chromium via Playwright) with the real embedded LLM.

Four answers in all: the Sentinel example (its evidence quoted first, then each sentence verified), a
follow-up, a false-premise question (refused, naming the paragraph it rests on), and a question only
an uploaded report answers. Screenshots and timings go to tests/artifacts/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.pipeline import Pipeline
from tests.conftest import SENTINEL, SENTINEL_ANSWER_TERMS, SENTINEL_QUESTION
from tests.ui_harness import ARTIFACTS, ask, chromium, open_app, running_app, ui_settings

pytestmark = pytest.mark.llm

SENTINEL_LABEL = f"{SENTINEL[0]} ¶{SENTINEL[1]}"
NEW_REPORT = """Harbour inspection in Port Aldeney

12 March 2024

Customs officers in Port Aldeney inspected 31 containers during Operation Bluefin.

The inspection found 740 kg of undeclared saffron hidden in shipments of frozen fish.
"""
timings: dict[str, float] = {}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> Iterator[tuple[str, Pipeline]]:
    settings = ui_settings(tmp_path_factory.mktemp("ui-browser"),
                           llm={"backend": "embedded", "model_cache_dir": model_cache_dir})
    pipeline = Pipeline(settings)
    with running_app(pipeline) as url:
        yield url, pipeline
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "ui_timings.json").write_text(json.dumps(timings, indent=2))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def test_sentinel_example_streams_a_cited_answer_then_a_follow_up_is_understood(
        app: tuple[str, Pipeline], browser: Any) -> None:
    url, _ = app
    page, timings["page_load_s"] = open_app(browser, url)
    assert page.title() == "Ask the reports"
    assert page.locator("#rag-corpus tbody tr").count() == 5
    page.wait_for_selector("#rag-llm .rag-dot-ok", timeout=120_000)  # the embedded model loaded and healthy
    assert "Embedded" in page.inner_text("#rag-llm")
    assert "self-check passed (one decode)" in page.inner_text("#rag-llm")  # healthy means it decoded, not loaded

    first = ask(page, example=SENTINEL_QUESTION)
    timings["first_token_s"], timings["answer_s"] = first["first_token"], first["seconds"]
    assert all("Traceback" not in p for p in first["partials"])  # the evidence arrives whole, once chosen
    assert all(term in first["text"].lower() for term in SENTINEL_ANSWER_TERMS), first["text"]
    assert "[1]" in first["text"]  # markers stay visible
    # The evidence first: the exact sentence, quoted with its place, streamed before the model writes a word.
    message = page.locator("#rag-chat .rag-answer").last
    quote = message.locator(".rag-evidence .rag-quote").first
    assert "100 seizures" in quote.inner_text() and "160 kg" in quote.inner_text(), quote.inner_text()
    assert SENTINEL_LABEL in quote.locator(".rag-quote-loc").inner_text()
    assert message.evaluate("m => !m.querySelector('.rag-answer-text') || (m.querySelector('.rag-evidence')"
                            ".compareDocumentPosition(m.querySelector('.rag-answer-text')) & Node.DOCUMENT_POSITION_FOLLOWING)")
    assert not first["partials"] or "160 kg" in first["partials"][0], first["partials"]  # shown first, if seen
    card = page.locator("#rag-chat .rag-card", has_text=SENTINEL_LABEL).last
    assert card.is_visible()
    assert "160 kg" in card.locator("mark").inner_text()  # the supporting sentence is highlighted
    assert "10th International Exhibition" in card.inner_text()
    verified = page.locator("#rag-chat .rag-answer").last.locator(".rag-claim-verified")
    tooltips = [verified.nth(i).get_attribute("title") or "" for i in range(verified.count())]
    assert message.locator(".rag-answer-text").count() == 0 or any("160 kg" in tip for tip in tooltips), tooltips

    follow_up = ask(page, "And when did it take place?")
    timings["follow_up_s"] = follow_up["seconds"]
    rewritten = page.locator("#rag-chat .rag-rewritten").last.inner_text()
    assert "Sentinel" in rewritten, rewritten
    assert "2009" in follow_up["text"] or "August" in follow_up["text"], follow_up["text"]
    assert page.locator("#rag-chat .rag-card", has_text=SENTINEL_LABEL).count() >= 2

    page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui_chat.png"), full_page=True)
    assert "Traceback" not in page.content()


def test_a_false_premise_question_is_refused_naming_the_related_paragraph(app: tuple[str, Pipeline],
                                                                         browser: Any) -> None:
    url, _ = app
    page, _ = open_app(browser, url)
    answer = ask(page, "How many people were arrested during Operation Sentinel?")  # the report names no arrests
    assert "Not found in the reports" in answer["text"], answer["text"]
    assert '"arrested"' in answer["text"], answer["text"]  # says what the reports do not mention
    refusal = page.locator("#rag-chat .rag-refusal").last
    # ... and what they do say, cited: a paragraph of the Sentinel report (which one is the model's near-tie: the
    # seizures paragraph, or the line linking to the operation's communiqué)
    assert refusal.locator(".rag-card", has_text=f"{SENTINEL[0]} ¶").count() == 1
    assert refusal.locator(".rag-evidence").count() == 0  # no evidence is shown as if it answered
    assert "The closest passage says" in answer["text"] and refusal.locator("mark").count() == 1
    page.screenshot(path=str(ARTIFACTS / "ui_false_premise.png"), full_page=True)


def test_an_uploaded_report_is_indexed_listed_and_answers(app: tuple[str, Pipeline], browser: Any,
                                                          tmp_path: Path) -> None:
    url, pipeline = app
    report = tmp_path / "port_aldeney_inspection.md"
    report.write_text(NEW_REPORT)
    binary = tmp_path / "scan.txt"
    binary.write_bytes(b"\x00\x01\x02binary")
    page, _ = open_app(browser, url)
    page.set_input_files("#rag-upload input[type=file]", [str(report), str(binary)])
    status = page.locator("#rag-upload-status")
    status.get_by_text("✓ added").wait_for(timeout=120_000)
    assert "port_aldeney_inspection.md" in status.inner_text()
    assert "scan.txt: not added, binary file" in status.inner_text()
    assert page.locator("#rag-corpus tbody tr", has_text="Harbour inspection in Port Aldeney").count() == 1
    assert "12 Mar 2024" in page.inner_text("#rag-corpus")
    assert (pipeline.settings.index.corpus_dir / "port_aldeney_inspection.md").read_text() == NEW_REPORT

    answer = ask(page, "How much saffron was found in Port Aldeney?")
    assert "740" in answer["text"], answer["text"]
    assert page.locator("#rag-chat .rag-card", has_text="port_aldeney_inspection.md ¶4").count() == 1
    page.screenshot(path=str(ARTIFACTS / "ui_upload.png"), full_page=True)

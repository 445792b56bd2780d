"""In the browser: a PDF source card shows its page, the cited paragraph highlighted, and opens the whole page.

The corpus is the bundled reports plus the two-column report of ``tests.pdf_reports``; the app is the
real one (served as ``tests.ui_harness`` serves it, index and retrieval real) over ``FakeEmbedder`` and a
scripted ``FakeLLM`` that cites the paragraph holding the answer, as ``tests/e2e/test_ui_errors.py`` scripts
its Ollama. The answer is on page 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rag.pipeline import Pipeline
from rag.types import Message
from tests.fakes import REFUSAL, FakeEmbedder, FakeLLM, answer_citing
from tests.pdf_reports import write_report_pdf
from tests.ui_harness import ARTIFACTS, ask, chromium, open_app, running_app, ui_settings

QUESTION = "When did the Narva crossing open a second lane for lorries?"
CLAIM = "The Narva crossing opened a second lane for lorries in June"
LABEL = "report.pdf p. 2 ¶7"
# The image as the browser decoded it, drawn on a canvas: its size and how many pixels are highlight yellow.
YELLOW = """img => { const c = document.createElement('canvas'); c.width = img.naturalWidth;
  c.height = img.naturalHeight; const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] > 80 && d[i] - d[i + 2] > 60) n++;
  return [img.naturalWidth, img.naturalHeight, n]; }"""


def _script(messages: list[Message]) -> str | None:
    """The Narva paragraph cited when it is shown; otherwise what the unscripted fake says (it quotes source 1)."""
    reply = answer_citing("second lane", CLAIM)(messages)
    return None if reply == REFUSAL else reply


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("ui-pages")
    settings = ui_settings(tmp, questions={"followup_turns": 0})
    write_report_pdf(settings.index.corpus_dir / "report.pdf")
    pipeline = Pipeline(settings, embedder=FakeEmbedder(), llm=FakeLLM(_script))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("rag.documents.pdf.shutil.which", lambda name: None)  # its scanned page is skipped
        with running_app(pipeline) as url:
            yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def test_a_pdf_card_shows_page_2_with_the_paragraph_highlighted_and_opens_the_whole_page(
        app: str, browser: Any) -> None:
    page, _ = open_app(browser, app)
    answer = ask(page, QUESTION)
    assert "Narva crossing opened a second lane for lorries in June" in answer["text"] and "[1]" in answer["text"], (
        answer["text"])  # the sentence itself, quoted (the default answer is its evidence)
    card = page.locator("#rag-chat .rag-card", has_text=LABEL).last
    assert card.locator(".rag-loc").inner_text() == LABEL
    image = card.locator("img.rag-page-img")
    image.wait_for(timeout=10_000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                           timeout=30_000)
    width, height, yellow = image.evaluate(YELLOW)
    assert 300 < width < 500 and 80 < height < 300, (width, height)  # the left column's paragraph, not the page
    assert yellow > 2000, yellow  # the paragraph is highlighted
    assert "second lane" in card.locator(".rag-para").inner_text()  # and its text is still there
    ARTIFACTS.mkdir(exist_ok=True)
    card.screenshot(path=str(ARTIFACTS / "ui_pdf_card.png"))
    page.screenshot(path=str(ARTIFACTS / "ui_pdf_answer.png"), full_page=True)

    with page.expect_popup() as opened:
        card.locator("a.rag-page").click()
    whole = opened.value
    whole.wait_for_load_state()
    shown = whole.locator("img")
    whole.wait_for_function("() => document.images[0]?.complete && document.images[0].naturalWidth > 0",
                            timeout=30_000)
    width, height, yellow = shown.evaluate(YELLOW)
    assert width == 1000 and height > 1.3 * width and yellow > 2000  # page 2 of the A4 report, highlighted
    whole.close()

    stranger = browser.new_context()  # no cookie from the app's page: the image is not served
    try:
        refused = stranger.request.get(app.rstrip("/") + "/" + (image.get_attribute("src") or "").lstrip("/"))
        assert refused.status == 403
    finally:
        stranger.close()
    assert "Traceback" not in page.content()


def test_a_text_source_keeps_its_text_card(app: str, browser: Any) -> None:
    page, _ = open_app(browser, app)
    ask(page, "What did Operation Sentinel seize?")  # the unscripted fake quotes its first source, a .txt report
    card = page.locator("#rag-chat .rag-card").last
    assert ".txt" in card.locator(".rag-loc").inner_text()
    assert card.locator("img").count() == 0 and card.locator(".rag-para").is_visible()

"""How answers, sources, refusals, errors and the side panel are rendered (pure functions, no server)."""

from __future__ import annotations

from pathlib import Path

from rag.app.status import CorpusStatus, LLMStatus
from rag.app.uploads import SavedUpload
from rag.store.manifest import IndexedDocument
from rag.types import Answer, Citation
from ui import render

PARAGRAPH = ("Whilst in Russia, managers briefed the Secretary General on \"Operation Sentinel\". "
             "The Operation resulted in over 100 seizures of drugs; more than 160 kg ranging from heroin to opium. "
             "This programme would be converted to a long-term initiative.")
QUOTE = "The Operation resulted in over 100 seizures of drugs; more than 160 kg ranging from heroin to opium."
SENTINEL = Citation("002_50d104ffb6a67dba.txt", 9, PARAGRAPH, 0.61, "10th International Exhibition, Customs 2009",
                    "2009-10-27", QUOTE)


def _answer(**overrides: object) -> Answer:
    fields: dict = {"question": "What did Operation Sentinel seize?", "refused": False,
                    "text": "Operation Sentinel seized more than 160 kg of drugs [1].", "citations": [SENTINEL],
                    "backend": "embedded", "model": "qwen.gguf", "sources": [SENTINEL], "timings": {"total": 12.3}}
    return Answer(**{**fields, **overrides})


def test_answer_keeps_markers_and_shows_a_source_card_with_the_sentence_highlighted() -> None:
    html = render.answer_html(_answer())
    assert '<span class="rag-cite">[1]</span>' in html
    assert "002_50d104ffb6a67dba.txt ¶9" in html
    assert "10th International Exhibition, Customs 2009" in html and "27 Oct 2009" in html
    assert f"<mark>{QUOTE}</mark>" in html
    assert "Whilst in Russia" in html and "long-term initiative" in html  # the whole paragraph
    assert html.index("rag-answer-text") < html.index("rag-sources")  # sources under the answer
    assert "\n\n" not in html  # one HTML block for the chat's markdown renderer


def test_document_and_model_text_is_escaped() -> None:
    hostile = Citation("x.html", 1, 'Before <script>alert("x")</script> <b>bold</b> after.', 0.5,
                       "<img src=x onerror=alert(1)>", None, "<b>bold</b> after.")
    html = render.answer_html(_answer(text="See <iframe src=evil> [1].", citations=[hostile]))
    assert "<script>" not in html and "<iframe" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&lt;iframe src=evil&gt;" in html
    assert "<mark>&lt;b&gt;bold&lt;/b&gt; after.</mark>" in html


def test_a_refusal_looks_different_from_an_answer() -> None:
    html = render.answer_html(_answer(refused=True, text="I cannot find the answer in the reports.", citations=[]))
    assert 'class="rag-refusal"' in html and "Not found in the reports" in html
    assert "rag-answer" not in html and "rag-card" not in html


def test_the_rewritten_follow_up_is_shown_with_the_sources() -> None:
    html = render.answer_html(_answer(question="And when did it take place?",
                                      rewritten_question="When did Operation Sentinel take place?"))
    sources = html[html.index("rag-sources"):]
    assert "Follow-up understood as" in sources and "When did Operation Sentinel take place?" in sources


def test_an_error_is_one_readable_line() -> None:
    html = render.error_html("Ollama is not reachable at http://127.0.0.1:1;\n start it with `ollama serve`")
    assert "⚠" in html and 'class="rag-error"' in html
    assert "Ollama is not reachable at http://127.0.0.1:1; start it" in html


def test_streaming_shows_the_text_so_far_or_a_pending_note() -> None:
    assert "Reading the reports" in render.streaming_html("")
    partial = render.streaming_html("Operation Sentinel seized [1")
    assert "Operation Sentinel seized [1" in partial and "rag-cursor" in partial


def test_api_markdown_has_the_answer_then_numbered_sources() -> None:
    markdown = render.answer_markdown(_answer(rewritten_question="When did Operation Sentinel take place?"))
    assert markdown.startswith("Operation Sentinel seized more than 160 kg of drugs [1].")
    assert "[1] **002_50d104ffb6a67dba.txt ¶9** (10th International Exhibition, Customs 2009, 2009-10-27)" in markdown
    assert f"**{QUOTE}**" in markdown and "Follow-up understood as" in markdown
    refused = render.answer_markdown(_answer(refused=True, text="I cannot find the answer in the reports."))
    assert refused.startswith("**Not found in the reports.**") and "Sources" not in refused


def test_side_panel_lists_documents_and_says_where_the_index_is() -> None:
    status = CorpusStatus("/data/reports", "/home/u/.local/share/rag/index",
                          [IndexedDocument("a.txt", "A & B <report>", "2009-02-02", "0" * 64, 18)],
                          59, 138, "all-MiniLM-L6-v2", 384, "Flat")
    html = render.corpus_html(status)
    assert "A &amp; B &lt;report&gt;" in html and "2 Feb 2009" in html and ">18<" in html
    assert "/home/u/.local/share/rag/index" in html and "all-MiniLM-L6-v2 (384-d)" in html
    ok = render.llm_status_html(LLMStatus("embedded", "qwen.gguf", "configured: embedded", True, "model loaded"))
    down = render.llm_status_html(LLMStatus("ollama", "qwen2.5:3b", "configured", False, "Ollama is not reachable"))
    assert "rag-dot-ok" in ok and "Embedded" in ok and "rag-dot-down" in down and "not reachable" in down
    served = render.llm_status_html(LLMStatus("openai", "qwen2.5-7b-instruct", "configured: openai-compatible "
                                              "server at http://localhost:1234/v1", True, "up"))
    assert "OpenAI-compatible server" in served and "qwen2.5-7b-instruct" in served


def test_upload_report_says_what_happened_to_each_file() -> None:
    saved = [SavedUpload("new.md", Path("/c/new.md")),
             SavedUpload("a (2).txt", Path("/c/a (2).txt"), "saved as a (2).txt")]
    html = render.upload_report_html(saved, ["tool.exe: unsupported <b>.exe</b>"], None)
    assert "✓ added <b>new.md</b>" in html and "saved as a (2).txt" in html
    assert "✗ tool.exe: unsupported &lt;b&gt;.exe&lt;/b&gt;" in html


def test_while_uploads_are_indexed_the_files_are_saved_not_added_and_progress_is_shown() -> None:
    saved = render.upload_report_html([SavedUpload("new.md", Path("/c/new.md"))], [], None, indexed=False)
    assert "… saved <b>new.md</b>" in saved and "✓ added" not in saved
    assert "reading and splitting the new files, 4 s so far" in render.indexing_html(0, 0, 4.2)
    assert "1,280 of 5,000 passages embedded (25%), 2 min 5 s so far" in render.indexing_html(1280, 5000, 125)
    assert "saving the index" in render.indexing_html(5000, 5000, 300)
    assert "Questions can be asked meanwhile" in render.indexing_html(0, 0, 0)


def test_each_claim_is_marked_verified_with_its_quote_or_flagged() -> None:
    from rag.types import Claim

    claims = [Claim("Operation Sentinel seized more than 160 kg of drugs [1].", supported=True, quote=QUOTE),
              Claim("It was <the> largest ever.")]
    html = render.answer_html(_answer(text=" ".join(c.text for c in claims), claims=claims))
    assert html.count("rag-claim-verified") == 1 and f"“{QUOTE}”" in html  # the quote in the tooltip
    assert html.count("rag-claim-flagged") == 1 and "⚠ not verified" in html
    assert "&lt;the&gt;" in html and "<the>" not in html
    markdown = render.answer_markdown(_answer(text=" ".join(c.text for c in claims), claims=claims))
    assert "_Not verified: It was <the> largest ever._" in markdown


def test_a_refusal_shows_the_closest_passage_it_names() -> None:
    text = ('The reports do not answer this: they do not mention "cocaine" in connection with it. '
            f'The closest passage says: "{QUOTE[:-1]}" [1].')
    html = render.answer_html(_answer(refused=True, text=text))
    assert "Not found in the reports" in html and "Closest passage" in html
    assert "002_50d104ffb6a67dba.txt ¶9" in html and '<span class="rag-cite">[1]</span>' in html
    assert "Closest passage" not in render.answer_html(_answer(refused=True, text="No.", citations=[]))


def test_the_evidence_comes_first_and_a_quoted_answer_is_shown_once() -> None:
    from rag.types import Claim

    written = _answer(chosen=[SENTINEL], claims=[Claim("Operation Sentinel seized more than 160 kg of drugs [1].",
                                                       supported=True, quote=QUOTE)])
    html = render.answer_html(written)
    assert html.index('class="rag-evidence"') < html.index('class="rag-answer-text"') < html.index('class="rag-sources"')
    assert f"{QUOTE}<span class=\"rag-quote-loc\">002_50d104ffb6a67dba.txt ¶9</span>" in html
    assert render.answer_markdown(written).startswith(f"> “{QUOTE}” [1]\n\nOperation Sentinel seized")

    quoted = _answer(chosen=[SENTINEL], text=f"{QUOTE.rstrip('.')} [1].",
                     claims=[Claim(f"{QUOTE.rstrip('.')} [1].", supported=True, quote=QUOTE)])
    assert quoted.quoted and not written.quoted
    html = render.answer_html(quoted)
    assert 'class="rag-evidence"' in html and 'class="rag-answer-text"' not in html and html.count("160 kg") == 2
    assert render.answer_markdown(quoted).startswith(f"> “{QUOTE}” [1]\n\n**Sources**")  # quote, then the card

    refused = _answer(chosen=[SENTINEL], refused=True, text="The reports do not answer this.")
    assert not refused.evidence_first and 'class="rag-evidence"' not in render.answer_html(refused)


def test_the_streamed_evidence_is_quoted_above_the_text_being_written() -> None:
    html = render.streaming_html(f"> {QUOTE} [2.3]\n\nOperation Sentinel")
    assert html.index("<blockquote") < html.index("Operation Sentinel<span class=\"rag-cursor\">")
    assert "What the reports say" in html and "&gt;" not in html

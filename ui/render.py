"""Answers, sources, refusals, errors and the side panel as HTML (for the chat) or markdown (for the API).

Pure functions of the pipeline's data: nothing here retrieves, prompts or cites.
Every piece of document or model text is HTML-escaped; the only markup is ours.
The chat renders one HTML block per message, so blocks never contain blank lines
(a blank line would end the block in the chat's markdown renderer).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from html import escape

from rag.app.status import CorpusStatus, LLMStatus
from rag.app.uploads import SavedUpload
from rag.indexing import IndexReport
from rag.types import Answer, Citation

_MARKER = re.compile(r"\[(\d+)\]")
PageLinks = Callable[[Citation], tuple[str, str] | None]  # a citation -> (region image, whole page) URLs


def _date(iso: str | None) -> str:
    """'2018-12-11' -> '11 Dec 2018' (unparseable dates are shown as they are)."""
    if not iso:
        return ""
    try:
        day = dt.date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{day.day} {day.strftime('%b %Y')}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def answer_text_html(text: str) -> str:
    """Escaped answer text whose ``[n]`` markers stay visible, styled as citation chips."""
    return _MARKER.sub(r'<span class="rag-cite">[\1]</span>', escape(_one_line(text)))


def claims_html(answer: Answer) -> str:
    """Each sentence marked: ✓ verified (its quote in the tooltip) or ⚠ flagged (no cited paragraph holds it)."""
    if not answer.claims:
        return answer_text_html(answer.text)
    parts = []
    for claim in answer.claims:
        if claim.kind == "filler" or not claim.text:
            continue
        text = answer_text_html(claim.text)
        if claim.kind == "refusal":
            parts.append(f'<span class="rag-claim rag-claim-gap">{text}</span>')
        elif claim.supported:
            tip = escape(f"Verified against the cited paragraph: “{_one_line(claim.quote)}”", quote=True)
            parts.append(f'<span class="rag-claim rag-claim-verified" title="{tip}">{text}'
                         f'<span class="rag-check" aria-label="verified">✓</span></span>')
        else:
            tip = "Not verified: no cited paragraph holds this sentence"
            parts.append(f'<span class="rag-claim rag-claim-flagged" title="{tip}">{text}'
                         f'<span class="rag-flag" aria-label="not verified">⚠ not verified</span></span>')
    return " ".join(parts)


def highlighted_paragraph(citation: Citation) -> str:
    """The whole paragraph, escaped, with the supporting sentence in ``<mark>``."""
    text = _one_line(citation.text)
    quote = _one_line(citation.quote)
    start = text.find(quote) if quote else -1
    if start < 0:
        return escape(text)
    end = start + len(quote)
    return f"{escape(text[:start])}<mark>{escape(quote)}</mark>{escape(text[end:])}"


def page_image(citation: Citation, links: tuple[str, str]) -> str:
    """The cited region of a PDF page, the paragraph highlighted; a click opens the whole page in a new tab."""
    region, whole = (escape(link, quote=True) for link in links)
    where = escape(f"page {citation.page} of {citation.title or citation.doc_id}", quote=True)
    return (f'<a class="rag-page" href="{whole}" target="_blank" rel="noopener" title="Open {where}, '
            f'the cited paragraph highlighted"><img class="rag-page-img" src="{region}" '
            f'alt="The cited paragraph, highlighted on {where}"><span class="rag-page-hint">'
            f"Open page {citation.page} ↗</span></a>")


def source_card(number: int, citation: Citation, links: tuple[str, str] | None = None) -> str:
    """A cited paragraph: document, label, the page drawn with it highlighted (``links``: PDFs), then its text."""
    title = escape(citation.title or citation.doc_id)
    date = f'<span class="rag-date">{escape(_date(citation.date))}</span>' if citation.date else ""
    image = page_image(citation, links) if links else ""
    return (f'<div class="rag-card{" rag-card-page" if image else ""}"><div class="rag-card-head">'
            f'<span class="rag-num">{number}</span><span class="rag-doc-title">{title}</span>{date}</div>'
            f'<div class="rag-loc">{escape(citation.label())}</div>{image}'
            f'<p class="rag-para">{highlighted_paragraph(citation)}</p></div>')


def _cards(answer: Answer, pages: PageLinks | None) -> str:
    return "".join(source_card(n, c, pages(c) if pages else None) for n, c in enumerate(answer.citations, 1))


def _rewritten(answer: Answer) -> str:
    if not answer.rewritten_question:
        return ""
    return (f'<div class="rag-rewritten">Follow-up understood as: '
            f'<q>{escape(answer.rewritten_question)}</q></div>')


def _meta(answer: Answer) -> str:
    seconds = answer.timings.get("total")
    parts = [answer.backend, answer.model] + ([f"{seconds:.1f} s"] if seconds else [])
    return f'<div class="rag-meta">{escape(" · ".join(p for p in parts if p))}</div>' if answer.backend else ""


def sources_panel(answer: Answer, pages: PageLinks | None = None) -> str:
    cards = _cards(answer, pages)
    count = len(answer.citations)
    return (f'<div class="rag-sources"><div class="rag-sources-head">'
            f'{count} source{"s" if count != 1 else ""}</div>{_rewritten(answer)}{cards}</div>')


def evidence_html(answer: Answer) -> str:
    """The evidence first (extract mode): each chosen sentence as an exact quote, with its marker and place."""
    if not answer.evidence_first or not answer.citations:
        return ""
    quotes = "".join(f'<blockquote class="rag-quote"><span class="rag-cite">[{n}]</span> {escape(_one_line(c.quote))}'
                     f'<span class="rag-quote-loc">{escape(c.label())}</span></blockquote>'
                     for n, c in enumerate(answer.citations, 1) if c.quote)
    return f'<div class="rag-evidence"><div class="rag-sources-head">What the reports say</div>{quotes}</div>'


def answer_html(answer: Answer, pages: PageLinks | None = None) -> str:
    """The chat message for a finished answer: the evidence quoted (extract mode), the text with markers, then
    its sources panel (or a refusal).

    ``pages`` gives a PDF citation's page image links (``ui.page_images.PageImages.links``)."""
    if answer.refused:
        return refusal_html(answer, pages)
    text = "" if answer.quoted else f'<div class="rag-answer-text">{claims_html(answer)}</div>'  # quotes: shown
    return f'<div class="rag-answer">{evidence_html(answer)}{text}{sources_panel(answer, pages)}{_meta(answer)}</div>'


def refusal_html(answer: Answer, pages: PageLinks | None = None) -> str:
    """'Not found', what the reports do not say, and the closest paragraph when there is one."""
    related = _cards(answer, pages)
    if related:
        related = (f'<div class="rag-sources rag-related"><div class="rag-sources-head">Closest passage'
                   f'</div>{related}</div>')
    return (f'<div class="rag-refusal"><div class="rag-refusal-head">Not found in the reports</div>'
            f'<p>{answer_text_html(answer.text)}</p>{_rewritten(answer)}{related}'
            f'<div class="rag-hint">None of the {len(answer.sources)} closest paragraphs answers this. '
            f'Try other words, or add a report in the side panel.</div>{_meta(answer)}</div>')


def streaming_html(raw: str) -> str:
    """The answer while it is generated (markers as the model writes them) with a cursor; the evidence the
    extract mode streams first ("> sentence [2.3]" lines) as quotes above it."""
    if not raw.strip():
        return '<div class="rag-pending">Reading the reports<span class="rag-dots"></span></div>'
    lines = raw.split("\n")
    quoted = [line[2:] for line in lines if line.startswith("> ")]
    text = "\n".join(line for line in lines if not line.startswith("> "))
    evidence = "".join(f'<blockquote class="rag-quote">{answer_text_html(q)}</blockquote>' for q in quoted)
    if evidence:
        evidence = f'<div class="rag-evidence"><div class="rag-sources-head">What the reports say</div>{evidence}</div>'
    return (f'<div class="rag-answer rag-streaming">{evidence}{answer_text_html(text)}'
            '<span class="rag-cursor"></span></div>')


def error_html(message: str) -> str:
    """A readable one-line error in the chat, never a traceback."""
    return (f'<div class="rag-error"><div class="rag-error-head">⚠ Could not answer</div>'
            f'<p>{escape(_one_line(message))}</p></div>')


def answer_markdown(answer: Answer) -> str:
    """The answer with its sources as markdown: what the ``/ask`` API endpoint returns."""
    if answer.refused and not answer.citations:
        return f"**Not found in the reports.** {answer.text}"
    if answer.refused:
        lines = [f"**Not found in the reports.** {answer.text}", "", "**Closest passage**", ""]
    else:
        flagged = [c.text for c in answer.claims if c.kind == "claim" and not c.supported]
        quotes = [f"> “{_one_line(c.quote)}” [{n}]" for n, c in enumerate(answer.citations, 1)
                  if answer.evidence_first and c.quote]
        text = quotes if answer.quoted else [*(quotes + [""] if quotes else []), answer.text]  # quotes: the answer
        lines = [*text, *([""] + [f"_Not verified: {t}_" for t in flagged] if flagged else []), "", "**Sources**", ""]
    for number, citation in enumerate(answer.citations, 1):
        origin = ", ".join(p for p in (citation.title, citation.date) if p)
        lines.append(f"[{number}] **{citation.label()}**" + (f" ({origin})" if origin else ""))
        paragraph = _one_line(citation.text)
        quote = _one_line(citation.quote)
        if quote and quote in paragraph:
            paragraph = paragraph.replace(quote, f"**{quote}**", 1)
        lines += [f"> {escape(paragraph, quote=False)}", ""]
    if answer.rewritten_question:
        lines.append(f"_Follow-up understood as: {answer.rewritten_question}_")
    return "\n".join(lines).rstrip() + "\n"


# --- side panel -----------------------------------------------------------------------------------------
def llm_status_html(status: LLMStatus) -> str:
    state = "ok" if status.healthy else "down"
    name = {"ollama": "Ollama", "embedded": "Embedded (llama.cpp)", "openai": "OpenAI-compatible server"
            }.get(status.backend, "No LLM")
    reason = f'<div class="rag-status-reason">{escape(status.reason)}</div>' if status.reason else ""
    return (f'<div class="rag-status"><div class="rag-status-line"><span class="rag-dot rag-dot-{state}" '
            f'title="{"healthy" if status.healthy else "not available"}"></span><b>{name}</b></div>'
            f'<div class="rag-status-model">{escape(status.model)}</div>'
            f'<div class="rag-status-detail rag-status-{state}">{escape(status.detail)}</div>{reason}</div>')


def pending_status_html(what: str) -> str:
    return f'<div class="rag-status"><span class="rag-dot rag-dot-wait"></span>{escape(what)}</div>'


def corpus_html(status: CorpusStatus) -> str:
    """The documents in the index, with title, date and paragraph count; then where the index lives."""
    rows = "".join(
        f'<tr><td><div class="rag-doc-title">{escape(d.title or d.doc_id)}</div>'
        f'<div class="rag-doc-file">{escape(d.doc_id)}</div></td>'
        f'<td class="rag-nowrap">{escape(_date(d.date))}</td><td class="rag-num-cell">{d.paragraphs}</td></tr>'
        for d in status.documents)
    return (f'<table class="rag-corpus"><thead><tr><th>Document</th><th>Date</th><th>¶</th></tr></thead>'
            f'<tbody>{rows}</tbody></table>'
            f'<div class="rag-facts"><div><span>Corpus</span><code>{escape(status.corpus_dir)}</code></div>'
            f'<div><span>Index</span><code>{escape(status.index_dir)}</code></div>'
            f'<div><span>Size</span>{len(status.documents)} documents · {status.paragraphs} paragraphs · '
            f'{status.chunks} chunks · FAISS {escape(status.index_type)}</div>'
            f'<div><span>Embedder</span>{escape(status.embedder)} ({status.dim}-d)</div></div>')


def upload_report_html(saved: list[SavedUpload], rejected: list[str], report: IndexReport | None,
                       indexed: bool = True) -> str:
    """What happened to each uploaded file, then what indexing did (``indexed=False``: saved, not searchable yet)."""
    lines = []
    for item in saved:
        if item.duplicate:
            lines.append(f'<div class="rag-up-same">↺ {escape(item.note)}</div>')
        else:
            note = f" ({escape(item.note)})" if item.note else ""
            done = "✓ added" if indexed else "… saved"
            lines.append(f'<div class="rag-up-ok">{done} <b>{escape(item.doc_id)}</b>{note}</div>')
    lines += [f'<div class="rag-up-refused">✗ {escape(reason)}</div>' for reason in rejected]
    if report is not None and report.changed:
        lines.append(f'<div class="rag-up-index">Indexed in {report.seconds:.1f} s: {report.embedded_chunks} new '
                     f"chunks embedded, {len(report.unchanged)} documents unchanged.</div>")
    return f'<div class="rag-upload-report">{"".join(lines)}</div>'


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def indexing_html(embedded: int, total: int, seconds: float) -> str:
    """The background indexing's progress line; the page polls it while the new reports are not searchable yet."""
    if total == 0:
        step = "reading and splitting the new files"
    elif embedded < total:
        step = f"{embedded:,} of {total:,} passages embedded ({100 * embedded // total}%)"
    else:
        step = "saving the index"
    return (f'<div class="rag-up-index rag-indexing">Indexing in the background: {step}, {_duration(seconds)} so far. '
            "Questions can be asked meanwhile; the new reports are searchable when this is done.</div>")

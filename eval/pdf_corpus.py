"""The bundled reports as PDFs, and the customs-reports questions with their evidence moved to the PDFs' paragraphs.

Why: the same questions over the same texts, once read from .txt and once from PDF
(``rag eval --set customs-pdf``), measure what the PDF reader costs retrieval. The PDFs are laid out
as reports are: A5 pages, so every report runs over two to five of them and paragraphs continue
across page breaks; a running header (the report's title) and footer, and "Page n of N" in the
footer. They are generated, not committed: reportlab in its invariant mode writes the same bytes
each time, into a cache folder named by a hash of everything they are made from.

Evidence is mapped by paragraph text, not number (a PDF's numbering may differ from its .txt's):
each cited .txt paragraph must be exactly one PDF paragraph, whitespace aside, or the set is not
written and the error names the paragraph.

Example::

    set_path, corpus = customs_pdf_set()        # written on first use, then reused
    python -m eval.pdf_corpus /tmp/customs-pdf  # the PDFs and the set in a folder, to look at
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from eval.errors import EvalSetError
from rag.documents.paragraphs import split_paragraphs
from rag.documents.readers import Document, list_files, load_document

log = logging.getLogger(__name__)

NAME = "customs-pdf"
ROOT = Path(__file__).resolve().parent.parent
SOURCE_SET = ROOT / "eval" / "sets" / "customs_reports.jsonl"
SOURCE_CORPUS = ROOT / "data" / "reports"
FOOTER = "Customs cooperation reports: WCO and Russian customs, 2006-2021"
LAYOUT_VERSION = "2"  # bump when the layout changes: the cache folder changes with it


class UnmappedEvidence(EvalSetError):
    """A paragraph the set cites in a .txt report is not one paragraph of its PDF."""


def _font() -> str:
    """DejaVu Sans, which matplotlib (a dependency) ships: the reports hold Cyrillic, which Helvetica lacks."""
    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(fonts / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(fonts / "DejaVuSans-Bold.ttf")))
    return "DejaVuSans"


def write_pdf(document: Document, target: Path) -> None:
    """``document``'s paragraphs on A5 pages, the first as a heading, with a running header, footer and page
    numbers."""
    from reportlab.lib.pagesizes import A5
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph

    font = _font()
    width, height = A5
    margin = 0.17 * height  # the body stays out of the bands where headers and footers sit
    title = textwrap.shorten(document.title, 75, placeholder=" …")

    def furniture(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawString(40, height - 40, title)
        canvas.line(40, height - 45, width - 40, height - 45)
        canvas.drawString(40, 30, FOOTER)
        canvas.drawRightString(width - 40, 30, f"Page {doc.page} of {doc.pages}")
        canvas.restoreState()

    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=13, spaceAfter=7)
    heading = ParagraphStyle("heading", parent=body, fontName=f"{font}-Bold", fontSize=13, leading=16)

    def story() -> list[Any]:
        return [Paragraph(escape(_normal(p.text)), heading if p.paragraph == 1 else body)  # a block is one paragraph
                for p in split_paragraphs(document)]

    def template(out: Any) -> Any:
        made = BaseDocTemplate(out, pagesize=A5, invariant=True, title=document.title,
                               author="rag-reports eval", creator="eval.pdf_corpus")
        made.addPageTemplates([PageTemplate("page", [Frame(40, margin, width - 80, height - 2 * margin)],
                                            onPage=furniture)])
        return made

    counting = template(io.BytesIO())  # laid out once to count the pages, for "Page n of N"
    counting.pages = 0
    counting.build(story())
    final = template(str(target))
    final.pages = counting.page
    final.build(story())


def _normal(text: str) -> str:
    return " ".join(text.split())


def paragraph_map(txt: Document, pdf: Document, wanted: set[int]) -> dict[int, int]:
    """.txt paragraph number -> PDF paragraph number, for each number in ``wanted``, matched by text."""
    pdf_numbers: dict[str, list[int]] = {}
    for paragraph in split_paragraphs(pdf):
        pdf_numbers.setdefault(_normal(paragraph.text), []).append(paragraph.paragraph)
    found: dict[int, int] = {}
    for paragraph in split_paragraphs(txt):
        if paragraph.paragraph not in wanted:
            continue
        numbers = pdf_numbers.get(_normal(paragraph.text), [])
        same = [p.paragraph for p in split_paragraphs(txt) if _normal(p.text) == _normal(paragraph.text)]
        if len(numbers) != len(same):  # missing, split or merged in the PDF; a repeated text must repeat there
            raise UnmappedEvidence(f"{txt.doc_id} ¶{paragraph.paragraph} is not one paragraph of {pdf.doc_id}: "
                                   f"{paragraph.text[:80]!r}")
        found[paragraph.paragraph] = numbers[same.index(paragraph.paragraph)]
    if missing := sorted(wanted - set(found)):
        raise UnmappedEvidence(f"{txt.doc_id} has no paragraph {', '.join(map(str, missing))}")
    return found


def _pdf_name(doc_id: str) -> str:
    return str(Path(doc_id).with_suffix(".pdf"))


def convert_set(rows: list[dict[str, Any]], maps: dict[str, dict[int, int]]) -> list[dict[str, Any]]:
    """The rows with each evidence and related paragraph moved to its PDF's number."""
    def moved(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"doc_id": _pdf_name(e["doc_id"]), "paragraph": maps[e["doc_id"]][e["paragraph"]]} for e in items]

    return [{**row, "evidence": moved(row.get("evidence", [])), "related": moved(row.get("related", []))}
            if row.get("evidence") or row.get("related") else row for row in rows]


def build(target: Path, source_set: Path = SOURCE_SET, source_corpus: Path = SOURCE_CORPUS) -> tuple[Path, Path]:
    """Write ``target``/reports/*.pdf and ``target``/customs_pdf.jsonl; returns (set, corpus)."""
    corpus = target / "reports"
    corpus.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in source_set.read_text(encoding="utf-8").splitlines() if line.strip()]
    wanted: dict[str, set[int]] = {}
    for row in rows:
        for item in row.get("evidence", []) + row.get("related", []):
            wanted.setdefault(item["doc_id"], set()).add(item["paragraph"])
    maps: dict[str, dict[int, int]] = {}
    for path in list_files(source_corpus, [".txt"]):
        txt = load_document(source_corpus, path)
        pdf_path = corpus / _pdf_name(txt.doc_id)
        pdf_path.parent.mkdir(parents=True, exist_ok=True)
        write_pdf(txt, pdf_path)
        maps[txt.doc_id] = paragraph_map(txt, load_document(corpus, pdf_path), wanted.get(txt.doc_id, set()))
    if unknown := sorted(set(wanted) - set(maps)):
        raise UnmappedEvidence(f"the set cites reports that are not in {source_corpus}: {', '.join(unknown)}")
    set_path = target / "customs_pdf.jsonl"
    set_path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in convert_set(rows, maps)),
                        encoding="utf-8")
    return set_path, corpus


def _digest() -> str:
    """A hash of what the PDFs and the set are made from: this file, the source set and the reports."""
    sha = hashlib.sha256(LAYOUT_VERSION.encode())
    for path in [Path(__file__), SOURCE_SET, *list_files(SOURCE_CORPUS, [".txt"])]:
        sha.update(path.name.encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()[:12]


def customs_pdf_set(cache: Path | None = None) -> tuple[Path, Path]:
    """The PDF set and its corpus, built once into the user's cache (``$XDG_CACHE_HOME/rag/eval``)."""
    from rag.settings.sections import xdg

    try:
        import reportlab  # noqa: F401
    except ImportError:
        raise EvalSetError(f"the {NAME} eval set writes its PDFs with reportlab: pip install reportlab "
                       "(or the project's [test] extra)") from None
    target = (cache or xdg("XDG_CACHE_HOME", ".cache") / "rag" / "eval") / f"{NAME}-{_digest()}"
    set_path, corpus = target / "customs_pdf.jsonl", target / "reports"
    if not set_path.exists():
        log.info("writing the %s eval set and its PDFs into %s", NAME, target)
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        build(partial)
        try:
            partial.replace(target)  # whole or not at all
        except OSError:  # another run finished first
            shutil.rmtree(partial, ignore_errors=True)
    return set_path, corpus


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    written = build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("customs-pdf"))
    print(f"set {written[0]}\ncorpus {written[1]}")

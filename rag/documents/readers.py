"""Stage 1: files on disk -> ``Document`` (plain text plus title and date).

A file that cannot be read as text (binary, empty, not UTF-8, broken PDF or Word file) is
skipped with a one-line warning naming it; it never stops indexing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.documents.corpus import SkippedFile, display_name, read_inside, scan_corpus
from rag.documents.dates import find_date
from rag.documents.limits import ReadBudget, ReadLimits, UnreadableFile
from rag.errors import literal
from rag.types import Box

log = logging.getLogger(__name__)

BLOCK_SEP = re.compile(r"\n[ \t]*\n")
# (offset in Document.text, 1-based page number) where each page's text begins, in text order; () when unpaged.
Pages = tuple[tuple[int, int], ...]
# Which reader made a format's paragraphs: an index re-reads a file whose reader changed since (rag.indexing).
READER_VERSIONS = {".pdf": "pdfium-layout-3", ".docx": "python-docx-1"}
_BLOCK_TAGS = ("p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "pre",
               "blockquote", "section", "article", "header", "footer", "dd", "dt", "title")


@dataclass(frozen=True)
class Document:
    """A report as plain text. ``doc_id`` is its path relative to the corpus root (the citation key)."""

    doc_id: str
    text: str
    title: str
    date: str | None  # ISO yyyy-mm-dd where one could be parsed
    sha256: str
    pages: Pages = ()  # where each page starts in ``text``, so a paragraph knows its page (PDF)
    boxes: tuple[tuple[int, tuple[Box, ...]], ...] = ()  # (offset of a paragraph in text, where it is drawn) (PDF)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_files(root: Path, extensions: Iterable[str], follow_symlinks: bool = False) -> list[Path]:
    """Every indexable file under ``root``, in a stable order (see ``rag.documents.corpus`` for what is left out)."""
    return scan_corpus(root, extensions, follow_symlinks).files


def _decode(raw: bytes) -> str:
    if b"\x00" in raw[:8192]:
        raise UnreadableFile("binary file (NUL bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not UTF-8 text (byte {exc.start})") from None


def _read_html(raw: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(raw), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    blocks: list[str] = []
    for tag in soup.find_all(_BLOCK_TAGS):
        if tag.find(_BLOCK_TAGS):  # only leaf blocks, so text is not repeated
            continue
        text = " ".join(tag.get_text(" ", strip=True).split())
        if text:
            blocks.append(text)
    if not blocks:  # markup without block tags
        blocks = [" ".join(line.split()) for line in soup.get_text("\n").splitlines() if line.strip()]
    return "\n\n".join(blocks)


def reader_version(doc_id: str) -> str:
    """The version of the reader for this file's format ("" for the plain-text formats, which never changed)."""
    return READER_VERSIONS.get(Path(doc_id).suffix.lower(), "")


def paged_text(paragraphs: Iterable[tuple[int, str, tuple[Box, ...]]]) -> Extracted:
    """(page, paragraph, boxes) in order -> one text (blank lines between paragraphs), where each page starts
    and where each paragraph is drawn."""
    parts: list[str] = []
    starts: list[tuple[int, int]] = []
    boxes: list[tuple[int, tuple[Box, ...]]] = []
    offset = 0
    for page, paragraph, drawn in paragraphs:
        offset += 2 if parts else 0
        if not starts or starts[-1][1] != page:
            starts.append((offset, page))
        if drawn:
            boxes.append((offset, drawn))
        parts.append(paragraph)
        offset += len(paragraph)
    return Extracted("\n\n".join(parts), tuple(starts), boxes=tuple(boxes))


@dataclass(frozen=True)
class Extracted:
    """What a reader gets out of a file: the text, where its pages start (PDF), and a title it knows (Word)."""

    text: str
    pages: Pages = ()
    title: str | None = None
    boxes: tuple[tuple[int, tuple[Box, ...]], ...] = ()


def _pdf(raw: bytes, name: str, budget: ReadBudget) -> Extracted:
    from rag.documents.pdf import read_pdf  # pypdfium2 is loaded only when a PDF is read

    return paged_text(read_pdf(raw, name, budget))  # no carriage returns: offsets stay valid


def _docx(raw: bytes, name: str, budget: ReadBudget) -> Extracted:
    from rag.documents.word import read_docx  # python-docx is loaded only when a Word file is read

    paragraphs, title = read_docx(raw, budget)
    return Extracted("\n\n".join(paragraphs), title=title)


def _text(raw: bytes, name: str, budget: ReadBudget, html: bool = False) -> Extracted:
    text = _read_html(raw) if html else _decode(raw)
    budget.add(len(text))
    return Extracted(text.replace("\r\n", "\n").replace("\r", "\n"))


def _html(raw: bytes, name: str, budget: ReadBudget) -> Extracted:
    return _text(raw, name, budget, html=True)


# suffix -> reader of a file's bytes; any other suffix the settings allow is read as plain text
READERS: dict[str, Callable[[bytes, str, ReadBudget], Extracted]] = {
    ".pdf": _pdf, ".docx": _docx, ".html": _html, ".htm": _html}


def extract(raw: bytes, suffix: str, name: str, budget: ReadBudget | None = None) -> Extracted:
    """The plain text of one file's bytes, paragraphs separated by blank lines, with its pages and title where
    known. ``suffix`` picks the reader (``READERS``); ``name`` names the file in warnings about a part of it (a
    PDF page without text); ``budget`` bounds what reading it may cost (default: the indexer's limits)."""
    budget = budget or ReadBudget()
    found = READERS.get(suffix.lower(), _text)(raw, name, budget)
    if not found.text.strip():
        raise UnreadableFile("no text")
    return found


def _is_banner(line: str) -> bool:
    """Page furniture such as 'TODAY IS TUESDAY, DECEMBER 11, 2018': a line in capitals."""
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.8


def guess_title(text: str) -> str:
    """The first line that looks like a heading; failing that, the first non-empty line.

    A bare "first non-empty line" picks up crawler banners ("TODAY IS ...") and
    notices that end in a full stop, which make poor titles and poor embedding context.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines[:8]:
        if len(line) <= 200 and not _is_banner(line) and not line.endswith("."):
            return line
    return lines[0][:200] if lines else ""


def guess_date(text: str) -> str | None:
    """The first date in the opening blocks, ignoring banners (a crawl date is not the report's)."""
    blocks = ["\n".join(line for line in block.splitlines() if not _is_banner(line))
              for block in BLOCK_SEP.split(text)]
    for block in [b for b in blocks if b.strip()][:6]:
        found = find_date(block)
        if found:
            return found
    return None


def load_document(root: Path, path: Path, max_bytes: int | None = None, follow_symlinks: bool = False,
                  limits: ReadLimits | None = None) -> Document:
    """Read one file (through ``read_inside``: never a link swapped in since the listing); raises
    ``UnreadableFile`` or OSError with a one-line reason."""
    raw = read_inside(root, path, follow_symlinks, max_bytes)
    if not raw:
        raise UnreadableFile("empty file")
    if max_bytes is not None and len(raw) > max_bytes:
        raise UnreadableFile(f"larger than {max_bytes} bytes")
    doc_id = path.relative_to(root).as_posix()
    found = extract(raw, path.suffix, doc_id, ReadBudget(limits) if limits else None)
    return Document(
        doc_id=doc_id,
        text=found.text,
        title=found.title or guess_title(found.text),
        date=guess_date(found.text),
        sha256=hashlib.sha256(raw).hexdigest(),  # of the bytes read, not of the name read again
        pages=found.pages,
        boxes=found.boxes,
    )


def load_documents(root: Path, paths: Iterable[Path], max_bytes: int | None = None, follow_symlinks: bool = False,
                   limits: ReadLimits | None = None) -> tuple[list[Document], list[SkippedFile]]:
    """Load many files, collecting (and logging) the ones that must be skipped."""
    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    for path in paths:
        try:
            documents.append(load_document(root, path, max_bytes, follow_symlinks, limits))
        except (UnreadableFile, OSError) as exc:
            doc_id = display_name(path.relative_to(root).as_posix())
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            skipped.append(SkippedFile(doc_id, reason))
            log.warning("skipped %s: %s", literal(doc_id, lines=False), literal(reason, lines=False))
    return documents, skipped

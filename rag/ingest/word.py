"""Read a Word ``.docx`` with python-docx: Word's own paragraphs, its first heading as the title, tables as rows.

Word already knows where a paragraph ends, so nothing is guessed: each non-empty paragraph is one
paragraph of the text (a line break inside it stays a single newline), and each table is one
paragraph whose lines are its rows, ``cell | cell``, as PDF tables are. The title is the first
paragraph in a Title or Heading style, since Word files rarely open with a line that looks like one.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from rag.errors import one_line
from rag.ingest.documents import UnreadableFile

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean(text: str) -> str:
    """One paragraph: no empty lines (they would split it), no control characters, spaces collapsed."""
    lines = (" ".join(_CONTROL.sub(" ", line).split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _cell_text(cell: Any) -> str:
    return " ".join(_clean(cell.text).split())


def _table(table: Any) -> str:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if previous is not None and cell._tc is previous:  # a merged cell is listed once per grid column
                continue
            previous = cell._tc
            cells.append(_cell_text(cell))
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _is_heading(paragraph: Any) -> bool:
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    return name == "Title" or name.startswith("Heading")


def read_docx(path: Path) -> tuple[list[str], str | None]:
    """The paragraphs in document order, and the first Title/Heading paragraph (None when there is none)."""
    from docx import Document as open_docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from lxml.etree import XMLSyntaxError

    try:
        document = open_docx(str(path))
        paragraphs: list[str] = []
        title = None
        for block in document.iter_inner_content():
            text = _table(block) if isinstance(block, Table) else _clean(block.text)
            if not text:
                continue
            if title is None and not isinstance(block, Table) and _is_heading(block):
                title = " ".join(text.split())
            paragraphs.append(text)
    except (PackageNotFoundError, zipfile.BadZipFile, XMLSyntaxError, KeyError, ValueError, AttributeError) as exc:
        raise UnreadableFile(f"unreadable Word file ({one_line(exc)})") from None
    return paragraphs, title

"""Read a Word ``.docx`` with python-docx: Word's own paragraphs, its first heading as the title, tables as rows.

Word already knows where a paragraph ends, so nothing is guessed: each non-empty paragraph is one
paragraph of the text (a line break inside it stays a single newline), and each table is one
paragraph whose lines are its rows, ``cell | cell``, as PDF tables are. The title is the first
paragraph in a Title or Heading style, since Word files rarely open with a line that looks like one.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from rag.documents.limits import ReadBudget, UnreadableFile
from rag.errors import one_line

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean(text: str) -> str:
    """One paragraph: no empty lines (they would split it), no control characters, spaces collapsed."""
    lines = (" ".join(_CONTROL.sub(" ", line).split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _cell_text(cell: Any) -> str:
    return " ".join(_clean(cell.text).split())


def _table(table: Any, budget: ReadBudget) -> str:
    rows = []
    for row in table.rows:
        budget.add()  # a table of many merged cells is slow to walk: the clock is checked row by row
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


def _heading_styles(document: Any) -> frozenset[str]:
    """The ids of the Title and Heading styles, read once: python-docx looks a paragraph's style up in the
    whole styles part on every ``paragraph.style``, which made 5,000 paragraphs cost seconds."""
    return frozenset(style.style_id for style in document.styles
                     if (style.name or "") == "Title" or (style.name or "").startswith("Heading"))


def read_docx(raw: bytes, budget: ReadBudget | None = None) -> tuple[list[str], str | None]:
    """The paragraphs in document order, and the first Title/Heading paragraph (None when there is none).

    ``budget`` refuses a zip bomb from the archive's directory before parsing, then bounds time and text.
    """
    from docx import Document as open_docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from lxml.etree import XMLSyntaxError

    budget = budget or ReadBudget()
    budget.zip_parts(raw)
    try:
        document = open_docx(io.BytesIO(raw))
        paragraphs: list[str] = []
        title = None
        headings = _heading_styles(document)
        for block in document.iter_inner_content():
            text = _table(block, budget) if isinstance(block, Table) else _clean(block.text)
            budget.add(len(text))
            if not text:
                continue
            if title is None and not isinstance(block, Table) and block._p.style in headings:
                title = " ".join(text.split())
            paragraphs.append(text)
    except (PackageNotFoundError, zipfile.BadZipFile, XMLSyntaxError, KeyError, ValueError, AttributeError) as exc:
        raise UnreadableFile(f"unreadable Word file ({one_line(exc)})") from None
    return paragraphs, title

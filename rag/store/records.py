"""The paragraph and chunk records of one index segment, looked up by key or row, never loaded whole.

A segment's records live in SQLite (``records.sqlite``), written once and then opened read-only
and ``immutable`` (no locks, no journal), so a 1M-paragraph index opens in milliseconds and a
question reads only the rows it returns. ``MemoryRecords`` holds the same records in lists: an
index built in memory (tests, benchmarks) and segments of format 1-2 indexes (JSONL files) use it.

Rows are ordered by (doc_id, paragraph, start): the chunks of one paragraph are one contiguous
range of rows, which is all a search needs to find a paragraph's best chunk.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import astuple
from pathlib import Path
from typing import Protocol

from rag.documents.paragraphs import Chunk, Paragraph
from rag.errors import one_line
from rag.store.integrity import Damaged, index_error
from rag.types import ParagraphKey

RECORDS = "records.sqlite"

_SCHEMA = """
CREATE TABLE paragraphs (row INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, paragraph INTEGER NOT NULL, text TEXT NOT NULL,
                         start INTEGER NOT NULL, end INTEGER NOT NULL, page INTEGER, boxes TEXT NOT NULL,
                         first_chunk INTEGER NOT NULL, chunks INTEGER NOT NULL);
CREATE UNIQUE INDEX paragraph_key ON paragraphs (doc_id, paragraph);
CREATE TABLE chunks (row INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, paragraph INTEGER NOT NULL,
                     start INTEGER NOT NULL, end INTEGER NOT NULL, embed_text TEXT NOT NULL);
"""


def sort_records(paragraphs: Sequence[Paragraph], chunks: Sequence[Chunk]) -> tuple[list[Paragraph], list[int]]:
    """Paragraphs in key order, and the chunk order that makes each paragraph's chunks contiguous."""
    order = sorted(range(len(chunks)), key=lambda i: (chunks[i].doc_id, chunks[i].paragraph, chunks[i].start))
    return sorted(paragraphs, key=lambda p: p.key), order


def _chunk_ranges(paragraphs: Sequence[Paragraph], chunks: Sequence[Chunk]) -> list[tuple[int, int]]:
    """(first row, count) of each paragraph's chunks; both lists are in key order."""
    ranges, row = [], 0
    for paragraph in paragraphs:
        first = row
        while row < len(chunks) and chunks[row].key == paragraph.key:
            row += 1
        ranges.append((first, row - first))
    if row != len(chunks):
        raise ValueError(f"chunk {row} ({chunks[row].doc_id} ¶{chunks[row].paragraph}) has no paragraph")
    return ranges


def write_records(path: Path, paragraphs: Sequence[Paragraph], chunks: Sequence[Chunk]) -> None:
    """Write both lists (already in key order, see ``sort_records``) into a new SQLite file."""
    ranges = _chunk_ranges(paragraphs, chunks)
    connection = sqlite3.connect(path)
    try:
        connection.executescript(_SCHEMA)
        connection.executemany(
            "INSERT INTO paragraphs VALUES (?,?,?,?,?,?,?,?,?,?)",
            ((row, p.doc_id, p.paragraph, p.text, p.start, p.end, p.page, json.dumps(p.boxes), first, count)
             for row, (p, (first, count)) in enumerate(zip(paragraphs, ranges))))
        connection.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?)",
                               ((row, *astuple(c)) for row, c in enumerate(chunks)))
        connection.commit()
    finally:
        connection.close()


class Records(Protocol):
    """What a search asks of a segment's records; rows are 0-based and in key order."""

    paragraph_count: int
    chunk_count: int

    def paragraph(self, key: ParagraphKey) -> Paragraph | None: ...
    def paragraph_at(self, rows: Sequence[int]) -> list[Paragraph]: ...
    def chunk_rows(self, key: ParagraphKey) -> range: ...
    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]: ...
    def doc_counts(self) -> Counter[str]: ...
    def doc_chunk_rows(self, doc_ids: set[str]) -> list[int]: ...
    def doc_paragraph_rows(self, doc_ids: set[str]) -> list[int]: ...
    def paragraphs(self) -> Iterator[Paragraph]: ...
    def chunks(self) -> Iterator[Chunk]: ...


class MemoryRecords:
    """Records held in lists: an index built in memory, or a format 1-2 segment read from JSONL."""

    def __init__(self, paragraphs: Sequence[Paragraph], chunks: Sequence[Chunk]) -> None:
        self._paragraphs, self._chunks = list(paragraphs), list(chunks)
        self.paragraph_count, self.chunk_count = len(self._paragraphs), len(self._chunks)
        self._rows = {p.key: row for row, p in enumerate(self._paragraphs)}
        self._ranges = _chunk_ranges(self._paragraphs, self._chunks)

    def paragraph(self, key: ParagraphKey) -> Paragraph | None:
        row = self._rows.get(key)
        return None if row is None else self._paragraphs[row]

    def paragraph_at(self, rows: Sequence[int]) -> list[Paragraph]:
        return [self._paragraphs[r] for r in rows]

    def chunk_rows(self, key: ParagraphKey) -> range:
        row = self._rows.get(key)
        first, count = self._ranges[row] if row is not None else (0, 0)
        return range(first, first + count)

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        return [self._chunks[r] for r in rows]

    def doc_counts(self) -> Counter[str]:
        return Counter(p.doc_id for p in self._paragraphs)

    def doc_chunk_rows(self, doc_ids: set[str]) -> list[int]:
        return [row for row, c in enumerate(self._chunks) if c.doc_id in doc_ids]

    def doc_paragraph_rows(self, doc_ids: set[str]) -> list[int]:
        return [row for row, p in enumerate(self._paragraphs) if p.doc_id in doc_ids]

    def paragraphs(self) -> Iterator[Paragraph]:
        return iter(self._paragraphs)

    def chunks(self) -> Iterator[Chunk]:
        return iter(self._chunks)


def _paragraph(row: tuple) -> Paragraph:
    doc_id, number, text, start, end, page, boxes = row
    return Paragraph(doc_id, number, text, start, end, page, tuple(tuple(b) for b in json.loads(boxes)))


_PARAGRAPH_COLUMNS = "doc_id, paragraph, text, start, end, page, boxes"


class SqliteRecords:
    """Records in a segment's SQLite file, opened read-only; one connection shared under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                   check_same_thread=False)
        self._lock = threading.Lock()
        try:  # a file that is no database fails here, as sqlite3's error (rag.store.integrity.read_file names it)
            self.paragraph_count = self._db.execute("SELECT count(*) FROM paragraphs").fetchone()[0]
            self.chunk_count = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        except sqlite3.DatabaseError:
            self._db.close()
            raise

    def _all(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:  # damaged after it was opened: the user's one line, never "unexpected"
            damage = Damaged(f"{self.path.parent.name}/{self.path.name}", f"cannot be read ({one_line(exc)})")
            raise index_error(self.path.parent.parent, damage, None) from None

    def _one(self, sql: str, args: Sequence[object] = ()) -> tuple:
        rows = self._all(sql, args)
        return rows[0] if rows else ()

    def _rows(self, table: str, columns: str, rows: Sequence[int]) -> list[tuple]:
        """Rows by row number, in the order asked (duplicates allowed); a query per 500 rows (SQLite's limit
        on bound variables is 999 in older builds)."""
        found: dict[int, tuple] = {}
        wanted = sorted(set(rows))
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            found.update((r[0], r[1:]) for r in self._all(
                f"SELECT row, {columns} FROM {table} WHERE row IN ({','.join('?' * len(part))})", part))
        return [found[r] for r in rows]

    def paragraph(self, key: ParagraphKey) -> Paragraph | None:
        row = self._one(f"SELECT {_PARAGRAPH_COLUMNS} FROM paragraphs WHERE doc_id = ? AND paragraph = ?", key)
        return _paragraph(row) if row else None

    def paragraph_at(self, rows: Sequence[int]) -> list[Paragraph]:
        return [_paragraph(r) for r in self._rows("paragraphs", _PARAGRAPH_COLUMNS, rows)]

    def chunk_rows(self, key: ParagraphKey) -> range:
        row = self._one("SELECT first_chunk, chunks FROM paragraphs WHERE doc_id = ? AND paragraph = ?", key)
        return range(row[0], row[0] + row[1]) if row else range(0)

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        return [Chunk(*r) for r in self._rows("chunks", "doc_id, paragraph, start, end, embed_text", rows)]

    def doc_counts(self) -> Counter[str]:
        return Counter(dict(self._all("SELECT doc_id, count(*) FROM paragraphs GROUP BY doc_id")))

    def doc_chunk_rows(self, doc_ids: set[str]) -> list[int]:
        return sorted(row for first, count in self._doc_rows("first_chunk, chunks", doc_ids)
                      for row in range(first, first + count))

    def doc_paragraph_rows(self, doc_ids: set[str]) -> list[int]:
        return sorted(row for (row,) in self._doc_rows("row", doc_ids))

    def _doc_rows(self, columns: str, doc_ids: set[str]) -> list[tuple]:
        """Paragraph rows of some documents (by the key index, never a scan of the table)."""
        wanted, found = sorted(doc_ids), []
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            found += self._all(f"SELECT {columns} FROM paragraphs WHERE doc_id IN ({','.join('?' * len(part))})", part)
        return found

    def paragraphs(self) -> Iterator[Paragraph]:
        return iter([_paragraph(r) for r in self._all(f"SELECT {_PARAGRAPH_COLUMNS} FROM paragraphs ORDER BY row")])

    def chunks(self) -> Iterator[Chunk]:
        return iter([Chunk(*r) for r in self._all(
            "SELECT doc_id, paragraph, start, end, embed_text FROM chunks ORDER BY row")])

    def orphan_chunk(self) -> Chunk | None:
        """A chunk whose paragraph is not in the segment (a consistency check for ``--check``)."""
        row = self._one("SELECT c.doc_id, c.paragraph, c.start, c.end, c.embed_text FROM chunks c LEFT JOIN "
                        "paragraphs p ON p.doc_id = c.doc_id AND p.paragraph = c.paragraph WHERE p.row IS NULL LIMIT 1")
        return Chunk(*row) if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()

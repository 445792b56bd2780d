"""The ``Records`` of a Milvus segment: paragraphs and chunks fetched by row (the id) or by key.

A row's id is ``segment key << 32 | row`` (rows in (doc_id, paragraph, start) order, as in
``rag.store.records``), so ``get`` by id reads a record; a paragraph key is one filtered query.
Segments never change, so what was read is kept (a bounded cache): a question's second look at a
paragraph (its best chunk, then its text) costs no round trip, and the rows a search returns
arrive with their records. Only ``paragraphs()`` / ``chunks()`` / ``doc_counts()`` read all rows,
in pages of ids (compaction, verification, tests).
"""

from __future__ import annotations

import json
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from rag.documents.paragraphs import Chunk, Paragraph
from rag.types import ParagraphKey

ROW_BITS = 32
PART = 16_000  # characters per array element: at most 64,000 bytes of UTF-8, under Milvus' 65,535 per VARCHAR
PAGE = 10_000  # rows per query when reading a whole segment (records and vectors; ids: 20 times as many)
CACHED = 4_096  # records kept per segment and kind
PARAGRAPH_FIELDS = ["doc_id", "paragraph", "text", "start", "end", "page", "boxes", "first_chunk", "chunks"]
CHUNK_FIELDS = ["doc_id", "paragraph", "start", "end", "embed_text"]


def parts(text: str) -> list[str]:
    """A text as VARCHAR array elements (Milvus caps one VARCHAR at 65,535 bytes; a paragraph may be longer)."""
    return [text[i:i + PART] for i in range(0, len(text), PART)] or [""]


def literal(value: str) -> str:
    """A string in a Milvus filter expression (templates are not supported by Milvus Lite)."""
    return json.dumps(value, ensure_ascii=False)


def filter_in(field: str, values: Sequence[str], negate: bool = False) -> str:
    return f"{field} {'not in' if negate else 'in'} {json.dumps(sorted(values), ensure_ascii=False)}"


def _paragraph(row: dict) -> tuple[Paragraph, range]:
    boxes = tuple(tuple(b) for b in json.loads("".join(row["boxes"])))
    paragraph = Paragraph(row["doc_id"], row["paragraph"], "".join(row["text"]), row["start"], row["end"],
                          None if row["page"] < 0 else row["page"], boxes)
    return paragraph, range(row["first_chunk"], row["first_chunk"] + row["chunks"])


def _chunk(row: dict) -> Chunk:
    return Chunk(row["doc_id"], row["paragraph"], row["start"], row["end"], "".join(row["embed_text"]))


class _Cache:
    """The most recently used ``CACHED`` entries; safe to share between threads (the UI answers many users)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if len(self._entries) > CACHED:
                self._entries.popitem(last=False)

    def found(self, keys: Sequence[Any]) -> dict[Any, Any]:
        """The cached ones of ``keys``."""
        with self._lock:
            return {key: self._entries[key] for key in keys if key in self._entries}


class MilvusRecords:
    """The records of one segment (one partition of the paragraph and chunk collections)."""

    def __init__(self, milvus: Any, paragraphs: str, chunks: str, partition: str, key: int,
                 counts: tuple[int, int]) -> None:
        self.milvus, self.paragraph_collection, self.chunk_collection = milvus, paragraphs, chunks
        self.partition, self.key = partition, key << ROW_BITS
        self.paragraph_count, self.chunk_count = counts
        self._paragraphs, self._chunks, self._rows = _Cache(), _Cache(), _Cache()  # row -> record, key -> row

    # --- filling the caches ---------------------------------------------------------------
    def keep_paragraphs(self, rows: list[dict]) -> None:
        """Remember paragraph rows read anywhere (a keyword search returns them with its hits)."""
        for row in rows:
            number = row["id"] - self.key
            self._paragraphs.put(number, _paragraph(row))
            self._rows.put(ParagraphKey(row["doc_id"], row["paragraph"]), number)

    def keep_chunks(self, rows: list[dict]) -> None:
        """Remember chunk rows, and where their paragraphs are when the rows say (a dense search's hits)."""
        for row in rows:
            self._chunks.put(row["id"] - self.key, _chunk(row))
            if "paragraph_row" in row:
                self._rows.put(ParagraphKey(row["doc_id"], row["paragraph"]), row["paragraph_row"])

    def _fetch(self, collection: str, rows: Sequence[int], fields: list[str]) -> list[dict]:
        found = []
        wanted = sorted(set(rows))
        for start in range(0, len(wanted), 1000):
            found += self.milvus.get(collection, ids=[self.key | r for r in wanted[start:start + 1000]],
                                     output_fields=fields, partition_names=[self.partition])
        return found

    # --- the Records protocol -------------------------------------------------------------
    def _paragraph_rows(self, rows: Sequence[int]) -> list[tuple[Paragraph, range]]:
        found = self._paragraphs.found(rows)
        missing = [r for r in rows if r not in found]
        if missing:
            fetched = self._fetch(self.paragraph_collection, missing, PARAGRAPH_FIELDS)
            found.update((row["id"] - self.key, _paragraph(row)) for row in fetched)
            self.keep_paragraphs(fetched[-CACHED:])
        return [found[r] for r in rows]

    def _by_key(self, key: ParagraphKey) -> tuple[Paragraph, range] | None:
        row = self._rows.get(key)
        if row is not None:  # a search returned it, or a chunk of it
            return self._paragraph_rows([row])[0]
        found = self.milvus.query(  # by the scalar indexes: a scan of the collection in Milvus Lite
            self.paragraph_collection, filter=f"doc_id == {literal(key.doc_id)} and paragraph == {int(key.paragraph)}",
            output_fields=PARAGRAPH_FIELDS, partition_names=[self.partition], limit=1)
        if not found:
            return None
        self.keep_paragraphs(found)
        return _paragraph(found[0])

    def paragraph(self, key: ParagraphKey) -> Paragraph | None:
        found = self._by_key(key)
        return found[0] if found else None

    def paragraph_at(self, rows: Sequence[int]) -> list[Paragraph]:
        return [paragraph for paragraph, _ in self._paragraph_rows(rows)]

    def chunk_rows(self, key: ParagraphKey) -> range:
        found = self._by_key(key)
        return found[1] if found else range(0)

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        found = self._chunks.found(rows)
        missing = [r for r in rows if r not in found]
        if missing:
            fetched = self._fetch(self.chunk_collection, missing, CHUNK_FIELDS)
            found.update((row["id"] - self.key, _chunk(row)) for row in fetched)
            self.keep_chunks(fetched[-CACHED:])
        return [found[r] for r in rows]

    def vectors_at(self, rows: Sequence[int]) -> list[list[float]]:
        """Vectors are not cached. A few come by id with their chunks (which are); many, a page at a time."""
        if len(rows) > 1000:
            every = self._pages(self.chunk_collection, self.chunk_count, ["vector"])
            vectors = {row["id"] - self.key: row["vector"] for row in every}
        else:
            found = self._fetch(self.chunk_collection, rows, ["vector", "paragraph_row", *CHUNK_FIELDS])
            self.keep_chunks(found)
            vectors = {row["id"] - self.key: row["vector"] for row in found}
        return [vectors[r] for r in rows]

    def _pages(self, collection: str, count: int, fields: list[str], size: int = PAGE) -> Iterator[dict]:
        """Every row of the segment in row order, a page of ids at a time (each page a scan in Milvus Lite)."""
        for start in range(0, count, size):
            page = self.milvus.query(collection, filter=f"id >= {self.key | start} and id < "
                                     f"{self.key | min(start + size, count)}", output_fields=fields,
                                     partition_names=[self.partition])
            yield from sorted(page, key=lambda row: row["id"])

    def doc_counts(self) -> Counter[str]:
        return Counter(row["doc_id"] for row in self._pages(self.paragraph_collection, self.paragraph_count,
                                                            ["doc_id"], 20 * PAGE))

    def doc_chunk_rows(self, doc_ids: set[str]) -> list[int]:
        return self._doc_rows(self.chunk_collection, doc_ids)

    def doc_paragraph_rows(self, doc_ids: set[str]) -> list[int]:
        return self._doc_rows(self.paragraph_collection, doc_ids)

    def _doc_rows(self, collection: str, doc_ids: set[str]) -> list[int]:
        if not doc_ids:
            return []
        found = self.milvus.query(collection, filter=filter_in("doc_id", list(doc_ids)), output_fields=["id"],
                                  partition_names=[self.partition])
        return sorted(row["id"] - self.key for row in found)

    def paragraphs(self) -> Iterator[Paragraph]:
        return (_paragraph(row)[0] for row in self._pages(self.paragraph_collection, self.paragraph_count,
                                                          PARAGRAPH_FIELDS))

    def chunks(self) -> Iterator[Chunk]:
        return (_chunk(row) for row in self._pages(self.chunk_collection, self.chunk_count, CHUNK_FIELDS))

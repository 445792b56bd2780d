"""A segment whose rows live in Milvus: the ``Segment`` interface over one partition of two collections.

``index.index_type = "milvus"`` keeps the project's design (manifest, atomic ``CURRENT``, immutable
segments, tombstones, compaction; ``rag.store.index``) and moves only the rows: a segment is a
partition of ``<prefix>_paragraphs`` and ``<prefix>_chunks<dim>`` (``rag.store.milvus_client``),
its records are read by ``rag.store.milvus_records``. Dense search (HNSW, inner product) and BM25
both run in the engine; rank fusion stays in ``rag.query.retrieval.RankFusion`` over the same two
rankings as the FAISS backend (chunks by vector, paragraphs by BM25), so both backends rank alike.
(Milvus' own hybrid_search would fuse chunks with paragraphs, or need both in one collection.)

BM25 sees exactly the tokens bm25s would (``rag.text.search_tokens``: lower-cased ``\\w\\w+`` runs minus bm25s'
English stop words, no stemming): we tokenize with bm25s and store the tokens space-joined in the analysed field,
and do the same to a question. Milvus' BM25 (k1 1.5, b 0.75, the same IDF) differs from bm25s'
"lucene" variant only by the constant factor k1 + 1, so the rankings agree. A deleted document is
a filter, ``doc_id not in [...]``, on the segment's searches; a question limited to some reports (``rag.types.Scope``)
is one too, ``doc_id in [...]``, applied by the engine inside its search (k hits when the reports hold k).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rag.documents.paragraphs import Chunk, Paragraph
from rag.settings import IndexSettings
from rag.store.base import Segment, SegmentRecord
from rag.store.integrity import Damaged
from rag.store.milvus_client import (
    chunk_collections,
    client,
    collection_prefix,
    drop_partition,
    drop_unlisted,
    ensure_loaded,
    names,
    partition,
    record_uri,
    resolve_uri,
)
from rag.store.milvus_records import CHUNK_FIELDS, PARAGRAPH_FIELDS, MilvusRecords, filter_in, parts
from rag.store.milvus_schema import MAX_WORDS, ensure_collections, insert_rows
from rag.store.records import _chunk_ranges, sort_records
from rag.text import search_stop_words, search_words

MILVUS = "milvus"  # this backend's name in settings (index.index_type) and in segment records
MAX_LIMIT = 16_384  # Milvus' largest topk


def analysed_words(texts: list[str]) -> list[str]:
    """bm25s' tokens of each text, space-joined (what Milvus' standard tokenizer splits back identically);
    beyond ``MAX_WORDS`` bytes a paragraph's tokens are not searched (its text is kept whole)."""
    joined = [" ".join(t) for t in search_words(texts)]
    return [j if len(j.encode()) <= MAX_WORDS else j.encode()[:MAX_WORDS].decode(errors="ignore").rsplit(" ", 1)[0]
            for j in joined]


def key_of(name: str) -> int:
    """The 28-bit key of a segment, from its random token: its row ids are ``key << 32 | row``."""
    return int(name.replace("_", "-").rsplit("-", 1)[-1][:7], 16)


def write_milvus_segment(directory: Path, paragraphs: Sequence[Paragraph], chunks: Sequence[Chunk],
                         vectors: np.ndarray, titles: dict[str, str], uri: str, collection: str) -> SegmentRecord:
    """Insert a new segment's rows as a new partition and flush; on an error the partition is dropped.

    No manifest names the partition until ``publish`` switches ``CURRENT``: a writer killed before
    leaves rows that the next writer drops (``rag.store.versions.remove_stale_rows``).
    """
    ordered, order = sort_records(paragraphs, chunks)
    chunks = [chunks[i] for i in order]
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors, dim = (vectors[order] if len(chunks) else vectors), int(vectors.shape[1])
    ranges = _chunk_ranges(ordered, chunks)
    recorded, prefix = record_uri(directory, uri), collection_prefix(directory, collection)
    milvus = client(resolve_uri(directory, recorded))
    paragraph_collection, chunk_collection = ensure_collections(milvus, prefix, dim, sorted(search_stop_words()))
    taken = {key_of(p) for p in milvus.list_partitions(paragraph_collection) if p != "_default"}
    name = ""
    while not name or key_of(name) in taken:
        name = f"s-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    key, part = key_of(name) << 32, partition(name)
    texts = analysed_words([f"{titles.get(p.doc_id, '')}\n{p.text}" for p in ordered])
    try:
        for target in (paragraph_collection, chunk_collection):
            milvus.create_partition(target, part)
        insert_rows(milvus, paragraph_collection, part, (
            {"id": key | row, "doc_id": p.doc_id, "paragraph": p.paragraph, "start": p.start, "end": p.end,
             "text": parts(p.text), "boxes": parts(json.dumps(p.boxes)), "page": -1 if p.page is None else p.page,
             "first_chunk": first, "chunks": count, "words": text}
            for row, (p, (first, count), text) in enumerate(zip(ordered, ranges, texts))))
        paragraph_rows = [row for row, (_, count) in enumerate(ranges) for _ in range(count)]
        insert_rows(milvus, chunk_collection, part, (
            {"id": key | row, "doc_id": c.doc_id, "paragraph": c.paragraph, "start": c.start, "end": c.end,
             "embed_text": parts(c.embed_text), "paragraph_row": paragraph_rows[row], "vector": vectors[row]}
            for row, c in enumerate(chunks)))
        for target in (paragraph_collection, chunk_collection):
            milvus.flush(target)  # durable, and indexed rather than brute-forced by every search
    except BaseException:
        for target in (paragraph_collection, chunk_collection):
            with contextlib.suppress(Exception):  # best effort: the next writer drops it anyway
                drop_partition(milvus, target, part)
        raise
    return SegmentRecord(name, MILVUS, len(chunks), len(ordered), store=MILVUS, uri=recorded, collection=prefix)


class MilvusSegment(Segment):
    """An open Milvus segment: searches its partition, skipping deleted documents with a filter."""

    def __init__(self, record: SegmentRecord, records: MilvusRecords, titles: dict[str, str] | None = None) -> None:
        super().__init__(record, records, titles)
        self.rows, self.milvus = records, records.milvus
        self._filter = filter_in("doc_id", record.deleted, negate=True) if record.deleted else ""

    def with_record(self, record: SegmentRecord, titles: dict[str, str]) -> MilvusSegment:
        return MilvusSegment(record, self.rows, titles)

    def vectors_at(self, rows: Sequence[int]) -> np.ndarray:
        return np.asarray(self.rows.vectors_at(rows), dtype=np.float32).reshape(len(rows), -1)

    def _filter_for(self, allowed: frozenset[str] | None) -> str:
        """The filter of a search: the allowed documents (none of them deleted here), else not the deleted ones."""
        return self._filter if allowed is None else filter_in("doc_id", list(allowed))

    def search(self, query: np.ndarray, limit: int, efsearch: int, nprobe: int,
               allowed: frozenset[str] | None = None) -> list[tuple[int, float]]:
        """(chunk row, cosine) of the nearest live chunks, best first; HNSW keeps ``max(efsearch, limit)``."""
        limit = min(limit, self.live_chunks, MAX_LIMIT)
        if limit <= 0 or (allowed is not None and not allowed):
            return []
        hits = self.milvus.search(self.rows.chunk_collection, data=[np.asarray(query, dtype=np.float32).tolist()],
                                  anns_field="vector", limit=limit, filter=self._filter_for(allowed),
                                  output_fields=[*CHUNK_FIELDS, "paragraph_row"],
                                  partition_names=[self.rows.partition],
                                  search_params={"metric_type": "IP", "params": {"ef": max(efsearch, limit)}})
        found = [dict(hit["entity"], id=hit["id"]) for hit in hits[0]] if hits else []
        self.rows.keep_chunks(found)
        return [(int(hit["id"]) - self.rows.key, float(hit["distance"])) for hit in (hits[0] if hits else [])]

    def keyword_search(self, question: str, limit: int,
                       allowed: frozenset[str] | None = None) -> list[tuple[int, float]]:
        """(paragraph row, BM25 score) of the best live paragraphs for ``question``'s words, best first."""
        text = analysed_words([question])[0]
        limit = min(limit, self.live_paragraphs, MAX_LIMIT)
        if limit <= 0 or not text or (allowed is not None and not allowed):
            return []
        hits = self.milvus.search(self.rows.paragraph_collection, data=[text], anns_field="sparse", limit=limit,
                                  filter=self._filter_for(allowed), output_fields=PARAGRAPH_FIELDS,
                                  partition_names=[self.rows.partition], search_params={"metric_type": "BM25"})
        hits = hits[0] if hits else []
        self.rows.keep_paragraphs([dict(hit["entity"], id=hit["id"]) for hit in hits])
        scored = [(int(hit["id"]) - self.rows.key, abs(float(hit["distance"]))) for hit in hits]  # Lite: -score
        return sorted(((row, score) for row, score in scored if score > 0), key=lambda hit: (-hit[1], hit[0]))

    def close(self) -> None:
        """Nothing to close: the connection is the process's (``milvus_client.release_all``)."""


def open_milvus_segment(directory: Path, record: SegmentRecord, titles: dict[str, str], verify: bool) -> Segment:
    """Open a segment's partition; a missing collection or partition, or row counts other than the
    manifest's, raise ``Damaged`` naming the collection (``rag index`` then rebuilds the segment).

    ``verify`` needs nothing more here: the index then checks each document's paragraph count.
    """
    milvus = client(resolve_uri(directory, record.uri))
    part = partition(record.name)
    paragraphs = names(record.collection, 0)[0]
    chunks = next((c for c in chunk_collections(milvus, record.collection) if milvus.has_partition(c, part)),
                  f"{record.collection}_chunks")
    counts = []
    for collection in (paragraphs, chunks):
        label = f"Milvus collection {collection!r}"
        if not milvus.has_collection(collection):
            raise Damaged(label, f"is missing (segment {record.name})")
        if not milvus.has_partition(collection, part):
            raise Damaged(label, f"has no partition for segment {record.name}")
        ensure_loaded(milvus, collection, part)
        counts.append(int(milvus.get_partition_stats(collection, part)["row_count"]))
    if counts != [record.paragraphs, record.chunks]:
        raise Damaged(f"Milvus collections {paragraphs!r}/{chunks!r}", f"hold {counts[0]} paragraphs and {counts[1]} "
                      f"chunks of segment {record.name}, the manifest says {record.paragraphs} and {record.chunks}")
    rows = MilvusRecords(milvus, paragraphs, chunks, part, key_of(record.name), (counts[0], counts[1]))
    return MilvusSegment(record, rows, titles)


class MilvusStore:
    """Segments as partitions of two Milvus collections (``SegmentStore``; ``index.index_type = "milvus"``)."""

    name, label = MILVUS, "Milvus"

    def location(self, directory: Path, settings: IndexSettings) -> tuple[str, str]:
        return record_uri(directory, settings.uri), collection_prefix(directory, settings.collection)

    def write(self, directory: Path, paragraphs: Sequence[Paragraph], chunks: Sequence[Chunk], vectors: np.ndarray,
              titles: dict[str, str], index_type: str, uri: str = "", collection: str = "") -> SegmentRecord:
        return write_milvus_segment(directory, paragraphs, chunks, vectors, titles, uri, collection)

    def open(self, directory: Path, record: SegmentRecord, titles: dict[str, str], verify: bool,
             on_damage: Callable[[Damaged], Exception] | None = None, checksums: bool = False) -> Segment:
        return open_milvus_segment(directory, record, titles, verify)

    def drop_unlisted(self, directory: Path, uri: str, collection: str, keep: set[str]) -> None:
        drop_unlisted(directory, uri, collection, keep)

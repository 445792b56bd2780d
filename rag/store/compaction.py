"""Compaction: merge index segments so that searches stay fast and deleted rows stop costing.

Each ``rag index`` that adds reports writes a small segment, and each deletion leaves rows that
searches must skip. After every write the indexer asks ``plan`` which segments to merge:

* a segment whose deleted share of paragraphs passes ``max_deleted_fraction`` is rewritten;
* with more than ``max_segments`` live segments, all but the largest are merged into one
  (the archive's big segment is only rewritten by its own deletions or by ``--compact``);
* ``rag index --compact`` merges everything into one segment;
* a segment of a format 1-2 index (no files of its own) is always merged, which upgrades it.

A merge writes one new segment and a new manifest, the same crash-safe switch as any update.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rag.documents.paragraphs import Chunk, Paragraph
from rag.settings import IndexSettings
from rag.store.base import FILES, Segment
from rag.store.factory import store_for, store_of
from rag.store.faiss_types import choose_index_type
from rag.store.index import SegmentedIndex, live_rows
from rag.store.manifest import Manifest

log = logging.getLogger(__name__)


Rows = tuple[list[Paragraph], list[Chunk], np.ndarray]


@dataclass(frozen=True)
class CompactionPolicy:
    max_segments: int = 8
    max_deleted_fraction: float = 0.25


def plan(segments: list[Segment], policy: CompactionPolicy, everything: bool = False) -> list[Segment]:
    """The segments to merge into one (empty: none); fully deleted segments are dropped, not merged."""
    live = [s for s in segments if s.live_paragraphs > 0]
    if everything:  # also one clean segment: `--compact` after a change of index type rebuilds its FAISS index
        return live
    chosen = {s.name for s in live if _legacy(s)}  # formats 1-2: upgrade
    chosen |= {s.name for s in live
               if s.records.paragraph_count and len(s.deleted_paragraphs) / s.records.paragraph_count
               > policy.max_deleted_fraction}
    if len(live) > policy.max_segments:
        largest = max(live, key=lambda s: s.live_paragraphs)
        chosen |= {s.name for s in live if s is not largest}
    if chosen and not any(_legacy(s) for s in live) and len(chosen) == 1:
        only = next(s for s in live if s.name in chosen)
        if not only.record.deleted:
            return []  # one segment with nothing to drop: merging it would only copy it
    return [s for s in live if s.name in chosen]


def _legacy(segment: Segment) -> bool:
    """A segment of a format 1-2 index: no files of its own (a Milvus segment has none either, but rows)."""
    return segment.record.store == FILES and not segment.record.files



def index_type_for(settings: IndexSettings, vectors: int) -> str:
    return choose_index_type(settings.index_type, vectors, settings.flat_max_vectors, settings.large_index_type)


def _write(directory: Path, rows: Rows, titles: dict[str, str], settings: IndexSettings) -> Segment:
    """A new segment of ``rows``, of the type the settings choose for its size (in Milvus: at ``index.uri``)."""
    index_type = index_type_for(settings, len(rows[1]))
    record = store_for(index_type).write(directory, *rows, titles, index_type, settings.uri, settings.collection)
    return store_of(record).open(directory, record, titles, verify=False)


def update_segments(directory: Path, manifest: Manifest, previous: SegmentedIndex | None, new: Rows, fresh: set[str],
                    settings: IndexSettings, compact: bool = False) -> tuple[list[Segment], bool]:
    """The segments of the next version: the previous ones with tombstones, a new one for ``new``, merges done.

    ``manifest.documents`` holds the next version's documents; ``fresh`` are those read now (their rows
    are ``new``). A previous document that is fresh or gone becomes a tombstone in its old segment.
    Sets each document's ``segment``; returns the live segments and whether any file was written.
    """
    titles = manifest.titles()
    old_documents = previous.manifest.documents if previous is not None else {}
    segments = []
    for segment in previous.segments if previous is not None else []:
        mine = {d for d, doc in old_documents.items() if doc.segment in ("", segment.name)}
        gone = sorted(set(segment.record.deleted) | {d for d in mine if d in fresh or d not in manifest.documents})
        segments.append(segment if gone == segment.record.deleted else
                        segment.with_record(replace(segment.record, deleted=gone), titles))
        for doc_id in mine - set(gone):
            manifest.documents[doc_id] = replace(manifest.documents[doc_id], segment=segment.name)
    written = bool(len(new[1]))
    if written:
        segments.append(_write(directory, new, titles, settings))
        for doc_id in fresh:
            manifest.documents[doc_id] = replace(manifest.documents[doc_id], segment=segments[-1].name)
    merge = plan(segments, CompactionPolicy(settings.max_segments, settings.max_deleted_fraction), compact)
    if merge:
        segments = _merge(directory, manifest, segments, merge, settings)
    return [s for s in segments if s.live_paragraphs > 0], written or bool(merge)


def _merge(directory: Path, manifest: Manifest, segments: list[Segment], chosen: list[Segment],
           settings: IndexSettings) -> list[Segment]:
    """Write the live rows of ``chosen`` as one segment; it takes their place in the list."""
    parts = [live_rows(manifest, segment) for segment in chosen]
    paragraphs = [p for part in parts for p in part[0]]
    chunks = [c for part in parts for c in part[1]]
    vectors = np.vstack([part[2] for part in parts]) if chunks else np.zeros((0, manifest.dim), np.float32)
    log.info("compacting %d segments (%d paragraphs, %d vectors) into one", len(chosen), len(paragraphs), len(chunks))
    merged = _write(directory, (paragraphs, chunks, vectors), manifest.titles(), settings)
    for doc_id in {p.doc_id for p in paragraphs}:
        manifest.documents[doc_id] = replace(manifest.documents[doc_id], segment=merged.name)
    names = {s.name for s in chosen}
    return [s for s in segments if s.name not in names] + [merged]

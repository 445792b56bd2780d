"""Build or update the on-disk index from a folder of reports, re-embedding only what changed.

Example::

    from rag.indexing import update_index
    index, report = update_index(Path("data/reports"), Path("/tmp/idx"), embedder, settings.index)
    print(report.summary())
    update_index(..., change=IndexChange.of(exclude=["old.pdf"]))   # kept out of the index, file untouched
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from embeddings import Embedder
from rag.documents.corpus import SkippedFile, scan_corpus
from rag.documents.limits import ReadLimits
from rag.documents.paragraphs import Chunk, Paragraph, chunk_documents
from rag.documents.readers import Document, file_sha256, load_documents, reader_version
from rag.errors import CorpusNotFound, IndexCorrupt, IndexMismatch, IndexNotFound
from rag.index_changes import IndexChange, Reports, check_change, nothing_left, previous_exclusions
from rag.settings import IndexSettings
from rag.store.compaction import update_segments
from rag.store.factory import store_for
from rag.store.index import SegmentedIndex
from rag.store.integrity import newest_version, read_pointer, salvage_vectors
from rag.store.manifest import FORMAT_VERSION, IndexedDocument, Manifest
from rag.store.versions import check_writable, index_lock, publish, remove_stale

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    directory: Path
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # in the folder, kept out of the index (rag.index_changes)
    paragraphs: int = 0
    chunks: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0
    rebuilt_because: str | None = None
    segments: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{len(self.removed)} removed, {len(self.skipped)} skipped"
                f"{f', {len(self.excluded)} excluded' if self.excluded else ''}; {self.paragraphs} paragraphs, "
                f"{self.chunks} chunks ({self.embedded_chunks} embedded), {self.segments} segment"
                f"{'s' * (self.segments != 1)}, in {self.seconds:.1f}s -> {self.directory}")


def _chunking(settings: IndexSettings) -> str:
    return f"overlap={settings.chunk_overlap_sentences},windows={settings.window_sentences}"


@dataclass
class Previous:
    """What an update starts from: the index to extend (if usable), why not, and vectors a repair may reuse."""

    index: SegmentedIndex | None = None
    rebuilt_because: str | None = None
    salvaged: dict[str, np.ndarray] = field(default_factory=dict)
    retype: bool = False  # the index type setting changed: the vectors hold, every segment's FAISS is rebuilt


def _previous(index_dir: Path, corpus_root: str, embedder: Embedder, settings: IndexSettings, force: bool) -> Previous:
    """The existing index if its vectors can be reused; a damaged one is repaired, a foreign folder needs ``force``."""
    try:
        pointer = read_pointer(index_dir)
    except IndexNotFound:
        return Previous()
    except IndexCorrupt as exc:  # files but no valid CURRENT: never overwritten unless asked
        if not force:
            raise
        newest = newest_version(index_dir)
        return Previous(None, str(exc), salvage_vectors(newest, embedder.name, embedder.dim) if newest else {})
    try:
        previous = SegmentedIndex.load(index_dir, verify=True)
        previous.check_embedder(embedder.name, embedder.dim)
    except IndexMismatch as exc:
        return Previous(None, str(exc))
    except IndexCorrupt as exc:
        return Previous(None, str(exc), salvage_vectors(index_dir / pointer.version, embedder.name, embedder.dim))
    for what, old, new in (("corpus", previous.manifest.corpus_root, corpus_root),
                           ("chunking", previous.manifest.chunking, _chunking(settings))):
        if old != new:
            return Previous(None, f"{what} changed from {old} to {new}")
    return Previous(previous, retype=previous.manifest.index_type != settings.index_type
                    or _moved(previous, settings, index_dir))


def _moved(previous: SegmentedIndex, settings: IndexSettings, index_dir: Path) -> bool:
    """Database segments (Milvus) stored elsewhere than ``index.uri`` / ``index.collection`` now say: all are
    rewritten there."""
    store = store_for(settings.index_type)
    where = store.location(index_dir, settings)
    return any((s.record.uri, s.record.collection) != where for s in previous.segments if s.record.store == store.name)


def update_index(corpus_dir: Path, index_dir: Path, embedder: Embedder, settings: IndexSettings,
                 progress: bool = False, force: bool = False, compact: bool = False,
                 change: IndexChange | None = None) -> tuple[SegmentedIndex, IndexReport]:
    """Bring the index at ``index_dir`` in line with ``corpus_dir``; writes only when something changed.

    ``settings`` is the ``index`` section; its own corpus and index folders are not read (the
    caller passes the folders, e.g. an upload workspace or a test's temporary copy).

    A damaged index is repaired, re-embedding only what cannot be verified. A folder that holds
    files but no valid index is refused unless ``force``. ``compact`` merges all segments into one.
    ``change`` excludes, brings back or re-reads named reports (``rag.index_changes``), in the same version.
    """
    corpus_dir = corpus_dir.expanduser().resolve()
    if not corpus_dir.is_dir():
        raise CorpusNotFound(f"corpus folder not found: {corpus_dir}")
    check_writable(index_dir, force)  # a refused folder gets no lock file either
    with index_lock(index_dir):
        return _update(corpus_dir, index_dir, embedder, settings, progress, force, compact, change or IndexChange())


RACY_NS = 2_000_000_000  # a file modified this close to its reading may change again within the same mtime


def _unchanged(path: Path, known: IndexedDocument | None, max_bytes: int) -> bool:
    """Same bytes, read by the same reader: a PDF indexed before pages were known is read again.

    As git does, a file whose size and mtime are those recorded is not hashed again: an archive
    of thousands of reports is scanned in a second, not hashed in minutes.
    """
    if known is None or known.reader != reader_version(known.doc_id):
        return False
    try:
        stat = path.stat()
        if known.mtime_ns and (stat.st_size, stat.st_mtime_ns) == (known.bytes, known.mtime_ns):
            return True
        return stat.st_size <= max_bytes and file_sha256(path) == known.sha256
    except OSError:  # unreadable now: load_documents says why, once
        return False


def _stat(path: Path) -> tuple[int, int]:
    """(size, mtime) to trust next time, or (size, 0) when the file changed too recently to trust its mtime."""
    try:
        stat = path.stat()
    except OSError:
        return 0, 0
    return stat.st_size, stat.st_mtime_ns if time.time_ns() - stat.st_mtime_ns > RACY_NS else 0


def _embed(chunks: list[Chunk], embedder: Embedder, salvaged: dict[str, np.ndarray], progress: bool) -> np.ndarray:
    """Vectors for ``chunks``: verified ones from a damaged version, the rest embedded now."""
    missing = list(dict.fromkeys(c.embed_text for c in chunks if c.embed_text not in salvaged))
    if salvaged:
        log.info("repair: reusing %d verified vectors, embedding %d chunks", len(chunks) - len(missing), len(missing))
    vectors = {**salvaged, **(dict(zip(missing, embedder.encode(missing, progress=progress))) if missing else {})}
    if not chunks:
        return np.zeros((0, embedder.dim), np.float32)
    return np.vstack([vectors[c.embed_text] for c in chunks]).astype(np.float32)


def _update(corpus_dir: Path, index_dir: Path, embedder: Embedder, settings: IndexSettings,
            progress: bool, force: bool, compact: bool, change: IndexChange) -> tuple[SegmentedIndex, IndexReport]:
    started = time.perf_counter()
    report = IndexReport(directory=index_dir)
    start = _previous(index_dir, str(corpus_dir), embedder, settings, force)
    previous, report.rebuilt_because = start.index, start.rebuilt_because
    if report.rebuilt_because:
        log.warning("rebuilding the whole index: %s", report.rebuilt_because)
    known = previous.manifest.documents if previous else {}

    scan = scan_corpus(corpus_dir, settings.extensions, settings.follow_symlinks)
    found = {path.relative_to(corpus_dir).as_posix(): path for path in scan.files}
    reports = Reports(corpus_dir, index_dir, frozenset(known), frozenset(found),
                      frozenset(previous_exclusions(index_dir, str(corpus_dir))))
    check_change(change, reports)
    excluded = change.excluded(reports.excluded)
    report.excluded = sorted(excluded)
    to_read: list[Path] = []
    for doc_id, path in found.items():
        if doc_id in excluded:
            continue  # its file stays; its paragraphs leave the index (removed) or never enter it
        if doc_id not in change.reread and _unchanged(path, known.get(doc_id), settings.max_file_bytes):
            report.unchanged.append(doc_id)
        else:
            to_read.append(path)

    documents, unreadable = load_documents(corpus_dir, to_read, settings.max_file_bytes, settings.follow_symlinks,
                                           ReadLimits.of(settings))
    report.skipped = scan.skipped + unreadable
    report.updated = [d.doc_id for d in documents if d.doc_id in known]
    report.added = [d.doc_id for d in documents if d.doc_id not in known]
    current = set(report.unchanged) | {d.doc_id for d in documents}
    report.removed = sorted(set(known) - current)
    if not current:
        raise CorpusNotFound(nothing_left(reports, settings.extensions, excluded & set(found)))

    new_paragraphs, new_chunks = chunk_documents(
        documents, embedder.count_tokens, embedder.max_tokens, settings.chunk_overlap_sentences,
        settings.window_sentences)
    new_vectors = _embed(new_chunks, embedder, start.salvaged, progress)
    report.embedded_chunks = len({c.embed_text for c in new_chunks} - set(start.salvaged))

    manifest = _next_manifest(previous, embedder, settings, str(corpus_dir), documents, new_paragraphs, report)
    manifest.excluded = report.excluded
    segments, written = update_segments(index_dir, manifest, previous, (new_paragraphs, new_chunks, new_vectors),
                                        {d.doc_id for d in documents}, settings, compact or start.retype)
    if previous is not None and not report.changed and not written and excluded == reports.excluded \
            and previous.manifest.format_version == FORMAT_VERSION:
        index = previous  # nothing to write; what a killed writer left (a temporary folder, the replaced version)
        remove_stale(index_dir, {s.name for s in index.segments})  # goes all the same, under the lock
    else:
        manifest.segments = [segment.record for segment in segments]
        publish(index_dir, manifest, previous.manifest.segments if previous is not None else None)
        index = SegmentedIndex.load(index_dir, reuse=previous)
    report.paragraphs, report.chunks, report.segments = index.paragraph_count, len(index), len(index.segments)
    report.seconds = time.perf_counter() - started
    log.info("index: %s", report.summary())
    return index, report


def _next_manifest(previous: SegmentedIndex | None, embedder: Embedder, settings: IndexSettings, corpus_root: str,
                   documents: list[Document], new_paragraphs: list[Paragraph], report: IndexReport) -> Manifest:
    """The previous documents minus the updated and removed ones, plus the ones read now (segment set later)."""
    manifest = Manifest(embedder.name, embedder.dim, settings.index_type, corpus_root, _chunking(settings))
    if previous is not None:
        gone = set(report.removed) | set(report.updated)
        manifest.documents = {d: doc for d, doc in previous.manifest.documents.items() if d not in gone}
        for doc_id, doc in manifest.documents.items():  # verified by hash this time: trust the stat next time
            if not doc.mtime_ns:
                size, mtime_ns = _stat(Path(corpus_root) / doc_id)
                manifest.documents[doc_id] = replace(doc, bytes=size, mtime_ns=mtime_ns)
    counts = Counter(p.doc_id for p in new_paragraphs)
    for document in documents:
        size, mtime_ns = _stat(Path(corpus_root) / document.doc_id)
        manifest.documents[document.doc_id] = IndexedDocument(
            document.doc_id, document.title, document.date, document.sha256, counts[document.doc_id],
            reader_version(document.doc_id), bytes=size, mtime_ns=mtime_ns,
            pages=max((page for _, page in document.pages), default=0))
    manifest.documents = dict(sorted(manifest.documents.items()))
    return manifest

"""The heavy parts one process answers with: the embedder, the index and the LLM, and who may write the index.

They load lazily, once per process and under one lock, because each costs seconds to minutes
(a model load, an index read, a GGUF assembly) and the UI serves many users from one process.
Reading ``index`` only opens an index; writing is explicit: ``reindex`` (under the lock),
``reindex_aside`` and ``background_indexer`` (outside it, for uploads) and ``ensure_index`` (the
bundled sample on its first run). ``check_index_target`` says where an update may create an index.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from embeddings import Embedder
from rag.answer.prompt import warm_up_messages
from rag.background import BackgroundIndexer
from rag.index_changes import IndexChange, current_reports
from rag.indexing import IndexReport, update_index
from rag.llm import LLM, LLMChoice, make_llm
from rag.settings import Settings, is_bundled
from rag.store.index import SegmentedIndex
from rag.store.integrity import is_empty, read_pointer

log = logging.getLogger(__name__)


class Resources:
    def __init__(self, settings: Settings | None = None, progress: bool = False, *,
                 embedder: Embedder | None = None, llm: LLM | None = None) -> None:
        """``embedder`` and ``llm`` replace the configured ones (a test's fakes, or an LLM built elsewhere)."""
        self.settings = settings or Settings()
        self.progress = progress  # show progress bars for indexing and model assembly
        self._lock = threading.RLock()
        self._embedder: Embedder | None = embedder
        self._index: SegmentedIndex | None = None
        self._llm: LLMChoice | None = LLMChoice(llm, "given to the pipeline") if llm is not None else None
        self._indexers: dict[Path, BackgroundIndexer] = {}  # one worker per folder: the UI's and a watcher's

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = self.settings.make_embedder()
            return self._embedder

    @property
    def index(self) -> SegmentedIndex:
        """The index, opened read-only: a missing or damaged one is a one-line error, never built or rebuilt
        (a read must not write behind the user's back; ``ensure_index`` is the one exception, made explicitly)."""
        with self._lock:
            if self._index is None:
                self.adopt(SegmentedIndex.load(self.settings.resolved_index_dir(), checksums=True))
            assert self._index is not None
            return self._index

    def ensure_index(self) -> SegmentedIndex:
        """The index, built first on the first run of the bundled sample in the default location, so that a
        fresh checkout answers at once; any other missing index is the one-line error of ``index``."""
        with self._lock:
            if self._index is None and self.settings.is_first_run_default() \
                    and is_empty(self.settings.resolved_index_dir()):
                log.info("first run: indexing the bundled sample reports")
                self.reindex()
            return self.index

    @property
    def llm(self) -> LLMChoice:
        with self._lock:
            if self._llm is None:
                self._llm = make_llm(self.settings.llm, self.progress, warm_up_messages(self.settings.prompts,
                                                                                      self.settings.citations.mode))
            return self._llm

    def reindex(self, corpus_dir: Path | None = None, force: bool = False, compact: bool = False,
                change: IndexChange | None = None) -> IndexReport:
        """Update the index from ``corpus_dir`` (default: the configured corpus) and use the result;
        ``force`` builds into a folder that holds files but no valid index, ``compact`` merges its
        segments into one, ``change`` excludes, brings back or re-reads named reports (see ``update_index``).
        Questions wait meanwhile: they take the same lock."""
        with self._lock:
            index, report = update_index(corpus_dir or self.settings.resolved_corpus_dir(),
                                         self.settings.resolved_index_dir(), self.embedder, self.settings.index,
                                         progress=self.progress, force=force, compact=compact, change=change)
            self.adopt(index)
            return report

    def reindex_aside(self, corpus_dir: Path, embedder: Embedder, change: IndexChange | None = None) -> IndexReport:
        """``reindex`` without holding the lock while embedding, then switch to the result (the lock is held
        for a moment): questions are answered from the current index meanwhile, where a 10 MB upload is
        minutes of embedding on a small CPU. ``embedder`` must not be ``self.embedder``: one model's tokenizer
        must not serve two threads at once (Hugging Face tokenizers fail with "Already borrowed"). Two
        writers are kept apart by the index's own file lock (``update_index``)."""
        index, report = update_index(corpus_dir, self.settings.resolved_index_dir(), embedder, self.settings.index,
                                     change=change)
        self.adopt(index)  # the index just saved: no second scan, hash or checksum pass
        return report

    def background_indexer(self, corpus_dir: Path, make: Callable[[], Embedder] | None = None) -> BackgroundIndexer:
        """A worker that runs ``reindex_aside(corpus_dir, ...)`` on request, with an embedder from ``make``
        (default: a second copy of the configured one, loaded in the worker on its first run). Without
        ``make`` there is one per folder: the page's uploads and a folder watcher share it (and its model)."""
        key = corpus_dir.expanduser().resolve()
        with self._lock:
            if make is None and key in self._indexers:
                return self._indexers[key]
            indexer = BackgroundIndexer(lambda embedder, change: self.reindex_aside(corpus_dir, embedder, change),
                                        make or self.settings.make_embedder,
                                        lambda: current_reports(corpus_dir, self.settings.resolved_index_dir(),
                                                                self.settings.index))
            if make is None:
                self._indexers[key] = indexer
            return indexer

    def adopt(self, index: SegmentedIndex) -> None:
        """Answer from ``index`` (one this process opened, or another writer has just saved here)."""
        index.check_embedder(self.embedder.name, self.embedder.dim)
        index.efsearch, index.nprobe = self.settings.index.hnsw_ef_search, self.settings.index.ivf_nprobe
        with self._lock:
            self._index = index


def check_index_target(settings: Settings) -> None:
    """An update (``rag serve``) builds a new index only for a corpus the user named, or for the bundled sample in
    the default location. A mistyped ``--index-dir`` is one line, and nothing is created anywhere."""
    index_dir = settings.resolved_index_dir()
    if SegmentedIndex.exists(index_dir) or settings.is_first_run_default() \
            or not is_bundled(settings.resolved_corpus_dir()):
        return
    read_pointer(index_dir)  # IndexNotFound: "no index at X; build one with ..."; IndexCorrupt: damaged, with the fix

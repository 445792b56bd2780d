"""The heavy parts one process answers with: the embedder, the index and the LLM.

They load lazily, once per process and under one lock, because each costs seconds to minutes
(a model load, an index read, a GGUF assembly) and the UI serves many users from one process.
Reads only open an index; ``reindex`` is the one writer (see ``rag.indexing``).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from embeddings import Embedder
from rag.answer.prompt import warm_up_messages
from rag.indexing import IndexReport, update_index
from rag.llm import LLM, LLMChoice, make_llm
from rag.settings import Settings
from rag.store.index import FaissIndex
from rag.store.integrity import is_empty

log = logging.getLogger(__name__)


class Resources:
    def __init__(self, settings: Settings | None = None, progress: bool = False, *,
                 embedder: Embedder | None = None, llm: LLM | None = None) -> None:
        """``embedder`` and ``llm`` replace the configured ones (a test's fakes, or an LLM built elsewhere)."""
        self.settings = settings or Settings()
        self.progress = progress  # show progress bars for indexing and model assembly
        self._lock = threading.RLock()
        self._embedder: Embedder | None = embedder
        self._index: FaissIndex | None = None
        self._llm: LLMChoice | None = LLMChoice(llm, "given to the pipeline") if llm is not None else None

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = self.settings.make_embedder()
            return self._embedder

    @property
    def index(self) -> FaissIndex:
        """The index, opened read-only: a missing or damaged one is a one-line error, never rebuilt
        (except on the first run of the bundled sample in the default location)."""
        with self._lock:
            if self._index is None:
                if self.settings.is_first_run_default() and is_empty(self.settings.resolved_index_dir()):
                    log.info("first run: indexing the bundled sample reports")
                    self.reindex()
                else:
                    self.adopt(FaissIndex.load(self.settings.resolved_index_dir(), checksums=True))
            assert self._index is not None
            return self._index

    @property
    def llm(self) -> LLMChoice:
        with self._lock:
            if self._llm is None:
                self._llm = make_llm(self.settings.llm, self.progress, warm_up_messages(self.settings.prompts,
                                                                                      self.settings.citations.mode))
            return self._llm

    def reindex(self, corpus_dir: Path | None = None, force: bool = False, compact: bool = False) -> IndexReport:
        """Update the index from ``corpus_dir`` (default: the configured corpus) and use the result;
        ``force`` builds into a folder that holds files but no valid index, ``compact`` merges its
        segments into one (see ``update_index``)."""
        with self._lock:
            index, report = update_index(corpus_dir or self.settings.resolved_corpus_dir(),
                                         self.settings.resolved_index_dir(), self.embedder,
                                         self.settings.index, progress=self.progress, force=force, compact=compact)
            self.adopt(index)
            return report

    def adopt(self, index: FaissIndex) -> None:
        """Answer from ``index`` (one this process opened, or another writer has just saved here)."""
        index.check_embedder(self.embedder.name, self.embedder.dim)
        index.efsearch, index.nprobe = self.settings.index.hnsw_ef_search, self.settings.index.ivf_nprobe
        with self._lock:
            self._index = index

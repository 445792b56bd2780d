"""Indexing in a worker thread, so that a large upload holds up neither the page nor the questions.

The update itself is ``Resources.reindex_aside`` (outside the lock questions take, on an embedder of its
own); this module only queues the requests, runs them one at a time and keeps a status to poll.
``Resources.background_indexer`` builds one.

Example::

    indexer = pipeline.resources.background_indexer(corpus_dir)
    ticket = indexer.submit()            # after saving files into corpus_dir; returns at once
    indexer.status().finished >= ticket  # True once those files are searchable
    indexer.submit(IndexChange.of(exclude=["old.md"]))   # a change to named reports, queued the same way

A change is checked on its own when it is submitted (a bad name fails that request, in one line, and nothing
else); a run that fails keeps its change for the next run, once (``BackgroundIndexer``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from embeddings import Embedder, EmbedderUnavailable
from rag.errors import RagError, UnknownReport, one_line
from rag.index_changes import IndexChange, Reports, queue_change
from rag.indexing import IndexReport

log = logging.getLogger(__name__)

STEP = 256  # passages embedded between two progress reports


@dataclass(frozen=True)
class IndexingStatus:
    """A snapshot for the page: what the worker is doing and what the last run did."""

    running: bool = False
    embedded: int = 0  # passages embedded so far in the current run
    total: int = 0  # passages the current run embeds (0: still reading and splitting the files)
    seconds: float = 0.0  # since the current run started
    finished: int = 0  # the last ticket whose files are indexed (or whose indexing failed)
    report: IndexReport | None = None  # the last finished run
    error: str | None = None  # why the last finished run failed


class _Counting:
    """An embedder that reports how many passages it has embedded (``update_index`` takes any Embedder)."""

    def __init__(self, inner: Embedder, report: Callable[[int, int], None]) -> None:
        self.inner, self.report = inner, report

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        texts = list(texts)
        parts = [np.zeros((0, self.dim), dtype=np.float32)]
        self.report(0, len(texts))
        for start in range(0, len(texts), STEP):
            parts.append(self.inner.encode(texts[start:start + STEP]))
            self.report(min(start + STEP, len(texts)), len(texts))
        return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)


class BackgroundIndexer:
    """One worker thread that runs ``update`` (with an embedder from ``make``) whenever files were added,
    removed or changed, or a report was excluded or named for re-reading (the change is passed on).

    ``make`` is called once, in the worker, so a slow model load does not hold up the caller either.
    Requests made while it works are merged into its next run, each checked first against ``reports()`` (the
    index and folder as they are: ``rag.index_changes.current_reports``), so one bad name cannot sink the
    others. When a run fails for any other reason (the model did not load, the disk is full), its change
    waits for the next run, which a later request starts; failing again there, it is dropped (the status
    says why), so a change that cannot succeed never holds up every request after it.
    """

    def __init__(self, update: Callable[[Embedder, IndexChange], IndexReport], make: Callable[[], Embedder],
                 reports: Callable[[], Reports] | None = None) -> None:
        self._update, self._make, self._reports = update, make, reports
        self._embedder: Embedder | None = None
        self._change = IndexChange()  # what the next run does besides following the folder
        self._running = IndexChange()  # what the current run does
        self._kept = False  # self._change holds the change of a failed run (kept once, never twice)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wanted = 0
        self._status = IndexingStatus()
        self._started = 0.0

    def submit(self, change: IndexChange | None = None) -> int:
        """Index what is in the corpus folder now, with ``change``; returns a ticket to compare with
        ``status().finished``. A name ``change`` cannot act on is one ``UnknownReport`` line, and nothing is queued.
        """
        with self._lock:  # held while the index and folder are read: they and the running change must agree
            if change and self._reports:
                self._change = queue_change(self._running, self._change, change, self._reports())
            elif change:
                self._change = self._change.then(change)
            self._wanted += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="upload-indexer", daemon=True)
                self._thread.start()
            return self._wanted

    def status(self) -> IndexingStatus:
        with self._lock:
            status = self._status
        return status if not status.running else replace(status, seconds=time.monotonic() - self._started)

    def _progress(self, embedded: int, total: int) -> None:
        with self._lock:
            self._status = replace(self._status, embedded=embedded, total=total)

    def _work(self) -> None:
        while True:
            with self._lock:
                if self._status.finished >= self._wanted:
                    self._thread = None
                    return
                target, self._started = self._wanted, time.monotonic()
                change, self._change, self._running = self._change, IndexChange(), self._change
                self._status = replace(self._status, running=True, embedded=0, total=0)
            report, error, retry = self._index(change)
            with self._lock:
                self._running = IndexChange()
                if error and change and retry and not self._kept:  # no new run here: a later request starts one
                    self._change, self._kept = change.then(self._change), True
                    error += " (the change is kept for the next update)"
                else:
                    self._kept = False
                self._status = replace(self._status, running=False, finished=target, report=report, error=error)

    def _index(self, change: IndexChange) -> tuple[IndexReport | None, str | None, bool]:
        """The run's report, or why it failed and whether running its change again could help."""
        try:
            if self._embedder is None:
                self._embedder = self._make()
            report = self._update(_Counting(self._embedder, self._progress), change)
            log.info("background indexing: %s", report.summary())
            return report, None, False
        except UnknownReport as exc:  # a name gone since it was checked: the same change would fail again
            return None, one_line(exc), False
        except (RagError, EmbedderUnavailable) as exc:
            return None, one_line(exc), True
        except Exception as exc:  # the worker must report, never die silently
            log.exception("indexing the uploads failed")
            return None, f"unexpected {type(exc).__name__}: {one_line(exc)}", True

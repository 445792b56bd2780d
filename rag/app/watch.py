"""Keep the index following a folder: ``rag index --watch`` in the foreground, ``rag serve --watch`` in a thread.

``watchfiles`` reports the folder's changes in batches: a batch ends once the folder has been quiet for
``index.watch_debounce_ms``. Each batch runs the normal incremental update, which ends in a new atomic
index version: Ctrl-C or a crash in the middle of one leaves the previous version live, never half of one.

Example::

    from rag.app.watch import follow, start_watcher
    follow(pipeline, Path("~/reports").expanduser(), print)          # blocks until Ctrl-C
    stop = start_watcher(folder, settings.index, indexer.submit)      # the server's thread; stop.set() ends it
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from rag.errors import RagError, literal, one_line
from rag.index_changes import IndexChange
from rag.indexing import IndexReport
from rag.pipeline import Pipeline
from rag.settings import IndexSettings

log = logging.getLogger(__name__)

# The longest one batch may grow while the folder keeps changing: a folder that never stops changing (a
# long copy) is still indexed every half minute, the new files in it searchable as they arrive.
MAX_BATCH_MS = 30_000


Indexed = Callable[[], Iterable[str]]  # the names (doc ids) of the reports indexed now


def _relevant(root: Path, extensions: Iterable[str], indexed: Indexed = tuple) -> Callable[[object, str], bool]:
    """watchfiles' filter: a report's file (by extension), or a folder (moving one moves its reports); never a
    hidden name (uploads being staged, the upload record, editors' swap files). A path that is gone can no
    longer say whether it was a folder: it counts without a suffix, or when ``indexed`` reports lie under it
    (a folder named ``2019.q1``); a gone file of another type (``notes.xlsx``) does not."""
    wanted = {ext.lower() for ext in extensions}

    def relevant(_change: object, path: str) -> bool:
        try:
            parts = Path(path).relative_to(root).parts
        except ValueError:
            return False
        if not parts or any(part.startswith(".") for part in parts):
            return False
        suffix = Path(path).suffix.lower()
        if suffix in wanted or Path(path).is_dir():
            return True
        if Path(path).exists():
            return False
        under = "/".join(parts) + "/"
        return not suffix or any(doc_id.startswith(under) for doc_id in indexed())
    return relevant


def batches(folder: Path, settings: IndexSettings, stop: threading.Event | None = None,
            indexed: Indexed = tuple) -> Iterator[set[str]]:
    """Each batch of changed report paths (relative to ``folder``) until ``stop`` is set or Ctrl-C is pressed;
    ``indexed`` tells a removed folder from a removed file of another type."""
    from watchfiles import watch  # only the watching commands load it

    root = folder.expanduser().resolve()
    for changes in watch(root, watch_filter=_relevant(root, settings.extensions, indexed),
                         step=settings.watch_debounce_ms,
                         debounce=max(MAX_BATCH_MS, settings.watch_debounce_ms), stop_event=stop,
                         raise_interrupt=True, recursive=True):
        yield {Path(path).relative_to(root).as_posix() for _, path in changes}


def changes_line(report: IndexReport) -> str:
    """What one update changed, by name, in one line: ``added a.md; removed b.pdf``."""
    parts = [f"{what} {', '.join(literal(n, lines=False) for n in names)}" for what, names in
             (("added", report.added), ("updated", report.updated), ("removed", report.removed),
              ("skipped", [s.doc_id for s in report.skipped])) if names]
    return "; ".join(parts) or "no report changed"


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def follow(pipeline: Pipeline, folder: Path, say: Callable[[str], None], change: IndexChange | None = None,
           complain: Callable[[str], None] | None = None, force: bool = False, compact: bool = False) -> None:
    """Index ``folder`` now (with ``change``, ``force`` and ``compact``: see ``Pipeline.reindex``), then again
    after each batch of changes, saying what changed, until Ctrl-C (or SIGTERM: ``docker stop``, systemd). An
    update that fails (say, every report was removed) is one ``error:`` line to ``complain`` (default: ``say``),
    and watching goes on.
    """
    report = pipeline.reindex(folder, force=force, compact=compact, change=change)
    say(report.summary())
    say(f"watching {folder} for changes (Ctrl-C stops)")
    main = threading.current_thread() is threading.main_thread()  # only the main thread may set a handler
    previous = signal.signal(signal.SIGTERM, _stop) if main else None
    try:
        for _changed in batches(folder, pipeline.settings.index, indexed=lambda: pipeline.index.manifest.documents):
            try:
                report = pipeline.reindex(folder)
            except RagError as exc:
                (complain or say)(f"error: {one_line(exc)}")
                continue
            say(f"{changes_line(report)}: {report.paragraphs} paragraphs in {report.seconds:.1f}s")
    except KeyboardInterrupt:
        pass
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
    say("stopped watching; the index is at its last complete version")


def start_watcher(folder: Path, settings: IndexSettings, submit: Callable[[], object],
                  indexed: Indexed = tuple) -> threading.Event:
    """Watch ``folder`` in a daemon thread, calling ``submit`` (a ``BackgroundIndexer``'s) after each batch;
    returns the event that stops it. ``indexed``: the reports indexed now (see ``batches``)."""
    stop = threading.Event()

    def run() -> None:
        try:
            for changed in batches(folder, settings, stop, indexed):
                log.info("changes in %s (%d paths): indexing them", folder, len(changed))
                submit()
        except Exception:  # the server goes on without following the folder, and says so
            log.exception("watching %s stopped", folder)

    threading.Thread(target=run, name="corpus-watcher", daemon=True).start()
    return stop

"""What the page shows of an upload while it is indexed in the background, and once it is done.

The indexing itself, its worker thread and its locking are the core's (``rag.background``, started by
``Resources.background_indexer``); this module only turns its status into the upload's messages.

Example::

    pending = {"ticket": indexer.submit(), "saved": saved, "rejected": rejected}
    html, done = upload_progress(indexer.status(), pending)   # polled until done
"""

from __future__ import annotations

from typing import Any

from rag.background import IndexingStatus
from ui import render

Pending = dict[str, Any]  # an upload being indexed: {"ticket": int, "saved": [SavedUpload], "rejected": [str]}


def upload_progress(status: IndexingStatus, pending: Pending) -> tuple[str, bool]:
    """The upload's report with the indexing's progress line, or its outcome; and whether it is done
    (indexed, or failed: a failure is named on the page, never left as a spinner)."""
    saved, rejected = pending["saved"], pending["rejected"]
    if status.finished < pending["ticket"]:
        return (render.upload_report_html(saved, rejected, None, indexed=False)
                + render.indexing_html(status.embedded, status.total, status.seconds)), False
    failed = [f"indexing failed: {status.error}"] if status.error else []
    return render.upload_report_html(saved, rejected + failed, status.report, indexed=not failed), True

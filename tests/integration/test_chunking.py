"""Chunking: unchanged output for existing reports, with the real embedder's tokenizer. That the work stays linear
in the text: tests/unit/test_chunking.py."""

from __future__ import annotations

import hashlib
import json

import pytest

from embeddings import Embedder
from rag.documents.paragraphs import chunk_documents
from rag.documents.readers import list_files, load_documents
from rag.settings import BUNDLED_CORPUS

# sha256 (first 16 hex) of the chunks the chunker gave before its window search (commit f12b77d), as
# bench/chunk_identity.py prints them: existing indexes keep these chunks, so they must not change.
BUNDLED_DIGESTS = {
    (None, 1, 2): "cfe30e8e02860b3a",  # the embedder's window, default overlap and sentence windows
    (24, 2, 1): "cd398b324ee17885",  # small windows: sentence and word packing
    (16, 1, 2): "7c1a28348d1e792b",
}


@pytest.mark.parametrize(("max_tokens", "overlap", "window"), list(BUNDLED_DIGESTS))
def test_bundled_reports_keep_their_chunks(embedder: Embedder, max_tokens: int | None, overlap: int,
                                           window: int) -> None:
    documents, _ = load_documents(BUNDLED_CORPUS, list_files(BUNDLED_CORPUS, (".txt",)))
    _, chunks = chunk_documents(documents, embedder.count_tokens, max_tokens or embedder.max_tokens, overlap, window)
    rows = [[c.doc_id, c.paragraph, c.start, c.end, c.embed_text] for c in chunks]
    digest = hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()[:16]
    assert digest == BUNDLED_DIGESTS[(max_tokens, overlap, window)]

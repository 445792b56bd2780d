"""Stage 3b: the BM25 keyword index over paragraphs (bm25s), saved beside the vectors.

Building it is Python work over every paragraph: about 2 s at 100k paragraphs, which
every new process paid before each first search (``rag search``, ``rag ask``). So the
indexer saves the model into each index version, covered by its checksums, and
``FaissIndex.load`` hands it back (``bm25``); an index without one builds it as before.
Measured by bench/search_scale.py: 1.6 s to build against 2 ms to load at 100k.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rag.ingest.index import FaissIndex
from rag.types import ParagraphKey

Key = ParagraphKey


class KeywordIndex:
    """BM25 (bm25s) over title + paragraph text, built when an index is opened unless the index brings one.

    Building is Python work over every paragraph, paid by each new process (every ``rag search``):
    about 2 s at 100k paragraphs, against 2 ms to read a saved model back (bench/search_scale.py).
    An index that sets ``bm25`` to the model ``save`` wrote for it skips the build.
    """

    def __init__(self, index: FaissIndex) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG
        self._bm25s = bm25s
        self.keys: list[Key] = [p.key for p in index.paragraphs]
        saved = getattr(index, "bm25", None)
        if saved is not None and saved.scores.get("num_docs") == len(self.keys):
            self.model = saved
            return
        texts = [f"{index.document(p.doc_id).title}\n{p.text}" for p in index.paragraphs]
        self.model = bm25s.BM25()
        self.model.index(self._tokenize(texts), show_progress=False)

    def save(self, directory: Path) -> None:
        """Write the model's files into ``directory``; ``bm25s.BM25.load(directory)`` reads them back."""
        self.model.save(str(directory))

    def _tokenize(self, texts: list[str]):
        return self._bm25s.tokenize(texts, stopwords="en", show_progress=False)

    def search(self, question: str, limit: int) -> list[Key]:
        tokens = self._tokenize([question])
        if not self.keys or not tokens.vocab:
            return []
        rows, scores = self.model.retrieve(tokens, k=min(limit, len(self.keys)), show_progress=False)
        return [self.keys[r] for r, s in zip(rows[0], scores[0]) if s > 0]

"""What retrieval may ask of an index, whatever holds its rows: search, read records, check the embedder.

``rag.store.index.SegmentedIndex`` implements it over the segments of any backend (``rag.store.factory``);
a test can pass anything with these methods.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from rag.documents.paragraphs import Chunk, Paragraph
from rag.store.manifest import IndexedDocument
from rag.types import ParagraphKey, Scope


class IndexStore(Protocol):
    """What retrieval and answers ask of an index, whatever its backend (``rag.store.index.SegmentedIndex``)."""

    def __len__(self) -> int: ...

    @property
    def paragraph_count(self) -> int: ...

    def paragraph(self, doc_id: str, number: int) -> Paragraph: ...

    def document(self, doc_id: str) -> IndexedDocument: ...

    def resolve(self, scope: Scope | None) -> frozenset[str] | None:
        """The doc_ids inside ``scope`` (None: no limit), from the index's documents; ``NoMatchingReport`` when none."""
        ...

    def search(self, query: np.ndarray, limit: int, allowed: frozenset[str] | None = None
               ) -> list[tuple[Chunk, float]]:
        """Nearest chunks, best first; ``allowed`` (from ``resolve``) limits the search itself to those documents."""
        ...

    def keyword_search(self, question: str, limit: int, allowed: frozenset[str] | None = None
                       ) -> list[ParagraphKey]: ...

    def best_chunk(self, key: ParagraphKey, vector: np.ndarray,
                   paragraph: Paragraph | None = None) -> tuple[float, tuple[int, int]]: ...

    def check_embedder(self, name: str, dim: int) -> None: ...


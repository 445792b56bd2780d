"""The embedder double: words, not a model, so the fast tier's retrieval is instant and deterministic.

Imported from ``tests.fakes`` with the LLM double.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Sequence

import numpy as np

from rag.text import WORD, search_stop_words


class FakeEmbedder:
    """A bag of lower-cased content words, each reduced to its word family, hashed into ``dim`` signed buckets.

    Cosine similarity is then (up to rare collisions) the overlap of word families, which is what
    retrieval over short reports needs to find the obvious paragraph ("seize" meets "seizures"); it
    knows no synonyms, so paraphrases and other languages are not matched.
    Like a real model it counts tokens (words plus two special tokens) and silently truncates
    a text longer than ``max_tokens``.
    """

    def __init__(self, dim: int = 512, max_tokens: int = 256) -> None:
        import Stemmer  # PyStemmer, a dependency of the project (rag.answer.abstention)

        self._dim = dim
        self._max_tokens = max_tokens
        self._stemmer = Stemmer.Stemmer("english")
        self._stop = search_stop_words()  # the list the prompt's excerpting already uses

    @property
    def name(self) -> str:
        """Stable, and different from every real model, so a fake index is never mistaken for a real one."""
        return f"fake-hashed-words-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """Words, plus the two special tokens a sentence-transformers model adds."""
        return len(WORD.findall(text)) + 2

    def _feature(self, word: str) -> str:
        """A word family: the Snowball stem cut to 4 letters ("seize" and "seizures" both give "seiz")."""
        return word if word.isdigit() else self._stemmer.stemWord(word)[:4]

    def _features(self, text: str) -> Counter[str]:
        words = [w.lower() for w in WORD.findall(text)][: self._max_tokens - 2]
        return Counter(self._feature(w) for w in words if w not in self._stop)

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self._dim, dtype=np.float32)
        features = self._features(text) or Counter({"": 1})  # no content word: one fixed direction, still unit length
        for feature, count in features.items():
            digest = zlib.crc32(feature.encode("utf-8"))
            vector[digest % self._dim] += (1.0 if digest & 0x80000000 else -1.0) * (1.0 + math.log(count))
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:  # opposite signs cancelled in one bucket: fall back to the fixed direction
            vector[zlib.crc32(b"") % self._dim] = 1.0
            return vector
        return vector / norm

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Shape (len(texts), dim), float32, unit rows; ``progress`` is accepted and ignored (it is instant)."""
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.vstack([self._vector(text) for text in texts]).astype(np.float32)

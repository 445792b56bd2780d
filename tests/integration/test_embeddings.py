"""The embedder batches texts by length but returns one vector per text, in the order given."""

from __future__ import annotations

import numpy as np

from embeddings import make_embedder


def test_length_sorted_batches_keep_each_text_its_own_vector() -> None:
    embedder = make_embedder(batch_size=2)
    texts = ["Customs", "Operation Sentinel seized more than 160 kg of narcotics in Central Asia. " * 6,
             "A border post", "", "The WCO Secretary General met the head of the Federal Customs Service.",
             "Customs"]
    vectors = embedder.encode(texts)
    alone = np.vstack([embedder.encode([text]) for text in texts])
    assert vectors.shape == (len(texts), embedder.dim) and vectors.dtype == np.float32
    assert vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(vectors, alone, atol=1e-5)
    np.testing.assert_allclose(vectors[0], vectors[-1], atol=1e-5)

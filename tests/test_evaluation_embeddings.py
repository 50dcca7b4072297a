"""relemb.evaluation.embeddings: one batched call over unique pairs, and the shared cache."""

from __future__ import annotations

import numpy as np
import pytest

from relemb.evaluation.embeddings import embed_pairs, pair_matrix


class Counting:
    def __init__(self):
        self.seen = []

    def get_embedding(self, pairs, batch_size=64, show_progress_bar=None):
        self.seen.append(list(pairs))
        return np.array([[len(h), len(t)] for h, t in pairs], dtype=np.float32)


def test_unique_pairs_in_one_call():
    model = Counting()
    out = embed_pairs(model, [("ab", "c"), ["ab", "c"], ("d", "efg")])
    assert model.seen == [[("ab", "c"), ("d", "efg")]]
    assert {k: v.tolist() for k, v in out.items()} == {("ab", "c"): [2, 1], ("d", "efg"): [1, 3]}


def test_cache_skips_known_pairs():
    model, cache = Counting(), {}
    embed_pairs(model, [("a", "b"), ("c", "d")], cache=cache)
    out = embed_pairs(model, [("c", "d"), ("e", "f")], cache=cache)
    assert model.seen[1] == [("e", "f")]
    assert list(out) == [("c", "d"), ("e", "f")] and len(cache) == 3
    embed_pairs(model, [("a", "b")], cache=cache)
    assert len(model.seen) == 2  # nothing new: no call


def test_bad_model_output_and_stacking():
    class Broken:
        def get_embedding(self, pairs, batch_size=64, show_progress_bar=None):
            return np.zeros((1, 2))

    with pytest.raises(ValueError, match="shape"):
        embed_pairs(Broken(), [("a", "b"), ("c", "d")])
    embeddings = embed_pairs(Counting(), [("a", "bb")])
    assert pair_matrix(embeddings, [("a", "bb"), ("a", "bb")]).tolist() == [[1, 2], [1, 2]]
    with pytest.raises(ValueError, match="no pairs"):
        pair_matrix(embeddings, [])

"""Embed word pairs once: a batched pass over the unique pairs, with an optional cache shared across datasets.

>>> import numpy as np
>>> class Fake:
...     def get_embedding(self, pairs, batch_size=64, show_progress_bar=None):
...         return np.array([[len(h), len(t)] for h, t in pairs], dtype=np.float32)
>>> cache = {}
>>> embed_pairs(Fake(), [("ab", "c"), ("ab", "c")], cache=cache)[("ab", "c")].tolist()
[2.0, 1.0]
>>> len(cache)
1
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any, Protocol

import numpy as np

from relemb.pairs import Pair

__all__ = ["PairEmbedder", "embed_pairs", "pair_matrix"]


class PairEmbedder(Protocol):
    """Anything that embeds word pairs: a :class:`relemb.RelBERT` or a test double."""

    def get_embedding(
        self, pairs: Any, batch_size: int = ..., *, show_progress_bar: bool | None = ...
    ) -> np.ndarray: ...


def embed_pairs(
    model: PairEmbedder,
    pairs: Iterable[Pair],
    batch_size: int = 64,
    show_progress_bar: bool | None = None,
    cache: MutableMapping[Pair, np.ndarray] | None = None,
) -> dict[Pair, np.ndarray]:
    """Embed the unique ``pairs`` in one batched ``model.get_embedding`` call; returns ``{pair: vector}``.

    With ``cache`` (a dict), pairs already in it are not embedded again and new ones are added to it.
    """
    wanted: list[Pair] = list(dict.fromkeys((p[0], p[1]) for p in pairs))
    known = cache if cache is not None else {}
    missing = [p for p in wanted if p not in known]
    if missing:
        matrix = np.asarray(model.get_embedding(missing, batch_size=batch_size, show_progress_bar=show_progress_bar))
        if matrix.ndim != 2 or matrix.shape[0] != len(missing):
            raise ValueError(f"the model returned embeddings of shape {matrix.shape} for {len(missing)} pairs")
        fresh = dict(zip(missing, matrix))
        if cache is not None:
            cache.update(fresh)
    else:
        fresh = {}
    return {p: known[p] if p in known else fresh[p] for p in wanted}


def pair_matrix(embeddings: dict[Pair, np.ndarray], pairs: Iterable[Pair]) -> np.ndarray:
    """Stack the embeddings of ``pairs`` (in order) into an ``(n, d)`` float32 matrix."""
    rows = [embeddings[(p[0], p[1])] for p in pairs]
    if not rows:
        raise ValueError("no pairs to stack")
    return np.stack(rows).astype(np.float32, copy=False)

"""Seeded, stratified subsamples of labelled data: the one sampler the probes, the classification grid search
and the attention commands share.

>>> labels = ["a"] * 6 + ["b"] * 2
>>> keep = stratified_sample(labels, 4, seed=0)
>>> keep.tolist() == sorted(keep.tolist()), sorted(labels[i] for i in keep)
(True, ['a', 'a', 'a', 'b'])
>>> stratified_sample(labels, None, seed=0).tolist()
[0, 1, 2, 3, 4, 5, 6, 7]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["stratified_sample"]


def stratified_sample(labels: Sequence[Any] | np.ndarray, limit: int | None, seed: int = 0) -> np.ndarray:
    """Indices (sorted) of at most ``limit`` items, keeping each label's share (scikit-learn's stratified
    split, seeded). ``None`` or ``0`` keeps everything. When a label has a single item or there are more
    labels than either side of the split can hold, the sample is a plain seeded random one.
    """
    n = len(labels)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0):
        raise ValueError(f"the sample limit must be a non-negative integer or None, got {limit!r}")
    if not limit or n <= limit:
        return np.arange(n)
    from sklearn.model_selection import train_test_split

    keys = np.asarray([str(label) for label in labels])
    counts = np.unique(keys, return_counts=True)[1]
    indices = np.arange(n)
    if counts.min() >= 2 and len(counts) <= min(limit, n - limit):  # both sides of the split hold every label
        chosen, _ = train_test_split(indices, train_size=int(limit), stratify=keys, random_state=seed)
    else:
        chosen = np.random.default_rng(seed).choice(n, size=int(limit), replace=False)
    return np.sort(np.asarray(chosen, dtype=np.int64))

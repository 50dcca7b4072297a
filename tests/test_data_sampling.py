"""relemb.data.sampling: the one stratified subsampler."""

import numpy as np
import pytest

from relemb.data import stratified_sample


def test_keeps_label_shares_and_is_deterministic():
    labels = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    keep = stratified_sample(labels, 20, seed=3)
    assert len(keep) == 20 and list(keep) == sorted(keep)
    counts = {label: sum(labels[i] == label for i in keep) for label in "abc"}
    assert counts == {"a": 12, "b": 6, "c": 2}
    assert np.array_equal(keep, stratified_sample(labels, 20, seed=3))
    assert not np.array_equal(keep, stratified_sample(labels, 20, seed=4))


def test_no_limit_or_a_large_one_keeps_all():
    assert stratified_sample(["a", "b"], None).tolist() == [0, 1]
    assert stratified_sample(["a", "b"], 0).tolist() == [0, 1]
    assert stratified_sample(["a", "b"], 5).tolist() == [0, 1]


def test_unstratifiable_labels_fall_back_to_a_random_sample():
    labels = ["a"] * 9 + ["b"]  # b has one item
    keep = stratified_sample(labels, 5, seed=0)
    assert len(set(keep.tolist())) == 5
    keep = stratified_sample(["a", "b", "c"] * 3 + ["a"], 9, seed=0)  # the left-out side cannot hold 3 labels
    assert len(set(keep.tolist())) == 9


def test_bad_limits():
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="limit"):
            stratified_sample(["a"], bad)

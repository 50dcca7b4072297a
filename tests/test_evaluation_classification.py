"""relemb.evaluation.classification: metrics by hand, a separable set (F1 = 1), a set with known confusion."""

from __future__ import annotations

import json

import numpy as np
import pytest

from relemb.data import DatasetNotFoundError, LexicalPair
from relemb.evaluation.classification import (
    classification_metrics,
    evaluate_classification,
    pair_features,
    tune_classifier,
)

FAST_MLP = {"early_stopping": False, "max_iter": 300, "n_iter_no_change": 20}
SMALL_GRID = {"hidden_layer_sizes": [(16,)], "learning_rate_init": [1e-2, 1e-3], "alpha": [1e-4]}


class ClassModel:
    """emb(h, t) = one-hot of the head's class (its first letter) + a small per-word offset; words of
    classes listed in ``merge`` share one vector, so those classes cannot be told apart."""

    def __init__(self, classes="abcx", merge=()):
        self.classes = classes
        self.merge = dict(merge)
        self.calls = 0

    def get_embedding(self, pairs, batch_size=64, show_progress_bar=None):
        self.calls += 1
        rows = []
        for head, _tail in pairs:
            letter = self.merge.get(head[0], head[0])
            vector = np.zeros(len(self.classes) + 1, dtype=np.float32)
            vector[self.classes.index(letter)] = 1.0
            if head[0] not in self.merge and head[0] not in self.merge.values():
                vector[-1] = 0.01 * (int(head[1:]) % 7)
            rows.append(vector)
        return np.stack(rows)


def _pairs(spec):
    """spec: [(relation, letter, count, start)] -> LexicalPairs (letter<k>, x<k>)."""
    return [
        LexicalPair(f"{letter}{i}", f"x{i}", rel) for rel, letter, n, start in spec for i in range(start, start + n)
    ]


def test_metrics_by_hand():
    y_true = ["A", "A", "B", "B", "C", "C"]
    y_pred = ["A", "A", "A", "A", "C", "C"]
    m = classification_metrics(y_true, y_pred)
    assert m["micro_f1"] == pytest.approx(4 / 6)
    assert m["per_relation"]["A"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 2}
    assert m["per_relation"]["B"]["f1"] == 0.0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0 + 1) / 3)
    # a class absent from test and predictions still counts in the macro average when listed
    m2 = classification_metrics(y_true, y_pred, labels=["A", "B", "C", "D"])
    assert m2["macro_f1"] == pytest.approx((2 / 3 + 0 + 1 + 0) / 4)
    with pytest.raises(ValueError, match="predictions"):
        classification_metrics(["A"], [])


def test_pair_features_concatenate_both_directions():
    class Fake:
        def get_embedding(self, pairs, batch_size=64, show_progress_bar=None):
            return np.array([[len(h), len(t)] for h, t in pairs], dtype=np.float32)

    cache = {}
    features = pair_features(Fake(), [("abc", "d"), ("ef", "ghij")], cache=cache)
    assert features.tolist() == [[3, 1, 1, 3], [2, 4, 4, 2]]
    assert set(cache) == {("abc", "d"), ("d", "abc"), ("ef", "ghij"), ("ghij", "ef")}


def test_separable_set_scores_one():
    data = {
        "train": _pairs([("A", "a", 8, 0), ("B", "b", 8, 0), ("C", "c", 8, 0)]),
        "validation": _pairs([("A", "a", 3, 20), ("B", "b", 3, 20), ("C", "c", 3, 20)]),
        "test": _pairs([("A", "a", 4, 40), ("B", "b", 4, 40), ("C", "c", 4, 40)]),
    }
    model = ClassModel()
    result = evaluate_classification(model, data, grid=SMALL_GRID, mlp_params=FAST_MLP, name="toy")
    assert model.calls == 1  # every pair of every split, both directions, in one pass
    assert result.micro_f1 == 1.0 and result.macro_f1 == 1.0
    assert {k: v["f1"] for k, v in result.per_relation.items()} == {"A": 1.0, "B": 1.0, "C": 1.0}
    assert result.tuning == "validation" and len(result.search) == 2
    assert result.best_params["hidden_layer_sizes"] == (16,)
    assert (result.n_train, result.n_validation, result.n_test) == (24, 9, 12)
    json.dumps(result.to_dict())  # serializable


def test_known_confusion():
    # A and B share one feature vector; A is 3x more frequent in train, so the probe predicts A for both.
    merge = {"b": "a"}
    data = {
        "train": _pairs([("A", "a", 9, 0), ("B", "b", 3, 0), ("C", "c", 6, 0)]),
        "validation": _pairs([("A", "a", 3, 20), ("B", "b", 1, 20), ("C", "c", 2, 20)]),
        "test": _pairs([("A", "a", 2, 40), ("B", "b", 2, 40), ("C", "c", 2, 40)]),
    }
    result = evaluate_classification(ClassModel(merge=merge), data, grid=SMALL_GRID, mlp_params=FAST_MLP)
    assert result.micro_f1 == pytest.approx(4 / 6)
    assert result.per_relation["A"]["f1"] == pytest.approx(2 / 3)
    assert result.per_relation["B"]["f1"] == 0.0
    assert result.per_relation["C"]["f1"] == 1.0
    assert result.macro_f1 == pytest.approx((2 / 3 + 0 + 1) / 3)


def test_cross_validation_without_validation_split_and_determinism():
    data = {
        "train": _pairs([("A", "a", 9, 0), ("B", "b", 9, 0)]),
        "validation": None,
        "test": _pairs([("A", "a", 3, 40), ("B", "b", 3, 40)]),
    }
    first = evaluate_classification(ClassModel(), data, grid=SMALL_GRID, mlp_params=FAST_MLP, cv_folds=3, seed=3)
    again = evaluate_classification(ClassModel(), data, grid=SMALL_GRID, mlp_params=FAST_MLP, cv_folds=3, seed=3)
    assert first.tuning == "3-fold cross-validation on train"
    assert first.micro_f1 == 1.0
    assert [s["score"] for s in first.search] == [s["score"] for s in again.search]
    assert first.best_params == again.best_params


def test_refit_on_train_plus_validation_uses_more_data():
    rng = np.random.default_rng(0)
    x_train, y_train = rng.normal(size=(30, 4)), np.array(["A", "B", "C"] * 10)
    x_val, y_val = rng.normal(size=(9, 4)), np.array(["A", "B", "C"] * 3)
    grid = {"hidden_layer_sizes": [(8,)]}
    clf, _, info = tune_classifier(
        x_train, y_train, x_val, y_val, grid=grid, refit_on="train+validation", mlp_params=FAST_MLP
    )
    assert info["refit_on"] == "train+validation"
    assert clf.named_steps["mlp"].n_features_in_ == 4
    assert clf.named_steps["scale"].n_samples_seen_ == 39
    with pytest.raises(ValueError, match="refit_on"):
        tune_classifier(x_train, y_train, x_val, y_val, grid=grid, refit_on="everything")
    with pytest.raises(ValueError, match="unknown MLPClassifier parameter"):
        tune_classifier(x_train, y_train, x_val, y_val, grid={"hidden": [1]})
    with pytest.raises(ValueError, match="per relation"):
        tune_classifier(x_train[:4], ["A", "A", "A", "B"], grid=grid, cv_folds=3)


def test_folder_of_made_up_files_and_bad_input(tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    splits = {
        "train": _pairs([("A", "a", 6, 0), ("C", "c", 6, 0)]),
        "test": _pairs([("A", "a", 2, 40), ("C", "c", 2, 40)]),
    }
    for split, records in splits.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    result = evaluate_classification(ClassModel(), str(folder), grid=SMALL_GRID, mlp_params=FAST_MLP, cv_folds=2)
    assert result.n_validation == 0 and result.tuning.startswith("2-fold") and result.micro_f1 == 1.0
    with pytest.raises(DatasetNotFoundError):
        evaluate_classification(ClassModel(), "NoSuchSet", data_dir=tmp_path)
    (folder / "test.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="no records"):
        evaluate_classification(ClassModel(), str(folder), grid=SMALL_GRID)
    with pytest.raises(ValueError, match="'test' split"):
        evaluate_classification(ClassModel(), {"train": splits["train"]})


def test_tuning_subsample_is_stratified_and_final_fit_sees_all():
    rng = np.random.default_rng(1)
    x_train = rng.normal(size=(60, 3))
    y_train = np.array(["A"] * 40 + ["B"] * 20)
    x_train[y_train == "B"] += 4.0
    x_val, y_val = rng.normal(size=(6, 3)), np.array(["A"] * 4 + ["B"] * 2)
    x_val[y_val == "B"] += 4.0
    clf, _, info = tune_classifier(
        x_train, y_train, x_val, y_val, grid={"hidden_layer_sizes": [(4,)]}, mlp_params=FAST_MLP, tune_max_train=15
    )
    assert info["tuning_train_size"] == 15
    assert clf.named_steps["scale"].n_samples_seen_ == 60
    _, _, full = tune_classifier(
        x_train, y_train, x_val, y_val, grid={"hidden_layer_sizes": [(4,)]}, mlp_params=FAST_MLP, tune_max_train=0
    )
    assert full["tuning_train_size"] == 60

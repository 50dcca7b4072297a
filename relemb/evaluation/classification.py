"""Lexical relation classification: an MLP probe on relation embeddings, tuned and scored as in RelBERT.

Protocol (Ushio et al. 2021, with the reference's untuned grid actually run):

1. features of a pair ``(h, t)`` = ``concat(emb(h, t), emb(t, h))``; every unique pair of the dataset is
   embedded once (both directions in one batch);
2. a scikit-learn pipeline ``StandardScaler -> MLPClassifier`` (one hidden layer, ``random_state=seed``,
   early stopping on 10% of the training data);
3. hyper-parameters (hidden size, initial learning rate, L2 ``alpha``) chosen by grid search on the
   **validation split** (micro F1; ``sklearn.model_selection.PredefinedSplit``); a dataset without one
   (CogALexV) is tuned by stratified k-fold cross-validation on train;
4. the final model is refit on **train only** (``refit_on="train"``, default, as published) or on train +
   validation (``refit_on="train+validation"``);
5. test metrics over **every class** (``random`` included): micro F1 (the headline number), macro F1,
   per-relation precision/recall/F1.

Everything is seeded, so the same call gives the same numbers.

>>> y_true = ["hyper", "hyper", "mero", "random"]
>>> y_pred = ["hyper", "mero", "mero", "random"]
>>> m = classification_metrics(y_true, y_pred)
>>> round(m["micro_f1"], 4), round(m["macro_f1"], 4), m["per_relation"]["random"]["f1"]
(0.75, 0.7778, 1.0)
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relemb._io import to_jsonable
from relemb.data import LexicalPair, load_lexical_splits, stratified_sample
from relemb.data.names import canonical_lexical_name
from relemb.evaluation.embeddings import PairEmbedder, embed_pairs
from relemb.evaluation.statistics import N_RESAMPLES, f1_interval
from relemb.pairs import Pair
from relemb.results import fingerprint

__all__ = [
    "DEFAULT_GRID",
    "TUNE_MAX_TRAIN",
    "ClassificationResult",
    "build_classifier",
    "classification_metrics",
    "evaluate_classification",
    "pair_features",
    "tune_classifier",
]

logger = logging.getLogger("relemb.evaluation")


#: The default search grid (12 fits per dataset), keys are ``MLPClassifier`` parameters.
DEFAULT_GRID: dict[str, list[Any]] = {
    "hidden_layer_sizes": [(100,), (150,), (200,)],
    "learning_rate_init": [1e-3, 1e-4],
    "alpha": [1e-4, 1e-3],
}
#: ``MLPClassifier`` settings shared by every fit (on top of the grid and ``random_state``).
MLP_DEFAULTS: dict[str, Any] = {"max_iter": 100, "early_stopping": True, "n_iter_no_change": 5}
#: The grid is searched with models fit on at most this many training pairs (a stratified, seeded sample);
#: the final model is always fit on the whole training split. Keeps K&H+N (40k pairs) within budget.
TUNE_MAX_TRAIN = 10_000
REFIT_CHOICES = ("train", "train+validation")


# ----------------------------------------------------------------------------------------- features
def pair_features(
    model: PairEmbedder,
    pairs: Sequence[Pair],
    batch_size: int = 64,
    show_progress_bar: bool | None = None,
    cache: MutableMapping[Pair, np.ndarray] | None = None,
) -> np.ndarray:
    """RelBERT's classification features ``concat(emb(h, t), emb(t, h))``: an ``(n, 2d)`` float32 matrix.

    Both directions of every unique pair are embedded in one batched pass.

    >>> class Fake:
    ...     def get_embedding(self, pairs, batch_size=64, show_progress_bar=None):
    ...         return np.array([[len(h), len(t)] for h, t in pairs], dtype=np.float32)
    >>> pair_features(Fake(), [("ab", "c")]).tolist()
    [[2.0, 1.0, 1.0, 2.0]]
    """
    pairs = [(p[0], p[1]) for p in pairs]
    if not pairs:
        raise ValueError("no pairs to featurize")
    both = [p for pair in pairs for p in (pair, (pair[1], pair[0]))]
    embeddings = embed_pairs(model, both, batch_size, show_progress_bar, cache=cache)
    forward = np.stack([embeddings[p] for p in pairs])
    backward = np.stack([embeddings[(p[1], p[0])] for p in pairs])
    return np.concatenate([forward, backward], axis=1).astype(np.float32, copy=False)


# ------------------------------------------------------------------------------------------ metrics
def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, Any]:
    """Micro/macro F1 over **all** ``labels`` (default: every label in ``y_true`` or ``y_pred``), accuracy,
    and per-relation precision, recall, F1 and support (scikit-learn, ``zero_division=0``)."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    if len(y_true) != len(y_pred):
        raise ValueError(f"got {len(y_true)} true labels but {len(y_pred)} predictions")
    if len(y_true) == 0:
        raise ValueError("no predictions to score")
    labels = sorted(set(y_true) | set(y_pred)) if labels is None else list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "micro_f1": float(f1_score(y_true, y_pred, labels=labels, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "per_relation": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
    }


# ------------------------------------------------------------------------------------------- tuning
def build_classifier(seed: int = 0, standardize: bool = True, **mlp_params: Any):
    """The probe: ``Pipeline(StandardScaler, MLPClassifier)`` (or the MLP alone), seeded.

    ``mlp_params`` override :data:`MLP_DEFAULTS` (e.g. ``hidden_layer_sizes=(150,)``).
    """
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    mlp = MLPClassifier(random_state=seed, **{**MLP_DEFAULTS, **mlp_params})
    steps = [("scale", StandardScaler())] if standardize else []
    return Pipeline([*steps, ("mlp", mlp)])


def _check_grid(grid: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    from sklearn.neural_network import MLPClassifier

    valid = MLPClassifier().get_params()
    checked = {}
    for key, values in grid.items():
        if key not in valid:
            raise ValueError(f"unknown MLPClassifier parameter {key!r} in the grid")
        values = list(values)
        if not values:
            raise ValueError(f"the grid gives no values for {key!r}")
        checked[key] = [tuple(v) if isinstance(v, list) else v for v in values]
    return checked


def tune_classifier(
    x_train: np.ndarray,
    y_train: Sequence[str],
    x_val: np.ndarray | None = None,
    y_val: Sequence[str] | None = None,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    cv_folds: int = 3,
    seed: int = 0,
    standardize: bool = True,
    refit_on: str = "train",
    n_jobs: int | None = None,
    mlp_params: Mapping[str, Any] | None = None,
    tune_max_train: int | None = TUNE_MAX_TRAIN,
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Grid-search the MLP probe and refit it; returns ``(fitted pipeline, best parameters, search info)``.

    With ``x_val``/``y_val`` the grid is scored on the validation split (micro F1) with models fit on
    train; without them by stratified ``cv_folds``-fold cross-validation on train (shuffled, seeded).
    The grid's models see at most ``tune_max_train`` training pairs (a stratified sample drawn with
    ``seed``; ``None`` or 0: all); the final model is fit on all of train (``refit_on="train"``) or on
    train + validation.

    Example::

        clf, best, info = tune_classifier(x_train, y_train, x_val, y_val, grid={"alpha": [1e-4, 1e-3]})
        clf.predict(x_test)
    """
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, PredefinedSplit, StratifiedKFold

    if refit_on not in REFIT_CHOICES:
        raise ValueError(f"refit_on must be one of {', '.join(REFIT_CHOICES)}, got {refit_on!r}")
    grid = _check_grid(DEFAULT_GRID if grid is None else grid)
    has_val = x_val is not None and y_val is not None and len(y_val) > 0
    labels = np.asarray(y_train)
    if len(set(labels.tolist())) < 2:
        raise ValueError("the training split needs at least two relation classes")
    estimator = build_classifier(seed, standardize, **(mlp_params or {}))
    param_grid = {f"mlp__{key}": values for key, values in grid.items()}
    keep = stratified_sample(labels, tune_max_train, seed)
    x_tune, y_tune = x_train[keep], labels[keep]
    if has_val:
        assert x_val is not None and y_val is not None  # has_val
        x_all = np.concatenate([x_tune, x_val])
        y_all = np.concatenate([y_tune, np.asarray(y_val)])
        cv = PredefinedSplit(np.r_[np.full(len(y_tune), -1), np.zeros(len(y_val), dtype=np.int64)])
        tuning = "validation"
    else:
        if refit_on != "train":
            raise ValueError("refit_on='train+validation' needs a validation split")
        x_all, y_all = x_tune, y_tune
        counts = np.unique(y_tune, return_counts=True)[1]
        if counts.min() < cv_folds:
            raise ValueError(
                f"{cv_folds}-fold cross-validation needs at least {cv_folds} training pairs per relation; "
                f"the smallest class has {counts.min()}"
            )
        cv = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seed)
        tuning = f"{cv_folds}-fold cross-validation on train"
    search = GridSearchCV(estimator, param_grid, scoring="f1_micro", cv=cv, refit=False, n_jobs=n_jobs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        search.fit(x_all, y_all)
        best = {key.removeprefix("mlp__"): value for key, value in search.best_params_.items()}
        final = clone(estimator).set_params(**search.best_params_)
        if refit_on == "train+validation":
            assert x_val is not None and y_val is not None  # refit_on needs has_val
            final.fit(np.concatenate([x_train, x_val]), np.concatenate([labels, np.asarray(y_val)]))
        else:
            final.fit(x_train, labels)
    results = search.cv_results_
    scores = [
        {
            "params": {k.removeprefix("mlp__"): to_jsonable(v) for k, v in params.items()},
            "score": float(score),
            "fit_seconds": float(fit_time),
        }
        for params, score, fit_time in zip(results["params"], results["mean_test_score"], results["mean_fit_time"])
    ]
    info = {
        "tuning": tuning,
        "tuning_train_size": len(y_tune),
        "best_score": float(search.best_score_),
        "refit_on": refit_on,
        "grid": scores,
    }
    return final, best, info


# ------------------------------------------------------------------------------------------- runner
@dataclass
class ClassificationResult:
    """Test scores of one dataset (F1 in [0, 1], each with its 95% bootstrap interval over the test pairs), the
    chosen hyper-parameters and how they were chosen, and the test ``labels`` and ``predictions`` in pair order
    (with the ``pairs_sha256`` fingerprint of the test pairs) for paired comparisons of two models."""

    dataset: str
    micro_f1: float
    macro_f1: float
    accuracy: float
    per_relation: dict[str, dict[str, float]]
    best_params: dict[str, Any]
    tuning: str
    refit_on: str
    n_train: int
    n_validation: int
    n_test: int
    tuning_train_size: int = 0
    search: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    micro_f1_interval: tuple[float, float] = (float("nan"), float("nan"))
    macro_f1_interval: tuple[float, float] = (float("nan"), float("nan"))
    labels: list[str] = field(default_factory=list)
    predictions: list[str] = field(default_factory=list)
    pairs_sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "split": "test",
            "micro_f1": self.micro_f1,
            "micro_f1_interval": list(self.micro_f1_interval),
            "macro_f1": self.macro_f1,
            "macro_f1_interval": list(self.macro_f1_interval),
            "n": self.n_test,
            "accuracy": self.accuracy,
            "per_relation": self.per_relation,
            "best_params": {k: to_jsonable(v) for k, v in self.best_params.items()},
            "tuning": self.tuning,
            "refit_on": self.refit_on,
            "seed": self.seed,
            "n_train": self.n_train,
            "n_validation": self.n_validation,
            "n_test": self.n_test,
            "tuning_train_size": self.tuning_train_size,
            "search": self.search,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "labels": self.labels,
            "predictions": self.predictions,
            "pairs_sha256": self.pairs_sha256,
        }


def evaluate_classification(
    model: PairEmbedder,
    dataset: str | os.PathLike | Mapping[str, Sequence[LexicalPair] | None],
    *,
    data_dir: str | os.PathLike | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    cv_folds: int = 3,
    seed: int = 0,
    standardize: bool = True,
    refit_on: str = "train",
    batch_size: int = 64,
    show_progress_bar: bool | None = None,
    n_jobs: int | None = None,
    mlp_params: Mapping[str, Any] | None = None,
    tune_max_train: int | None = TUNE_MAX_TRAIN,
    cache: MutableMapping[Pair, np.ndarray] | None = None,
    name: str | None = None,
    n_resamples: int = N_RESAMPLES,
) -> ClassificationResult:
    """Train and test the MLP probe on one lexical relation dataset (see the module docstring).

    Args:
        model: a :class:`relemb.RelBERT` or anything with ``get_embedding(pairs, batch_size=..., show_progress_bar=...)``.
        dataset: ``BLESS``, ``CogALexV``, ``EVALution``, ``K&H+N``, ``ROOT09``, a folder with
            ``train.jsonl``, ``test.jsonl`` and optionally ``val.jsonl``, or ``{"train": [...], "validation":
            [...] or None, "test": [...]}`` of :class:`~relemb.data.LexicalPair`.
        grid: ``{MLPClassifier parameter: values}``; default :data:`DEFAULT_GRID`.
        cv_folds: folds for tuning when there is no validation split.
        refit_on: ``train`` (default, as published) or ``train+validation``.
        tune_max_train: the grid's models are fit on at most this many training pairs (stratified sample;
            ``None``/0: all); the final model always sees the whole training split.
        cache: an optional ``{pair: vector}`` dict shared across datasets.
        n_resamples: bootstrap resamples of the 95% intervals of the F1 scores (seeded with ``seed``).

    Example::

        model = RelBERT.from_pretrained("minilm")
        result = evaluate_classification(model, "BLESS", data_dir="/data/relbert")
        print(result.micro_f1, result.best_params)
    """
    start = time.perf_counter()
    splits = load_lexical_splits(dataset, data_dir)
    for split_name, records in splits.items():
        if records is not None and not records:
            raise ValueError(f"classification dataset {dataset!s}: the {split_name} split holds no pairs")
    all_pairs = [r.pair for records in splits.values() if records for r in records]
    cache = {} if cache is None else cache
    pair_features(model, all_pairs, batch_size, show_progress_bar, cache=cache)
    embedded = time.perf_counter()

    def featurize(records: list[LexicalPair]) -> tuple[np.ndarray, list[str]]:
        return pair_features(model, [r.pair for r in records], cache=cache), [r.relation for r in records]

    train_records, test_records = splits["train"], splits["test"]
    assert train_records is not None and test_records is not None  # load_lexical_splits requires both
    x_train, y_train = featurize(train_records)
    x_test, y_test = featurize(test_records)
    x_val, y_val = featurize(splits["validation"]) if splits["validation"] is not None else (None, None)
    classifier, best, info = tune_classifier(
        x_train,
        y_train,
        x_val,
        y_val,
        grid=grid,
        cv_folds=cv_folds,
        seed=seed,
        standardize=standardize,
        refit_on=refit_on,
        n_jobs=n_jobs,
        mlp_params=mlp_params,
        tune_max_train=tune_max_train,
    )
    tuned = time.perf_counter()
    predictions = classifier.predict(x_test).tolist()
    labels = sorted(set(y_train) | set(y_test) | set(y_val or []))
    metrics = classification_metrics(y_test, predictions, labels=labels)
    label = name or (os.fspath(dataset) if isinstance(dataset, (str, os.PathLike)) else "pairs")
    result = ClassificationResult(
        dataset=canonical_lexical_name(label) or label if isinstance(label, str) else label,
        micro_f1=metrics["micro_f1"],
        macro_f1=metrics["macro_f1"],
        accuracy=metrics["accuracy"],
        per_relation=metrics["per_relation"],
        best_params=best,
        tuning=info["tuning"],
        refit_on=refit_on,
        n_train=len(y_train),
        n_validation=len(y_val or []),
        n_test=len(y_test),
        tuning_train_size=info["tuning_train_size"],
        search=info["grid"],
        seconds={
            "embedding": embedded - start,
            "tuning_and_fit": tuned - embedded,
            "total": time.perf_counter() - start,
        },
        seed=seed,
        micro_f1_interval=f1_interval(y_test, predictions, labels, average="micro", n_resamples=n_resamples, seed=seed),
        macro_f1_interval=f1_interval(y_test, predictions, labels, average="macro", n_resamples=n_resamples, seed=seed),
        labels=list(y_test),
        predictions=list(predictions),
        pairs_sha256=fingerprint(r.pair for r in test_records),
    )
    logger.info(
        "classification %s: micro F1 %.4f, macro F1 %.4f (best %s)",
        result.dataset,
        result.micro_f1,
        result.macro_f1,
        best,
    )
    return result

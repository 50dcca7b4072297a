"""Uncertainty of benchmark scores: bootstrap confidence intervals and paired tests between two models.

Every accuracy or F1 relemb reports comes with a 95% percentile-bootstrap interval over the questions (or
pairs) and the number of items, computed by :func:`scipy.stats.bootstrap` with a fixed seed. Two models
scored on the same questions are compared by :func:`paired_comparison`: the difference of their scores with a
paired bootstrap interval (the same resampled questions for both) and McNemar's exact test on the questions
where exactly one of them is right (:func:`mcnemar_exact`).

>>> correct = np.array([True] * 30 + [False] * 70)
>>> low, high = bootstrap_interval(correct)
>>> bool(low < 0.3 < high), round(high - low, 2)
(True, 0.17)
>>> mcnemar_exact(correct, correct)
1.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CONFIDENCE_LEVEL",
    "N_RESAMPLES",
    "PairedComparison",
    "bootstrap_interval",
    "compare_results",
    "f1_interval",
    "mcnemar_exact",
    "mean_accuracy_interval",
    "paired_comparison",
]

#: The level of every interval relemb reports.
CONFIDENCE_LEVEL = 0.95
#: Bootstrap resamples (an option everywhere; 1000 resamples give the bounds of a 95% interval to about 0.5 points).
N_RESAMPLES = 1000


def _check(n_resamples: int, confidence: float) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 10:
        raise ValueError(f"n_resamples must be an integer >= 10, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[..., Any] | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE_LEVEL,
    seed: int = 0,
    paired: Sequence[Sequence[Any] | np.ndarray] = (),
) -> tuple[float, float]:
    """Percentile-bootstrap interval ``(low, high)`` of ``statistic`` over the items of ``values``.

    ``values``: one number per item (``True``/``False`` per question for an accuracy); ``statistic``
    defaults to the mean. With ``paired`` (more per-item sequences, e.g. gold and predicted labels for an
    F1), the items are resampled together and ``statistic(values, *paired)`` is called on each resample
    (not vectorised). A single item, or all items equal, gives ``(value, value)``.

    >>> bootstrap_interval([1.0, 1.0, 1.0])
    (1.0, 1.0)
    """
    _check(n_resamples, confidence)
    data = [np.asarray(values)] + [np.asarray(p) for p in paired]
    n = len(data[0])
    if n == 0:
        raise ValueError("no items to bootstrap")
    if any(len(d) != n for d in data):
        raise ValueError(f"paired sequences differ in length: {[len(d) for d in data]}")
    vectorized = statistic is None
    func: Callable[..., Any] = statistic or (lambda x, axis=-1: np.mean(x, axis=axis))
    point = float(func(*data))
    if n == 1 or all(np.all(d == d[0]) for d in data):
        return point, point
    return _percentile_bootstrap(
        tuple(data) if not vectorized else (data[0].astype(np.float64),),
        func,
        vectorized=vectorized,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )


def _percentile_bootstrap(
    data: tuple[np.ndarray, ...],
    statistic: Callable[..., Any],
    *,
    vectorized: bool,
    n_resamples: int,
    confidence: float,
    seed: int,
    batch: int | None = None,
) -> tuple[float, float]:
    """``scipy.stats.bootstrap`` as relemb uses it: percentile intervals, samples resampled together (paired),
    a fixed seed."""
    from scipy import stats

    result = stats.bootstrap(
        data,
        statistic,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=vectorized,
        paired=True,
        batch=batch,
        random_state=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return float(low), float(high)


def f1_interval(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    labels: Sequence[Any] | None = None,
    *,
    average: str = "macro",
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE_LEVEL,
    seed: int = 0,
    batch: int = 100,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the micro or macro F1 over ``labels`` (default: every label seen),
    resampling the (gold, predicted) pairs together; scored as scikit-learn does with ``zero_division=0``.
    Vectorised (confusion counts per resample), so 10 000 pairs take well under a second.

    >>> gold = ["a"] * 50 + ["b"] * 50
    >>> low, high = f1_interval(gold, gold)
    >>> low, high
    (1.0, 1.0)
    """
    _check(n_resamples, confidence)
    if average not in ("micro", "macro"):
        raise ValueError(f"average must be 'micro' or 'macro', got {average!r}")
    y_true, y_pred = list(y_true), list(y_pred)
    if len(y_true) != len(y_pred) or not y_true:
        raise ValueError(f"got {len(y_true)} gold labels and {len(y_pred)} predictions")
    names = sorted(set(y_true) | set(y_pred)) if labels is None else list(labels)
    index = {label: i for i, label in enumerate(names)}
    k = len(names) + 1  # the last code collects labels outside ``labels``
    true = np.array([index.get(label, k - 1) for label in y_true])
    pred = np.array([index.get(label, k - 1) for label in y_pred])

    def f1(t: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
        t, p = np.atleast_2d(t), np.atleast_2d(p)  # (batch, n)
        rows = t.shape[0]
        codes = (t * k + p) + (np.arange(rows) * k * k)[:, None]
        counts = np.bincount(codes.ravel(), minlength=rows * k * k).reshape(rows, k, k)[:, : k - 1]
        tp = np.diagonal(counts, axis1=1, axis2=2)[:, : k - 1].astype(np.float64)
        support, predicted = counts.sum(axis=2), counts[:, :, : k - 1].sum(axis=1)
        if average == "micro":
            denominator = support.sum(axis=1) + predicted.sum(axis=1)
            return np.divide(2 * tp.sum(axis=1), denominator, out=np.zeros(rows), where=denominator > 0)
        denominator = support + predicted
        per_label = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
        return per_label.mean(axis=1)

    point = float(f1(true, pred)[0])
    if len(true) == 1 or (np.all(true == true[0]) and np.all(pred == pred[0])):
        return point, point
    return _percentile_bootstrap(
        (true, pred), f1, vectorized=True, n_resamples=n_resamples, confidence=confidence, seed=seed, batch=batch
    )


def mean_accuracy_interval(
    correct_per_dataset: Sequence[Sequence[bool] | np.ndarray],
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE_LEVEL,
    seed: int = 0,
) -> tuple[float, float]:
    """Interval of the mean of several datasets' accuracies (a model-selection score): each resample draws
    every dataset's questions anew, independently, and averages the accuracies.

    >>> low, high = mean_accuracy_interval([[True, False] * 50, [True] * 90 + [False] * 10])
    >>> bool(low < 0.7 < high)
    True
    """
    _check(n_resamples, confidence)
    arrays = [np.asarray(c, dtype=np.float64) for c in correct_per_dataset]
    if not arrays or any(len(a) == 0 for a in arrays):
        raise ValueError("every dataset needs at least one question")
    rng = np.random.default_rng(seed)
    means = np.zeros(n_resamples)
    for values in arrays:
        draws = rng.integers(0, len(values), size=(n_resamples, len(values)))
        means += values[draws].mean(axis=1)
    means /= len(arrays)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def mcnemar_exact(correct_a: Sequence[bool] | np.ndarray, correct_b: Sequence[bool] | np.ndarray) -> float:
    """McNemar's exact test (two-sided) of two models on the same questions: the p-value that the questions
    only A gets right and those only B gets right are equally likely (a binomial test on the discordant
    questions). Identical predictions give ``p = 1``.

    >>> a = np.array([True] * 40 + [False] * 60)
    >>> b = np.array([True] * 60 + [False] * 40)
    >>> round(mcnemar_exact(a, b), 6)
    2e-06
    """
    from scipy.stats import binomtest

    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"both models must be scored on the same questions, got {a.shape} and {b.shape}")
    only_a = int(np.sum(a & ~b))
    only_b = int(np.sum(~a & b))
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_b, only_a + only_b, 0.5).pvalue)


@dataclass(frozen=True)
class PairedComparison:
    """Model B against model A on the same ``n`` items: their scores, the difference ``B - A`` with its
    paired-bootstrap interval, the items only A / only B get right, and McNemar's exact p-value."""

    n: int
    score_a: float
    score_b: float
    difference: float
    interval: tuple[float, float]
    only_a: int
    only_b: int
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "score_a": self.score_a,
            "score_b": self.score_b,
            "difference": self.difference,
            "interval": list(self.interval),
            "only_a": self.only_a,
            "only_b": self.only_b,
            "p_value": self.p_value,
            "test": "McNemar exact (two-sided)",
        }


def paired_comparison(
    correct_a: Sequence[bool] | np.ndarray,
    correct_b: Sequence[bool] | np.ndarray,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE_LEVEL,
    seed: int = 0,
) -> PairedComparison:
    """Compare two models' per-item correctness on the same items (see :class:`PairedComparison`).

    >>> a = np.array([True, False] * 50)
    >>> result = paired_comparison(a, a)
    >>> result.difference, result.interval, result.p_value
    (0.0, (0.0, 0.0), 1.0)
    """
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"both models must be scored on the same (non-empty) questions, got {a.shape} and {b.shape}")
    difference = b.astype(np.float64) - a.astype(np.float64)
    return PairedComparison(
        n=len(a),
        score_a=float(a.mean()),
        score_b=float(b.mean()),
        difference=float(difference.mean()),
        interval=bootstrap_interval(difference, n_resamples=n_resamples, confidence=confidence, seed=seed),
        only_a=int(np.sum(a & ~b)),
        only_b=int(np.sum(~a & b)),
        p_value=mcnemar_exact(a, b),
    )


def _scored_items(result: Any) -> dict[str, tuple[np.ndarray, str]]:
    """Per dataset of a results file: every item's correctness, in order, and the fingerprint of the items."""
    task = result.task
    if task == "analogy":
        entries = result.scores
    elif task == "train":
        entries = result.details.get("test", {})
    elif task == "classification":
        entries = {
            name: {
                "correct": [gold == predicted for gold, predicted in zip(r["labels"], r["predictions"])],
                "questions_sha256": r.get("pairs_sha256"),
            }
            for name, r in result.scores.items()
            if "labels" in r and "predictions" in r
        }
    else:
        raise ValueError(f"cannot compare {task!r} results: compare analogy, classification or train results")
    items = {}
    for name, entry in entries.items():
        if isinstance(entry, dict) and "correct" in entry:
            items[name] = (np.asarray(entry["correct"], dtype=bool), str(entry.get("questions_sha256") or ""))
    return items


def compare_results(
    a: Any, b: Any, *, n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE_LEVEL, seed: int = 0
) -> dict[str, PairedComparison]:
    """Model B against model A on every dataset both results files scored (:class:`~relemb.results.RunResult`
    of ``relemb-eval analogy``/``classification``, or a training run's ``results.json``): the paired
    difference with its interval and McNemar's exact test (for classification, on per-pair correctness, i.e.
    micro F1). Items are matched by position; a dataset whose items differ (another fingerprint) is an error.

    Example::

        from relemb.results import RunResult
        compare_results(RunResult.load("a.json"), RunResult.load("b.json"))["u2"].p_value
    """
    if a.task != b.task and {a.task, b.task} != {"analogy", "train"}:
        raise ValueError(f"the results are of different tasks ({a.task!r} and {b.task!r})")
    items_a, items_b = _scored_items(a), _scored_items(b)
    shared = [name for name in items_a if name in items_b]
    if not shared:
        raise ValueError(
            "the two results share no dataset with per-item predictions "
            f"(first: {sorted(items_a) or 'none'}; second: {sorted(items_b) or 'none'})"
        )
    comparisons = {}
    for name in shared:
        (correct_a, print_a), (correct_b, print_b) = items_a[name], items_b[name]
        if len(correct_a) != len(correct_b) or (print_a and print_b and print_a != print_b):
            raise ValueError(f"{name}: the two results were scored on different questions; they cannot be paired")
        comparisons[name] = paired_comparison(
            correct_a, correct_b, n_resamples=n_resamples, confidence=confidence, seed=seed
        )
    return comparisons

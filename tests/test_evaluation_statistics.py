"""relemb.evaluation.statistics: bootstrap intervals, McNemar's exact test, paired comparisons of results."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

from relemb.evaluation.statistics import (
    bootstrap_interval,
    compare_results,
    f1_interval,
    mcnemar_exact,
    mean_accuracy_interval,
    paired_comparison,
)
from relemb.results import RunResult


def test_the_interval_covers_the_true_accuracy_at_about_the_nominal_rate():
    rng = np.random.default_rng(7)
    true_accuracy, n, trials = 0.4, 200, 200
    covered = 0
    for trial in range(trials):
        correct = rng.random(n) < true_accuracy
        low, high = bootstrap_interval(correct, n_resamples=300, seed=trial)
        covered += low <= true_accuracy <= high
    assert 0.90 <= covered / trials <= 0.98  # nominal 0.95; the percentile bootstrap runs a little narrow


def test_interval_is_deterministic_and_shrinks_with_more_items():
    correct = np.random.default_rng(0).random(400) < 0.5
    assert bootstrap_interval(correct, seed=3) == bootstrap_interval(correct, seed=3)
    wide = bootstrap_interval(correct[:100])
    narrow = bootstrap_interval(correct)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    assert bootstrap_interval([True]) == (1.0, 1.0)
    with pytest.raises(ValueError, match="no items"):
        bootstrap_interval([])
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_interval(correct, n_resamples=0)


def test_f1_interval_agrees_with_scikit_learn_resample_by_resample():
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 4, 600)
    predicted = np.where(rng.random(600) < 0.6, gold, rng.integers(0, 4, 600))
    for average in ("macro", "micro"):
        fast = f1_interval(gold, predicted, average=average, n_resamples=200, seed=5)
        slow = bootstrap_interval(
            gold, lambda t, p, avg=average: f1_score(t, p, average=avg), paired=[predicted], n_resamples=200, seed=5
        )
        assert fast == pytest.approx(slow)
        assert fast[0] < f1_score(gold, predicted, average=average) < fast[1]


def test_mean_accuracy_interval_of_several_sets():
    low, high = mean_accuracy_interval([[True] * 50 + [False] * 50, [True] * 80 + [False] * 20], seed=0)
    assert low < 0.65 < high and high - low < 0.2
    assert mean_accuracy_interval([[True], [False]]) == (0.5, 0.5)


def test_mcnemar_is_one_for_identical_predictions_and_small_for_a_clear_difference():
    a = np.array([True, False] * 100)
    assert mcnemar_exact(a, a) == 1.0
    b = a.copy()
    b[1::2][:60] = True  # B also gets 60 of A's wrong answers right
    assert mcnemar_exact(a, b) < 1e-10
    tie = a.copy()
    tie[[0, 1]] = [False, True]  # one question each way
    assert mcnemar_exact(a, tie) == 1.0
    with pytest.raises(ValueError, match="same questions"):
        mcnemar_exact(a, a[:10])


def test_paired_comparison():
    a = np.array([True] * 40 + [False] * 60)
    b = np.array([True] * 60 + [False] * 40)
    result = paired_comparison(a, b)
    assert result.difference == pytest.approx(0.2) and result.only_b == 20 and result.only_a == 0
    assert 0 < result.interval[0] < 0.2 < result.interval[1] and result.p_value < 1e-4


def _analogy_result(correct, sha="q"):
    return RunResult.create("analogy", {"u2": {"accuracy": float(np.mean(correct)), "correct": list(correct),
                                               "questions_sha256": sha}})  # fmt: skip


def test_compare_results_pairs_the_questions():
    a = [True, False] * 50
    b = [True] * 100
    comparison = compare_results(_analogy_result(a), _analogy_result(b))["u2"]
    assert comparison.difference == pytest.approx(0.5) and comparison.p_value < 1e-10
    with pytest.raises(ValueError, match="different questions"):
        compare_results(_analogy_result(a), _analogy_result(b, sha="other"))
    with pytest.raises(ValueError, match="share no dataset"):
        compare_results(_analogy_result(a), RunResult.create("analogy", {"u4": {"accuracy": 0.5}}))
    with pytest.raises(ValueError, match="cannot compare 'mapping'"):
        compare_results(RunResult.create("mapping", {}), RunResult.create("mapping", {}))


def test_compare_training_and_classification_results():
    train = RunResult.create("train", {"test": {"u2": 0.5}}, details={"test": {"u2": {"correct": [True, False] * 20}}})
    assert compare_results(train, _analogy_result([True] * 40, sha=""))["u2"].only_b == 20
    classify = RunResult.create("classification", {"BLESS": {"labels": ["a", "b"] * 20, "predictions": ["a"] * 40}})
    assert compare_results(classify, classify)["BLESS"].p_value == 1.0

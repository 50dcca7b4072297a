"""relemb.training_curve: per-evaluation scores, the whole run's loss, the evaluation line and the figure."""

from __future__ import annotations

import pytest

from relemb.training_curve import (
    Evaluation,
    best_evaluation,
    evaluation_line,
    evaluations,
    mean_training_loss,
    plot_training_curve,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def eval_entry(step, a, b=None, epoch=None):
    entry = {"eval_a_validation_accuracy": a, "eval_a_validation_accuracy_ci_low": a - 0.1}
    entry["eval_a_validation_accuracy_ci_high"] = a + 0.1
    if b is not None:
        entry["eval_b_validation_accuracy"] = b
        entry["eval_validation_mean_accuracy"] = (a + b) / 2
    entry.update({"eval_runtime": 0.3, "step": step, "epoch": epoch if epoch is not None else step / 3})
    return entry


LOG = [
    {"loss": 3.0, "learning_rate": 1e-3, "step": 1, "epoch": 0.33},
    {"loss": 2.0, "step": 3, "epoch": 1.0},
    eval_entry(3, 0.4, 0.2),
    {"loss": 1.0, "step": 6, "epoch": 2.0},
    eval_entry(6, 0.5, 0.3),
    {"loss": 1.5, "step": 9, "epoch": 3.0},
    eval_entry(9, 0.5, 0.3),
    {"train_loss": 1.7, "train_runtime": 9.0, "step": 9, "epoch": 3.0},
]


def test_evaluations_pair_scores_with_the_loss_before_them():
    history = evaluations(LOG)
    assert [(e.step, e.loss) for e in history] == [(3, 2.0), (6, 1.0), (9, 1.5)]
    first = history[0]
    assert first.scores["a_validation"] == pytest.approx((0.4, 0.3, 0.5))
    assert first.scores["b_validation"] == (0.2, None, None)  # no interval logged for b
    assert first.scores["validation_mean"][0] == pytest.approx(0.3)
    assert "eval_runtime" in first.metrics and "loss" not in first.metrics
    assert evaluations([{"loss": 1.0, "step": 1}]) == []


def test_mean_training_loss_weights_each_log_by_its_steps():
    # 1 step at 3.0, 2 at 2.0, 3 at 1.0, 3 at 1.5: the summary's train_loss is not a logged loss
    assert mean_training_loss(LOG) == pytest.approx((3.0 + 2 * 2.0 + 3 * 1.0 + 3 * 1.5) / 9)
    assert mean_training_loss([eval_entry(3, 0.5)]) is None
    # a step logged twice (a resumed run redoing a step) counts once, with its last value
    assert mean_training_loss([{"loss": 4.0, "step": 2}, {"loss": 2.0, "step": 2}]) == 2.0


def test_best_evaluation_is_the_first_best_as_the_trainer_keeps_it():
    history = evaluations(LOG)
    assert best_evaluation(history, "eval_validation_mean_accuracy").step == 6  # step 9 ties: not better
    assert best_evaluation(history, "validation_mean_accuracy").step == 6  # without the eval_ prefix
    assert best_evaluation(history, "eval_validation_mean_accuracy", greater_is_better=False).step == 3
    assert best_evaluation(history, None) is None and best_evaluation([], "x") is None


def test_evaluation_line_is_short_and_marks_the_best():
    first, second, _ = evaluations(LOG)
    line = evaluation_line(second, max_steps=9, best=True)
    assert line == "epoch 2, step 6/9: loss 1.0000 | a 50.0 [40.0-60.0] | b 30.0 | mean 40.0 (best so far)"
    assert "{" not in line and "best" not in evaluation_line(first)
    # one validation set: its mean is not repeated
    (only,) = evaluations([{"loss": 0.5, "step": 2}, eval_entry(2, 0.25, epoch=1.0)])
    assert evaluation_line(only) == "epoch 1, step 2: loss 0.5000 | a 25.0 [15.0-35.0]"
    assert only.to_dict() == {"step": 2, "epoch": 1.0, "loss": 0.5, "scores": {"a": 0.25}}


def test_plot_training_curve_writes_a_png_matplotlib_reads(tmp_path):
    from matplotlib import image

    png = plot_training_curve(LOG, tmp_path / "figures" / "curve.png", best_step=6, title="run")
    assert png == tmp_path / "figures" / "curve.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    pixels = image.imread(png)
    assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 500
    # the loss alone (no evaluation: eval_strategy no) still makes a figure
    assert plot_training_curve(LOG[:2], tmp_path / "loss.png").read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="should end in .png"):
        plot_training_curve(LOG, tmp_path / "curve.pdf")
    with pytest.raises(ValueError, match="no training loss or evaluation"):
        plot_training_curve([{"train_runtime": 1.0}], tmp_path / "empty.png")
    assert not (tmp_path / "empty.png").exists()


def test_evaluation_round_trips_through_the_card_row():
    evaluation = Evaluation(4, 1.5, None, {"u2_validation": (0.3333333, 0.2, 0.5)})
    assert evaluation.to_dict() == {"step": 4, "epoch": 1.5, "loss": None, "scores": {"u2": 0.3333}}

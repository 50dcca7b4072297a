"""A training run's history, read from the trainer's log (``TrainerState.log_history``): the per-evaluation
scores (:func:`evaluations`), the whole run's mean training loss (:func:`mean_training_loss`), the one line
``relemb-train`` prints per evaluation (:func:`evaluation_line`) and the learning curve
(:func:`plot_training_curve`, ``training_curve.png`` in the output folder).

The log is a list of dicts: training entries (``{"loss": 1.9, "step": 10, "epoch": 0.5, ...}``, the mean loss
since the previous one), evaluation entries (``{"eval_<set>_accuracy": 0.4, "eval_<set>_accuracy_ci_low": ...,
"step": 20, "epoch": 1.0}``) and the trainer's summary (``{"train_loss": ..., "train_runtime": ...}``). A light
module (no torch import); the figure is drawn on a ``matplotlib.figure.Figure`` of its own (no pyplot, so no
global figure state and no backend to choose; the PNG is rendered by Agg) and written atomically with
:func:`relemb._io.save_figure`.

>>> log = [{"loss": 2.0, "step": 2, "epoch": 0.5}, {"loss": 1.0, "step": 4, "epoch": 1.0},
...        {"eval_u2_validation_accuracy": 0.25, "eval_u2_validation_accuracy_ci_low": 0.125,
...         "eval_u2_validation_accuracy_ci_high": 0.375, "eval_runtime": 0.1, "step": 4, "epoch": 1.0}]
>>> (first,) = evaluations(log)
>>> first.step, first.loss, first.scores
(4, 1.0, {'u2_validation': (0.25, 0.125, 0.375)})
>>> mean_training_loss(log)
1.5
>>> evaluation_line(first, max_steps=8, best=True)
'epoch 1, step 4/8: loss 1.0000 | u2 25.0 [12.5-37.5] (best so far)'
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relemb._io import output_file, save_figure

__all__ = [
    "CURVE_FILE",
    "MEAN_SCORE",
    "Evaluation",
    "best_evaluation",
    "evaluation_line",
    "evaluations",
    "mean_training_loss",
    "plot_training_curve",
    "score_label",
]

#: The learning curve's file name in a training run's output folder.
CURVE_FILE = "training_curve.png"
#: The score name of the mean over the validation sets (``eval_validation_mean_accuracy``).
MEAN_SCORE = "validation_mean"

_PREFIX, _SUFFIX = "eval_", "_accuracy"


@dataclass
class Evaluation:
    """One evaluation of a training run.

    Attributes:
        step: the optimizer step it was made at.
        epoch: the (fractional) epoch.
        loss: the training loss logged last at or before ``step`` (the mean since the previous log), or ``None``.
        scores: ``{set name: (accuracy, ci_low, ci_high)}`` (``validation_mean`` is the mean over the sets;
            the bounds are ``None`` when unknown).
        metrics: the evaluation's entry as logged (``eval_...`` keys).
    """

    step: int
    epoch: float | None
    loss: float | None
    scores: dict[str, tuple[float, float | None, float | None]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A compact JSON-able row (what the model config's ``results["history"]`` holds, for the model card):
        ``step``, ``epoch``, ``loss`` and ``scores``, each shown score by its short name (:func:`score_label`),
        rounded to 4 digits.

        >>> Evaluation(3, 1.0, 0.51234, {"u2_validation": (0.25, 0.1, 0.4)}).to_dict()
        {'step': 3, 'epoch': 1.0, 'loss': 0.5123, 'scores': {'u2': 0.25}}
        """
        scores = {score_label(name): _round(value) for name, (value, _, _) in _shown_scores(self).items()}
        return {"step": self.step, "epoch": _round(self.epoch), "loss": _round(self.loss), "scores": scores}


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _scores(entry: Mapping[str, Any]) -> dict[str, tuple[float, float | None, float | None]]:
    """``{set: (accuracy, low, high)}`` of an evaluation entry's ``eval_<set>_accuracy`` keys, in logged order."""
    scores: dict[str, tuple[float, float | None, float | None]] = {}
    for key, value in entry.items():
        if key.startswith(_PREFIX) and key.endswith(_SUFFIX) and _number(value) is not None:
            name = key[len(_PREFIX) : -len(_SUFFIX)]
            low, high = _number(entry.get(f"{key}_ci_low")), _number(entry.get(f"{key}_ci_high"))
            scores[name] = (float(value), low, high)
    return scores


def _training_entries(log_history: Sequence[Mapping[str, Any]]) -> list[tuple[int, float]]:
    """``(step, loss)`` of every training-loss entry, by step (a step logged twice keeps its last entry)."""
    entries: dict[int, float] = {}
    for entry in log_history:
        loss = _number(entry.get("loss"))
        if loss is not None and "step" in entry:
            entries[int(entry["step"])] = loss
    return sorted(entries.items())


def evaluations(log_history: Sequence[Mapping[str, Any]]) -> list[Evaluation]:
    """Every evaluation of ``log_history`` with an accuracy score, in order, each with the training loss logged
    last at or before its step."""
    losses = _training_entries(log_history)
    found = []
    for entry in log_history:
        scores = _scores(entry)
        if not scores:
            continue
        step = int(entry.get("step", 0))
        before = [loss for at, loss in losses if at <= step]
        epoch = _number(entry.get("epoch"))
        metrics = {k: v for k, v in entry.items() if k.startswith(_PREFIX)}
        found.append(Evaluation(step, epoch, before[-1] if before else None, scores, metrics))
    return found


def mean_training_loss(log_history: Sequence[Mapping[str, Any]]) -> float | None:
    """The mean training loss over every step the log covers: each logged loss (the mean since the previous
    log) weighted by the steps it covers; ``None`` without a logged loss.

    Over a resumed run the log holds every session's entries (the trainer state carries them), so this is the
    whole run's loss, not only the resumed part's.

    >>> mean_training_loss([{"loss": 3.0, "step": 1}, {"loss": 1.0, "step": 4}])
    1.5
    """
    entries = _training_entries(log_history)
    if not entries:
        return None
    total, previous = 0.0, 0
    for step, loss in entries:
        total += loss * (step - previous)
        previous = step
    return total / previous if previous > 0 else entries[-1][1]


def best_evaluation(
    history: Sequence[Evaluation], metric: str | None, greater_is_better: bool = True
) -> Evaluation | None:
    """The evaluation the trainer keeps by ``metric`` (``metric_for_best_model``, with or without ``eval_``):
    the first one with the best value, as the trainer chooses (a later tie does not replace it).

    >>> runs = evaluations([{"eval_m_accuracy": 0.5, "step": 1}, {"eval_m_accuracy": 0.5, "step": 2}])
    >>> best_evaluation(runs, "eval_m_accuracy").step
    1
    """
    if not metric:
        return None
    key = metric if metric.startswith(_PREFIX) else f"{_PREFIX}{metric}"
    best: Evaluation | None = None
    for evaluation in history:
        value = _number(evaluation.metrics.get(key))
        if value is None or math.isnan(value):
            continue
        current = None if best is None else _number(best.metrics.get(key))
        if current is None or (value > current if greater_is_better else value < current):
            best = evaluation
    return best


def score_label(name: str) -> str:
    """A score's short name: ``validation_mean`` is ``mean``, ``<set>_validation`` is ``<set>``.

    >>> score_label("semeval2012_validation"), score_label("validation_mean"), score_label("starter_relations_validation")
    ('semeval2012', 'mean', 'starter_relations')
    """
    if name == MEAN_SCORE:
        return "mean"
    return name[: -len("_validation")] if name.endswith("_validation") else name


def _shown_scores(evaluation: Evaluation) -> dict[str, tuple[float, float | None, float | None]]:
    """The scores worth showing: the mean only when it is the mean of several sets."""
    sets = [name for name in evaluation.scores if name != MEAN_SCORE]
    if len(sets) == 1:
        return {name: value for name, value in evaluation.scores.items() if name != MEAN_SCORE}
    return dict(evaluation.scores)


def _percent(value: float | None) -> str:
    return "?" if value is None else f"{100 * value:.1f}"


def evaluation_line(evaluation: Evaluation, *, max_steps: int | None = None, best: bool = False) -> str:
    """The one line ``relemb-train`` prints after an evaluation: the epoch and step, the training loss, each
    selection score in percent with its 95% interval, and ``(best so far)`` when the selection metric is the
    best yet.

    >>> evaluation_line(Evaluation(6, 2.0, 0.25, {"a_validation": (0.5, 0.4, 0.6), "b_validation": (0.3, None, None),
    ...                                            "validation_mean": (0.4, 0.35, 0.45)}))
    'epoch 2, step 6: loss 0.2500 | a 50.0 [40.0-60.0] | b 30.0 | mean 40.0 [35.0-45.0]'
    """
    where = []
    if evaluation.epoch is not None:
        where.append(f"epoch {evaluation.epoch:.3g}")
    where.append(f"step {evaluation.step}" + (f"/{max_steps}" if max_steps else ""))
    parts = [", ".join(where) + ": " + ("loss ?" if evaluation.loss is None else f"loss {evaluation.loss:.4f}")]
    for name, (value, low, high) in _shown_scores(evaluation).items():
        interval = f" [{_percent(low)}-{_percent(high)}]" if low is not None and high is not None else ""
        parts.append(f"{score_label(name)} {_percent(value)}{interval}")
    return " | ".join(parts) + (" (best so far)" if best else "")


def plot_training_curve(
    log_history: Sequence[Mapping[str, Any]],
    path: str | os.PathLike,
    *,
    best_step: int | None = None,
    title: str | None = None,
) -> Path:
    """Draw the learning curve of a run and save it as PNG at ``path``: the training loss at every logged step
    (top) and every selection score per evaluation in percent, with its 95% interval as a band (bottom); the
    chosen checkpoint (``best_step``) is marked on both. Returns the path.

    >>> import tempfile, pathlib
    >>> log = [{"loss": 2.0, "step": 3, "epoch": 1.0}, {"eval_a_accuracy": 0.4, "step": 3, "epoch": 1.0},
    ...        {"loss": 1.5, "step": 6, "epoch": 2.0}, {"eval_a_accuracy": 0.5, "step": 6, "epoch": 2.0}]
    >>> png = plot_training_curve(log, pathlib.Path(tempfile.mkdtemp()) / "curve.png", best_step=6)
    >>> png.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    >>> plot_training_curve([], "curve.png")
    Traceback (most recent call last):
    ...
    ValueError: no training loss or evaluation in the log to plot
    """
    target = output_file(path, ".png")
    losses = _training_entries(log_history)
    history = evaluations(log_history)
    if not losses and not history:
        raise ValueError("no training loss or evaluation in the log to plot")
    from matplotlib.figure import Figure

    panels = 2 if history else 1
    figure = Figure(figsize=(8, 3.2 * panels), dpi=120)
    axes = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    loss_axes = axes[0]
    if losses:
        steps, values = zip(*losses)
        loss_axes.plot(steps, values, color="tab:blue", marker="." if len(losses) < 50 else None, label="training loss")
    loss_axes.set_ylabel("training loss")
    loss_axes.grid(alpha=0.3)
    if history:
        score_axes = axes[1]
        names = list(dict.fromkeys(name for evaluation in history for name in _shown_scores(evaluation)))
        for index, name in enumerate(names):
            points = [(e.step, *e.scores[name]) for e in history if name in e.scores]
            colour = f"C{(index + 1) % 10}"
            style = "--" if name == MEAN_SCORE else "-"
            score_axes.plot(
                [p[0] for p in points],
                [100 * p[1] for p in points],
                style,
                color=colour,
                marker="o",
                label=score_label(name),
            )
            bands = [(step, low, high) for step, _, low, high in points if low is not None and high is not None]
            if bands:
                score_axes.fill_between(
                    [step for step, _, _ in bands],
                    [100 * low for _, low, _ in bands],
                    [100 * high for _, _, high in bands],
                    color=colour,
                    alpha=0.15,
                    linewidth=0,
                )
        score_axes.set_ylabel("selection accuracy (%, 95% CI)")
        score_axes.grid(alpha=0.3)
        score_axes.legend(loc="best", fontsize="small")
    if best_step is not None:
        for ax in axes:
            ax.axvline(best_step, color="black", linestyle=":", linewidth=1)
        axes[-1].annotate(
            f"chosen: step {best_step}",
            xy=(best_step, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -12),
            textcoords="offset points",
            fontsize="small",
        )
    axes[-1].set_xlabel("optimizer step")
    if title:
        axes[0].set_title(title)
    figure.tight_layout()
    save_figure(figure, target)
    return target

"""The figures of :mod:`relemb.attention`, in one module: what the heads look at
(:func:`plot_head_statistics`, :func:`plot_head_map`, :func:`plot_relation_heads`, from a
:class:`~relemb.attention.heads.HeadReport`), where the probes find the relation (:func:`plot_importance`,
:func:`plot_layer_scores`, :func:`plot_dendrogram`, from a :class:`~relemb.attention.probes.ProbeReport`)
and which tokens a token draws on (:func:`plot_token_scores`, from
:class:`~relemb.attention.tracing.TokenScores`).

Every function checks its path first (a ``.png`` file, not a folder), draws on a figure of its own
(``matplotlib.figure.Figure``: no pyplot, so no global figure state and no backend to choose; the PNG is
rendered by Agg), writes it atomically with :func:`relemb._io.save_figure` (parent folders created, nothing
half-written) and returns the path.

Example::

    from relemb.attention import AttentionEncoder, analyze_heads, trace
    from relemb.attention.plots import plot_head_statistics, plot_token_scores

    encoder = AttentionEncoder.from_pretrained("minilm")
    report = analyze_heads(encoder, encoder.inputs_from_pairs([("camera", "photographer"), ("puppy", "dog")]))
    plot_head_statistics(report, "figures/heads.png")
    plot_token_scores(trace(encoder, encoder.inputs_from_pairs([("camera", "photographer")])), "figures/trace.png")

>>> plot_token_scores([], "figures/nothing.png")
Traceback (most recent call last):
...
ValueError: no token scores to plot
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from relemb._io import output_file, save_figure
from relemb.attention.encode import display_token
from relemb.attention.heads import STATISTICS, HeadReport, _check_direction, _check_stat
from relemb.attention.probes import METRICS, ProbeReport, TaskReport
from relemb.attention.tracing import TokenScores
from relemb.choices import check_choice

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "IMPORTANCE_VIEWS",
    "plot_dendrogram",
    "plot_head_map",
    "plot_head_statistics",
    "plot_importance",
    "plot_layer_scores",
    "plot_relation_heads",
    "plot_token_scores",
]

#: How :func:`plot_importance` groups the probe importance: a panel per direction, or one over all.
IMPORTANCE_VIEWS: tuple[str, ...] = ("direction", "overall")


def _figure(**kwargs: Any) -> Figure:
    """A new matplotlib ``Figure`` of its own (not registered with pyplot)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _ticks(n: int) -> list[int]:
    """At most about 12 tick positions of ``n`` layers or heads (0, step, 2 step, ...)."""
    step = max(1, math.ceil(n / 12))
    return list(range(0, n, step))


def _layer_head_axes(ax: Any, title: str, n_layers: int, n_heads: int, *, size: int) -> None:
    """Title and labels of a ``(layers, heads)`` heat map: heads on x, layers on y (ticks from 0)."""
    ax.set_title(title, fontsize=size + 3)
    ax.set_xlabel("head", fontsize=8)
    ax.set_ylabel("layer", fontsize=8)
    ax.set_xticks(_ticks(n_heads))
    ax.set_yticks(_ticks(n_layers))
    ax.tick_params(labelsize=size)


# ------------------------------------------------------------------------------------------ heads
def plot_head_statistics(
    report: HeadReport, path: str | os.PathLike, *, statistics: Sequence[str] = STATISTICS
) -> Path:
    """A grid of ``(layers, heads)`` heat maps, one per statistic (layers on y, heads on x, colour bars).

    Attention masses share the scale [0, 1]; entropy has its own. Written atomically as PNG.

    >>> import tempfile, pathlib
    >>> from relemb.attention.heads import HeadReport, HeadStatistics, RelationHeadAccuracy
    >>> stats = HeadStatistics(n_layers=2, n_heads=3)
    >>> stats.update({name: np.full((2, 3), 0.5) for name in STATISTICS})
    >>> report = HeadReport("toy", 2, 3, 1, stats, RelationHeadAccuracy(2, 3))
    >>> folder = tempfile.TemporaryDirectory()
    >>> plot_head_statistics(report, pathlib.Path(folder.name) / "heads.png", statistics=["special", "entropy"]).name
    'heads.png'
    >>> folder.cleanup()
    """
    target = output_file(path, ".png")
    names = [_check_stat(name) for name in statistics]
    if not names:
        raise ValueError("no statistics to plot")
    columns = min(4, len(names))
    rows = math.ceil(len(names) / columns)
    cell = (max(2.6, 0.28 * report.n_heads + 1.4), max(2.2, 0.24 * report.n_layers + 1.2))
    figure = _figure(figsize=(cell[0] * columns, cell[1] * rows + 0.6))
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index >= len(names):
            ax.set_axis_off()
            continue
        name = names[index]
        values = report.statistics.mean(name)
        scale = {} if name == "entropy" else {"vmin": 0.0, "vmax": 1.0}
        colours = "magma" if name == "entropy" else "viridis"
        image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", origin="lower", cmap=colours, **scale)
        if np.isnan(values).all():
            ax.text(0.5, 0.5, "n/a", transform=ax.transAxes, ha="center", va="center", color="grey")
        title = name + (" (nats)" if name == "entropy" else "")
        _layer_head_axes(ax, title, report.n_layers, report.n_heads, size=7)
        bar = figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        bar.ax.tick_params(labelsize=7)
        bar.ax.ticklabel_format(useOffset=False)  # no "1e-5+3.218" over the title when values are close
    figure.suptitle(f"{report.model}: mean attention per head over {report.n_inputs} inputs", fontsize=11)
    figure.tight_layout()
    return save_figure(figure, target, dpi=110)


def plot_head_map(report: HeadReport, path: str | os.PathLike, color_by: str = "special") -> Path:
    """The MDS map of the heads (Jensen-Shannon distances), twice: coloured by layer, and by the
    statistic ``color_by`` (which also sets the marker size). Written atomically as PNG.

    >>> import tempfile, pathlib
    >>> from relemb.attention.heads import HeadReport, HeadStatistics, RelationHeadAccuracy
    >>> stats = HeadStatistics(n_layers=2, n_heads=2)
    >>> stats.update({name: np.array([[0.1, 0.2], [0.3, 0.4]]) for name in STATISTICS})
    >>> points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])     # one per head, layer-major
    >>> report = HeadReport("toy", 2, 2, 1, stats, RelationHeadAccuracy(2, 2), mds=points)
    >>> folder = tempfile.TemporaryDirectory()
    >>> plot_head_map(report, pathlib.Path(folder.name) / "map.png", color_by="previous").name
    'map.png'
    >>> folder.cleanup()
    """
    target = output_file(path, ".png")
    _check_stat(color_by)
    if report.mds is None:
        raise ValueError("the report has no head map: run analyze_heads with distances=True")
    points = np.asarray(report.mds)
    n = report.n_layers * report.n_heads
    layers = np.repeat(np.arange(report.n_layers), report.n_heads)
    values = report.statistics.mean(color_by).reshape(-1)
    finite = np.isfinite(values)
    low, high = (float(values[finite].min()), float(values[finite].max())) if finite.any() else (0.0, 1.0)
    spread = (values - low) / (high - low) if high > low else np.full(n, 0.5)
    sizes = 18 + 90 * np.nan_to_num(spread, nan=0.0)
    figure = _figure(figsize=(12, 5.2))
    left, right = figure.subplots(1, 2)
    shown = left.scatter(
        points[:, 0],
        points[:, 1],
        c=layers,
        cmap="viridis",
        s=28,
        edgecolors="none",
        vmin=0,
        vmax=max(report.n_layers - 1, 1),
    )
    figure.colorbar(shown, ax=left, label="layer")
    left.set_title("heads by layer", fontsize=10)
    shown = right.scatter(
        points[:, 0],
        points[:, 1],
        c=np.where(finite, values, np.nan),
        cmap="magma",
        s=sizes,
        edgecolors="none",
        plotnonfinite=True,
    )
    figure.colorbar(shown, ax=right, label=color_by)
    right.set_title(f"heads by {color_by} (size too)", fontsize=10)
    if n <= 80:
        for ax in (left, right):
            for index in range(n):
                ax.annotate(
                    report.head_label(index),
                    points[index],
                    fontsize=6,
                    alpha=0.7,
                    xytext=(2, 2),
                    textcoords="offset points",
                )
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle(f"{report.model}: heads by Jensen-Shannon distance (MDS), {report.n_inputs} inputs", fontsize=11)
    figure.tight_layout()
    return save_figure(figure, target, dpi=110)


def plot_relation_heads(report: HeadReport, path: str | os.PathLike, direction: str = "tail_to_head") -> Path:
    """Bars per relation (and all inputs): the best head's accuracy as a relation classifier next to the
    best fixed-offset baseline, the head named above its bar. Written atomically as PNG.

    >>> report = analyze_heads(encoder, inputs, relations=labels)              # doctest: +SKIP
    >>> plot_relation_heads(report, "figures/relation_heads.png")              # doctest: +SKIP
    PosixPath('figures/relation_heads.png')
    """
    target = output_file(path, ".png")
    _check_direction(direction)
    scores = report.relation_accuracy
    groups: list[str | None] = [None, *scores.relations]
    groups = [g for g in groups if scores.n_inputs(direction, g) > 0]
    if not groups:
        raise ValueError(f"no input could be scored in direction {direction}")
    best = [scores.best_head(direction, g) for g in groups]
    baseline = [scores.baseline(direction, g) for g in groups]
    x = np.arange(len(groups))
    figure = _figure(figsize=(max(6.0, 0.75 * len(groups) + 2.5), 4.6))
    ax = figure.subplots()
    ax.bar(x - 0.2, [b[2] for b in best], width=0.4, label="best head", color="tab:blue")
    ax.bar(x + 0.2, [np.nan_to_num(b[1]) for b in baseline], width=0.4, label="best fixed offset", color="tab:grey")
    for i, (layer, head, accuracy) in enumerate(best):
        ax.text(x[i] - 0.2, accuracy + 0.01, f"L{layer}-H{head}", ha="center", va="bottom", fontsize=7, rotation=90)
    for i, (offset, accuracy) in enumerate(baseline):
        if offset is not None:
            ax.text(x[i] + 0.2, np.nan_to_num(accuracy) + 0.01, f"{offset:+d}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels(
        [f"{'all' if g is None else g}\n(n={scores.n_inputs(direction, g)})" for g in groups],
        rotation=30 if len(groups) > 6 else 0,
        ha="right" if len(groups) > 6 else "center",
        fontsize=8,
    )
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    source, _, goal = direction.partition("_to_")
    ax.set_title(f"{report.model}: heads as {source} -> {goal} classifiers", fontsize=10)
    figure.tight_layout()
    return save_figure(figure, target, dpi=110)


# ----------------------------------------------------------------------------------------- probes
def _task(report: ProbeReport, task: str | None) -> TaskReport:
    if task is None:
        task = "multiclass" if "multiclass" in report.tasks else next(iter(report.tasks))
    if task not in report.tasks:
        raise ValueError(f"the report has no {task!r} task (it has {', '.join(report.tasks)})")
    return report.tasks[task]


def plot_importance(
    report: ProbeReport, path: str | os.PathLike, task: str | None = "multiclass", *, by: str = "direction"
) -> Path:
    """Layer x head heat maps of the attention probe's feature importance: one panel per direction
    (``by="direction"``, one colour scale) or one panel summed over directions (``by="overall"``).

    >>> import tempfile, pathlib
    >>> from relemb.attention.probes import ProbeReport, TaskReport, feature_importance
    >>> importance = feature_importance(np.array([[0.1, 2.0, 0.0, 0.5]]), n_layers=1, n_heads=2, with_mask=False)
    >>> part = TaskReport("binary", [0, 1], 8, 4, {}, None, None, importance)
    >>> report = ProbeReport("toy", "model", None, 1, 2, False, {"binary": part})
    >>> folder = tempfile.TemporaryDirectory()
    >>> plot_importance(report, pathlib.Path(folder.name) / "importance.png", task="binary").name
    'importance.png'
    >>> folder.cleanup()
    """
    check_choice(by, IMPORTANCE_VIEWS, "importance view (by)")
    target = output_file(path, ".png")
    part = _task(report, task)
    importance = part.importance
    if by == "overall":
        panels = [("all directions", np.asarray(importance["overall"]))]
    else:
        panels = list(zip(importance["directions"], np.asarray(importance["per_direction"])))
    top = max(float(np.max(values)) for _, values in panels) or 1.0
    columns = min(len(panels), 3)
    rows = -(-len(panels) // columns)
    width = max(2.2, 0.35 * report.n_heads + 1.6)
    height = max(2.0, 0.3 * report.n_layers + 1.2)
    figure = _figure(figsize=(width * columns + 1.0, height * rows + 0.6), dpi=120, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    image = None
    for ax, (title, values) in zip(axes.flat, panels):
        image = ax.imshow(values, aspect="auto", origin="lower", cmap="viridis", vmin=0.0, vmax=top)
        _layer_head_axes(ax, title, report.n_layers, report.n_heads, size=6)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    assert image is not None, "there is at least one panel (max() above needs one)"
    figure.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="|standardised coef|")
    figure.suptitle(f"{report.dataset}: {part.task} attention probe importance ({report.model})", fontsize=10)
    return save_figure(figure, target)


def plot_layer_scores(report: ProbeReport, path: str | os.PathLike, *, metric: str = "macro_f1") -> Path:
    """Hidden-state probe score per layer (0 = embeddings) for the model and the control, one panel per
    task, with the attention probes' scores as horizontal lines.

    >>> report = probe_relations(encoder, "BLESS", data_dir="/data/relbert")      # doctest: +SKIP
    >>> plot_layer_scores(report, "figures/bless_layers.png", metric="accuracy")  # doctest: +SKIP
    PosixPath('figures/bless_layers.png')
    """
    check_choice(metric, METRICS, "probe metric")
    target = output_file(path, ".png")
    parts = list(report.tasks.values())
    if any(part.hidden is None for part in parts):
        raise ValueError("the report has no hidden-state probes (probe_relations(..., hidden_states=True))")
    figure = _figure(figsize=(4.6 * len(parts), 3.6), dpi=120)
    axes = figure.subplots(1, len(parts), squeeze=False)[0]
    colours = {"model": "tab:blue", "control": "tab:orange"}
    for ax, part in zip(axes, parts):
        assert part.hidden is not None, "checked above"
        for owner, results in part.hidden.items():
            scores = [getattr(r, metric) for r in results]
            ax.plot(range(len(scores)), scores, marker="o", color=colours.get(owner), label=f"{owner}: hidden states")
        for owner, result in part.attention.items():
            ax.axhline(
                getattr(result, metric), linestyle="--", color=colours.get(owner), label=f"{owner}: attention probe"
            )
        ax.set_title(part.task, fontsize=10)
        ax.set_xticks(range(report.n_layers + 1))
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel(metric.replace("_", " "))
        ax.set_ylim(0.0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    figure.suptitle(f"{report.dataset}: probes per layer ({report.model})", fontsize=10)
    figure.tight_layout()
    return save_figure(figure, target)


def plot_dendrogram(
    source: ProbeReport | Mapping[str, Any],
    path: str | os.PathLike,
    task: str = "multiclass",
    *,
    title: str | None = None,
) -> Path:
    """Dendrogram of the relation clustering of a report's ``task`` (or of a :func:`cluster_relations`
    result), drawn from SciPy's dendrogram coordinates on a matplotlib ``Figure``.

    >>> import tempfile, pathlib
    >>> from relemb.attention.probes import cluster_relations
    >>> clusters = cluster_relations(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), ["hyper", "mero", "syn"])
    >>> folder = tempfile.TemporaryDirectory()
    >>> plot_dendrogram(clusters, pathlib.Path(folder.name) / "relations.png", title="toy").name
    'relations.png'
    >>> folder.cleanup()
    """
    from scipy.cluster.hierarchy import dendrogram

    target = output_file(path, ".png")
    clustering: Mapping[str, Any]
    if isinstance(source, ProbeReport):
        found = _task(source, task).clustering
        if found is None:
            raise ValueError(f"the {task!r} task of the report has no relation clustering (multiclass only)")
        clustering = found
        title = title or f"{source.dataset}: relation types by attention-probe importance ({source.model})"
    else:
        clustering = source
    matrix = np.asarray(clustering["linkage"], dtype=np.float64)
    labels = [str(label) for label in clustering["labels"]]
    tree = dendrogram(matrix, labels=labels, no_plot=True)
    figure = _figure(figsize=(6.4, max(2.0, 0.35 * len(labels) + 1.0)), dpi=120)
    ax = figure.subplots()
    for xs, ys in zip(tree["icoord"], tree["dcoord"]):
        ax.plot(ys, xs, color="tab:blue", linewidth=1.2)  # distance on x, leaves on y
    ax.set_yticks([5 + 10 * i for i in range(len(tree["ivl"]))])
    ax.set_yticklabels(tree["ivl"], fontsize=8)
    ax.set_ylim(0, 10 * len(tree["ivl"]))
    ax.set_xlabel("cosine distance (average linkage)")
    ax.set_xlim(left=0.0)
    ax.set_title(title or "relation clustering", fontsize=9)
    figure.tight_layout()
    return save_figure(figure, target)


# ---------------------------------------------------------------------------------------- tracing
#: Tick label colours of the marked tokens.
_COLOURS = {"start": "tab:red", "head": "tab:blue", "tail": "tab:green"}


def _label_ticks(axes: Any, item: TokenScores) -> None:
    labels = [display_token(token) for token in item.tokens]
    axes.set_xticks(range(item.n_tokens))
    axes.set_xticklabels(labels, rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
    head, tail = set(item.head_positions), set(item.tail_positions)
    for position, tick in enumerate(axes.get_xticklabels()):
        if position == item.start_position:
            tick.set_color(_COLOURS["start"])
            tick.set_fontweight("bold")
        elif position in head:
            tick.set_color(_COLOURS["head"])
        elif position in tail:
            tick.set_color(_COLOURS["tail"])


def _heat_map(axes: Any, values: np.ndarray, row_labels: list[str], item: TokenScores, title: str) -> Any:
    image = axes.imshow(values, aspect="auto", cmap="viridis", vmin=0.0, vmax=max(float(values.max()), 1e-12))
    axes.set_yticks(range(len(row_labels)))
    axes.set_yticklabels(row_labels, fontsize=8)
    _label_ticks(axes, item)
    axes.set_title(title, fontsize=9, loc="left")
    if values.shape[1] <= 40 and values.shape[0] <= 16:
        threshold = 0.6 * float(values.max())
        for row in range(values.shape[0]):
            for column in range(values.shape[1]):
                value = float(values[row, column])
                label = f"{value:.2f}"
                axes.text(
                    column,
                    row,
                    label[1:] if label.startswith("0.") else label,
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="black" if value > threshold else "white",
                )
    return image


def plot_token_scores(
    scores: TokenScores | Sequence[TokenScores],
    path: str | os.PathLike,
    *,
    title: str | None = None,
    layers: bool = False,
) -> Path:
    """Draw token scores as a heat map PNG at ``path`` and return the path.

    One panel per input, tokens on the x axis, rows ``tracing`` and ``rollout``; with ``layers=True``
    (one input only) one row per layer of tracing instead, the top layer first. The start token's
    label is red and bold, the head word's tokens blue, the tail word's green.

    The file is written atomically (a temporary file in the same folder, renamed into place); missing
    parent folders are created; a ``path`` that is an existing folder raises ``IsADirectoryError``.

    >>> import tempfile, pathlib
    >>> scores = TokenScores("cat dog", ["[CLS]", "cat", "dog", "[SEP]"], 0, "[CLS]", np.array([0.4, 0.3, 0.2, 0.1]),
    ...                      np.full(4, 0.25), [1], [2], [], [None, 0, 1, None], np.full((2, 4), 0.25))
    >>> folder = tempfile.TemporaryDirectory()
    >>> plot_token_scores(scores, pathlib.Path(folder.name) / "layers.png", layers=True).name
    'layers.png'
    >>> folder.cleanup()
    """
    items = [scores] if isinstance(scores, TokenScores) else list(scores)
    if not items:
        raise ValueError("no token scores to plot")
    for index, item in enumerate(items):
        if not isinstance(item, TokenScores):
            raise TypeError(f"item {index} is a {type(item).__name__}, not TokenScores")
    tracing_layers = None  # the one input's (layers, tokens) scores, with layers=True
    if layers:
        if len(items) != 1:
            raise ValueError(f"layers=True plots one input, got {len(items)}")
        tracing_layers = items[0].tracing_layers
        if tracing_layers is None:
            raise ValueError("these scores have no tracing_layers; compute them with trace() or token_scores()")
    target = output_file(path, ".png")

    width = min(40.0, max(6.0, 0.42 * max(item.n_tokens for item in items) + 2.0))
    if tracing_layers is not None:
        n_rows = tracing_layers.shape[0]
        heights = [0.32 * n_rows + 1.6]
    else:
        heights = [2.3] * len(items)
    figure = _figure(figsize=(width, sum(heights) + (0.4 if title else 0.0)), dpi=120)
    grid = figure.subplots(len(heights), 1, squeeze=False, gridspec_kw={"height_ratios": heights})
    for axes, item in zip(grid[:, 0], items):
        what = " ".join(item.pair) if item.pair else item.text
        panel = f"{what} | start: {display_token(item.start_token)!s} (red); head blue, tail green"
        if tracing_layers is not None:
            values = tracing_layers[::-1]
            n = values.shape[0]
            row_labels = [f"layer {n - 1 - r}" for r in range(n)]
            image = _heat_map(axes, values, row_labels, item, f"tracing per layer | {panel}")
            axes.set_ylabel("traced to the input of", fontsize=8)
        else:
            image = _heat_map(axes, np.stack([item.tracing, item.rollout]), ["tracing", "rollout"], item, panel)
        figure.colorbar(image, ax=axes, fraction=0.025, pad=0.01)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    return save_figure(figure, target)

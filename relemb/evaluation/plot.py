"""Relation-space plots: embed the pairs of a dataset, project them to 2-D, colour them by relation.

Projections come from scikit-learn (``tsne``: ``TSNE``, ``pca``: ``PCA``) or from ``umap-learn`` when it
is installed (``umap``). Datasets: a lexical relation dataset (colour = relation label) or a
relational-similarity set such as ``semeval2012``/``starter`` (its positive pairs; colour = parent class
by default, or the relation type with ``level="relation"``).

The figure is drawn on a ``matplotlib.figure.Figure`` of its own (no pyplot, so no global figure state and
no backend to choose; the PNG is rendered by Agg) and written atomically with :func:`relemb._io.save_figure`.

Example::

    from relemb import RelBERT
    from relemb.evaluation.plot import plot_relation_space
    plot_relation_space(RelBERT.from_pretrained("minilm"), "BLESS", "bless.png", data_dir="/data/relbert")
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from relemb._io import output_file, save_figure
from relemb.choices import check_choice
from relemb.data import load_labelled_pairs
from relemb.evaluation.embeddings import PairEmbedder, embed_pairs, pair_matrix
from relemb.pairs import Pair, check_pair

__all__ = ["PROJECTIONS", "PlotResult", "plot_relation_space", "project_2d"]

#: The 2-D projections of :func:`project_2d`.
PROJECTIONS: tuple[str, ...] = ("tsne", "pca", "umap")


def project_2d(embeddings: np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """Project ``(n, d)`` embeddings to ``(n, 2)`` with t-SNE, PCA or UMAP (seeded).

    >>> project_2d(np.eye(4), "pca").shape
    (4, 2)
    """
    check_choice(method, PROJECTIONS, "projection")
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(embeddings) < 3:
        raise ValueError(f"need at least 3 embeddings to project, got shape {embeddings.shape}")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(embeddings)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, (len(embeddings) - 1) / 3))
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(embeddings)
    try:
        import umap
    except ImportError:
        raise ImportError(
            "the 'umap' projection needs umap-learn: pip install umap-learn (or use tsne / pca)"
        ) from None
    return umap.UMAP(n_components=2, random_state=seed).fit_transform(embeddings)


@dataclass
class PlotResult:
    """Where the plot went and what it shows.

    >>> PlotResult("space.png", n_pairs=24, n_relations=3, method="pca").to_dict()["n_relations"]
    3
    """

    path: str
    n_pairs: int
    n_relations: int
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "n_pairs": self.n_pairs, "n_relations": self.n_relations, "method": self.method}


def _colours(n: int) -> list[Any]:
    """``n`` distinct colours: tab10, tab20, or evenly spaced on gist_ncar beyond 20."""
    import matplotlib

    if n <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(n)]
    return [matplotlib.colormaps["gist_ncar"](i / n) for i in range(n)]


def plot_relation_space(
    model: PairEmbedder,
    dataset: str | os.PathLike | Sequence[tuple[Pair, str]],
    output: str | os.PathLike,
    *,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    method: str = "tsne",
    level: str = "parent",
    max_pairs: int = 2000,
    seed: int = 0,
    batch_size: int = 64,
    show_progress_bar: bool | None = None,
    title: str | None = None,
) -> PlotResult:
    """Embed the pairs of ``dataset``, project them to 2-D and write a PNG coloured by relation, with a legend.

    Args:
        dataset: a lexical dataset (``BLESS``... or a file/folder), ``semeval2012``/``starter`` (or a file
            of relation records), or a list of ``((head, tail), label)``.
        output: the PNG path (written atomically; parent folders are created; a folder is refused).
        method: ``tsne`` | ``pca`` | ``umap`` (umap needs umap-learn).
        max_pairs: at most this many pairs are plotted (a seeded random sample of unique pairs).

    >>> import tempfile, pathlib
    >>> class Toy:                                   # any model with get_embedding(pairs, ...)
    ...     def get_embedding(self, pairs, batch_size=64, show_progress_bar=None):
    ...         return np.array([[len(h), len(t), 1.0] for h, t in pairs])
    >>> pairs = [(("cat", "animal"), "hyper"), (("oak", "tree"), "hyper"), (("wheel", "car"), "mero"),
    ...          (("petal", "flower"), "mero")]
    >>> folder = tempfile.TemporaryDirectory()
    >>> result = plot_relation_space(Toy(), pairs, pathlib.Path(folder.name) / "space.png", method="pca")
    >>> result.n_pairs, result.n_relations
    (4, 2)
    >>> folder.cleanup()
    """
    check_choice(method, PROJECTIONS, "projection")
    if max_pairs < 3:
        raise ValueError(f"max_pairs must be at least 3, got {max_pairs}")
    output = output_file(output, ".png")
    if isinstance(dataset, (str, os.PathLike)):
        labelled = load_labelled_pairs(dataset, split, data_dir, level)
        label = os.fspath(dataset)
    else:
        labelled = [(check_pair(pair, index), str(tag)) for index, (pair, tag) in enumerate(dataset)]
        label = "pairs"
    labelled = list(dict.fromkeys(labelled))  # unique (pair, label)
    if len(labelled) < 3:
        raise ValueError(f"dataset {label!r} has {len(labelled)} pairs; a plot needs at least 3")
    if len(labelled) > max_pairs:
        keep = np.sort(np.random.default_rng(seed).choice(len(labelled), size=max_pairs, replace=False))
        labelled = [labelled[i] for i in keep]
    pairs = [pair for pair, _ in labelled]
    embeddings = embed_pairs(model, pairs, batch_size, show_progress_bar)
    points = project_2d(pair_matrix(embeddings, pairs), method, seed)

    from matplotlib.figure import Figure

    names = sorted({tag for _, tag in labelled})
    colours = _colours(len(names))
    tags = np.array([tag for _, tag in labelled])
    figure = Figure(figsize=(9, 6.5), dpi=120)
    axes = figure.subplots()
    for name, colour in zip(names, colours):
        chosen = tags == name
        axes.scatter(
            points[chosen, 0], points[chosen, 1], s=10, color=colour, label=f"{name} ({chosen.sum()})", alpha=0.8
        )
    axes.set_title(title or f"{label} ({split}): {len(pairs)} pairs, {method.upper()}")
    axes.set_xticks([])
    axes.set_yticks([])
    axes.legend(
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        fontsize=8,
        markerscale=2,
        frameon=False,
        ncol=1 if len(names) <= 25 else 2,
    )
    figure.tight_layout()
    save_figure(figure, output)
    return PlotResult(path=str(output), n_pairs=len(pairs), n_relations=len(names), method=method)

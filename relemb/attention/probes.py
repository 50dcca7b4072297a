"""Attention-feature relation probes (after Chizhikova et al. 2022, "Attention Understands Semantic Relations").

For a word pair in a text (the relemb prompt by default, or any sentence with head/tail character spans)
the **attention features** are the attention weights head->tail and tail->head of every layer x head
(``2 * L * H`` values); in a prompt also mask->head, mask->tail, head->mask and tail->mask (``6 * L * H``).
For multi-token words the weight of a span pair is the **mean over the attending span's tokens of the
sum over the attended span's tokens** (how much attention one token of the source gives the target word).

Feature order: direction-major, then layer, then head: index ``d * L * H + layer * H + head`` with the
directions of :func:`directions` (layers and heads are counted from 0, as in the attention arrays).

Probes (scikit-learn ``Pipeline(StandardScaler, LogisticRegression)``, seeded):

- ``binary``: related (1) vs random (0) pairs; a dataset without random pairs (EVALution) gets as many
  generated negatives (see :func:`probe_labels`);
- ``multiclass``: the relation type, random pairs dropped.

:func:`probe_relations` runs both on a trained encoder and on a randomly initialised copy of it (the
control: what a probe finds there comes from the inputs and the architecture, not from training;
**selectivity** = model score - control score), compares with the same probe on each layer's hidden
states of the head and tail words, ranks layers x heads by the probe's standardised coefficients
(:func:`feature_importance`) and clusters the relation types by their importance vectors
(:func:`cluster_relations`, average linkage, cosine distance). Figures: :mod:`relemb.attention.plots`
(:func:`~relemb.attention.plots.plot_importance`, :func:`~relemb.attention.plots.plot_layer_scores`,
:func:`~relemb.attention.plots.plot_dendrogram`; PNG, written atomically).

Example::

    from relemb.attention import AttentionEncoder
    from relemb.attention.plots import plot_importance
    from relemb.attention.probes import probe_relations

    encoder = AttentionEncoder.from_pretrained("minilm")
    report = probe_relations(encoder, "BLESS", data_dir="/data/relbert")
    report.tasks["multiclass"].selectivity             # {'macro_f1': ..., 'accuracy': ..., 'micro_f1': ...}
    report.save("bless_probes.json")
    plot_importance(report, "bless_importance.png")

>>> feature_names(1, 2, with_mask=False)
['L0-H0 head->tail', 'L0-H1 head->tail', 'L0-H0 tail->head', 'L0-H1 tail->head']
>>> feature_location(3, n_layers=1, n_heads=2, with_mask=False)
('tail->head', 0, 1)
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from relemb._io import output_file, to_jsonable, write_json
from relemb.attention.encode import AttentionEncoder, AttentionInput, EncodedInput, check_attentions, is_random_label
from relemb.choices import check_choice
from relemb.data import LexicalPair, load_lexical_splits, stratified_sample
from relemb.pairs import Pair, check_pair

__all__ = [
    "MASK_DIRECTIONS",
    "METRICS",
    "PAIR_DIRECTIONS",
    "TASKS",
    "ProbeLabels",
    "ProbeReport",
    "ProbeResult",
    "TaskReport",
    "attention_features",
    "cluster_relations",
    "directions",
    "feature_importance",
    "feature_location",
    "feature_names",
    "fit_probe",
    "hidden_state_features",
    "probe_datasets",
    "probe_labels",
    "probe_relations",
    "span_attention",
]

logger = logging.getLogger("relemb.attention")

#: Directions of every input: ``source->target`` (the source attends to the target).
PAIR_DIRECTIONS: tuple[str, ...] = ("head->tail", "tail->head")
#: Extra directions of a prompt with a mask token.
MASK_DIRECTIONS: tuple[str, ...] = ("mask->head", "mask->tail", "head->mask", "tail->mask")
#: Probe tasks.
TASKS: tuple[str, ...] = ("binary", "multiclass")
#: The scores of a probe (:class:`ProbeResult`), in the order of the selectivity.
METRICS: tuple[str, ...] = ("macro_f1", "accuracy", "micro_f1")
#: Label of related pairs (1) and random pairs (0) in the binary task.
RELATED, RANDOM = 1, 0


# ------------------------------------------------------------------------------------------ features
def span_attention(
    attentions: np.ndarray, source_positions: Sequence[int] | np.ndarray, target_positions: Sequence[int] | np.ndarray
) -> np.ndarray:
    """Attention from one token span to another, per layer and head: ``(L, H)``.

    ``attentions`` is ``(L, H, T, T)`` with rows attending and columns attended. The value is the
    **mean over the source (attending) tokens of the sum over the target (attended) tokens**.

    >>> a = np.zeros((1, 1, 4, 4))
    >>> a[0, 0, 1, 2], a[0, 0, 1, 3], a[0, 0, 2, 2] = 0.5, 0.25, 1.0
    >>> span_attention(a, [1, 2], [2, 3])          # ((0.5 + 0.25) + (1.0 + 0)) / 2
    array([[0.875]])
    """
    attentions = check_attentions(attentions)
    source = np.asarray(source_positions, dtype=np.int64).reshape(-1)
    target = np.asarray(target_positions, dtype=np.int64).reshape(-1)
    if source.size == 0 or target.size == 0:
        raise ValueError("span_attention needs at least one source and one target position")
    n_tokens = attentions.shape[-1]
    for role, positions in (("source", source), ("target", target)):
        if positions.min() < -n_tokens or positions.max() >= n_tokens:
            raise ValueError(f"{role} positions {positions.tolist()} are outside the {n_tokens} tokens")
    block = attentions[:, :, source][:, :, :, target]  # (L, H, S, T')
    return block.sum(axis=-1).mean(axis=-1)


def directions(with_mask: bool) -> tuple[str, ...]:
    """The feature directions, in feature order.

    >>> directions(True)
    ('head->tail', 'tail->head', 'mask->head', 'mask->tail', 'head->mask', 'tail->mask')
    """
    return PAIR_DIRECTIONS + (MASK_DIRECTIONS if with_mask else ())


def feature_names(n_layers: int, n_heads: int, with_mask: bool) -> list[str]:
    """Names of the attention features in order, ``"L{layer}-H{head} {direction}"`` (0-based).

    >>> feature_names(2, 1, with_mask=False)
    ['L0-H0 head->tail', 'L1-H0 head->tail', 'L0-H0 tail->head', 'L1-H0 tail->head']
    """
    return [
        f"L{layer}-H{head} {direction}"
        for direction in directions(with_mask)
        for layer in range(n_layers)
        for head in range(n_heads)
    ]


def feature_location(index: int, n_layers: int, n_heads: int, with_mask: bool) -> tuple[str, int, int]:
    """``(direction, layer, head)`` of attention feature ``index`` (the inverse of the feature order).

    >>> feature_location(13, n_layers=2, n_heads=3, with_mask=True)
    ('mask->head', 0, 1)
    """
    names = directions(with_mask)
    size = n_layers * n_heads
    index = int(index)
    if not 0 <= index < len(names) * size:
        raise IndexError(f"feature {index} is outside the {len(names) * size} attention features")
    block, rest = divmod(index, size)
    layer, head = divmod(rest, n_heads)
    return names[block], layer, head


def attention_features(item: EncodedInput, *, with_mask: bool | None = None) -> np.ndarray:
    """The attention feature vector of one encoded input (float32): head->tail and tail->head for every
    layer x head (``2 L H``), then mask->head, mask->tail, head->mask, tail->mask (``6 L H`` in all) when
    ``with_mask`` (``None``: when the input has a mask token). Order: see :func:`feature_names`.

    >>> x = AttentionInput.from_sentence("cat dog", "cat", "dog")
    >>> a = np.zeros((1, 1, 4, 4)); a[0, 0, 1, 2] = 0.75; a[0, 0, 2, 1] = 0.25
    >>> item = EncodedInput(x, ["[CLS]", "cat", "dog", "[SEP]"], a, np.array([1]), np.array([2]),
    ...                     np.array([], dtype=int), np.array([0, 3]), [None, 0, 1, None])
    >>> attention_features(item)                     # head->tail, tail->head of the one head
    array([0.75, 0.25], dtype=float32)
    """
    has_mask = len(item.mask_positions) > 0
    if with_mask is None:
        with_mask = has_mask
    if with_mask and not has_mask:
        raise ValueError(f"with_mask=True but the input has no mask token: {item.input.text!r}")
    if len(item.head_positions) == 0 or len(item.tail_positions) == 0:
        raise ValueError(f"the input has no head or tail tokens: {item.input.text!r}")
    roles = {"head": item.head_positions, "tail": item.tail_positions, "mask": item.mask_positions}
    blocks = []
    for direction in directions(bool(with_mask)):
        source, target = direction.split("->")
        blocks.append(span_attention(item.attentions, roles[source], roles[target]).reshape(-1))
    return np.concatenate(blocks).astype(np.float32, copy=False)


def hidden_state_features(item: EncodedInput) -> np.ndarray:
    """Per layer (embeddings first), ``[mean of the head tokens' states; mean of the tail tokens' states]``:
    ``(L + 1, 2 D)`` float32. The input must have been encoded with ``output_hidden_states=True``.

    >>> x = AttentionInput.from_sentence("cat dog", "cat", "dog")
    >>> states = np.arange(8, dtype=np.float32).reshape(1, 4, 2)        # embeddings only, 4 tokens, D = 2
    >>> item = EncodedInput(x, ["[CLS]", "cat", "dog", "[SEP]"], np.full((1, 1, 4, 4), 0.25), np.array([1]),
    ...                     np.array([2]), np.array([], dtype=int), np.array([0, 3]), [None, 0, 1, None], states)
    >>> hidden_state_features(item)
    array([[2., 3., 4., 5.]], dtype=float32)
    """
    if item.hidden_states is None:
        raise ValueError("the input was encoded without hidden states; pass output_hidden_states=True")
    states = item.hidden_states
    head = states[:, item.head_positions].mean(axis=1)
    tail = states[:, item.tail_positions].mean(axis=1)
    return np.concatenate([head, tail], axis=-1).astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------- probe data
@dataclass
class ProbeLabels:
    """Pairs and labels of one probe task on one split; ``n_generated`` negatives were made up."""

    pairs: list[Pair]
    labels: np.ndarray
    n_generated: int = 0


def _pair(item: Any, index: int | None = None) -> Pair:
    """The checked (:func:`relemb.pairs.check_pair`) ``(head, tail)`` of a record with ``head`` and ``tail``
    (:class:`~relemb.data.LexicalPair`), of a ``(head, tail, relation)`` tuple or of a pair."""
    if hasattr(item, "head") and hasattr(item, "tail"):
        return check_pair((item.head, item.tail), index)
    if isinstance(item, (tuple, list)) and len(item) == 3:
        return check_pair(item[:2], index)
    return check_pair(item, index)


def _labelled(item: Any, index: int | None = None) -> tuple[Pair, str]:
    """``(pair, relation)`` of a :class:`~relemb.data.LexicalPair` (any record with ``head``, ``tail`` and
    ``relation``) or of a ``(head, tail, relation)`` tuple."""
    if hasattr(item, "relation"):
        return _pair(item, index), item.relation
    if not (isinstance(item, (tuple, list)) and len(item) == 3 and isinstance(item[2], str)):
        where = "record" if index is None else f"record at index {index}"
        raise TypeError(f"{where} is neither a LexicalPair nor a (head, tail, relation) tuple: {item!r}")
    return _pair(item, index), item[2]


def _generate_negatives(related: Sequence[Pair], n: int, seed: int, forbidden: set[Pair]) -> list[Pair]:
    heads = [h for h, _ in related]
    tails = [t for _, t in related]
    rng = np.random.default_rng(seed)
    found: list[Pair] = []
    taken = set(forbidden)
    attempts, limit = 0, 50 * n + 200
    while len(found) < n and attempts < limit and len(related) > 1:
        attempts += 1
        i, j = rng.integers(len(related), size=2)
        if i == j:
            continue
        head, tail = heads[i], tails[j]
        key = (head.lower(), tail.lower())
        if key[0] == key[1] or key in taken:
            continue
        taken.add(key)
        found.append((head, tail))
    return found


def probe_labels(
    pairs: Sequence[Any], task: str, *, seed: int = 0, exclude: Iterable[Sequence[str]] = ()
) -> ProbeLabels:
    """Pairs and labels of a probe ``task`` from :class:`~relemb.data.LexicalPair` records (or
    ``(head, tail, relation)`` tuples).

    - ``binary``: related pairs 1, random pairs 0 (:func:`~relemb.attention.is_random_label`). When there
      are **no** random pairs (EVALution), as many negatives as related pairs are generated by pairing the
      head of one pair with the tail of another (seeded); a generated pair is never a pair of ``pairs`` or
      of ``exclude`` (pass the other splits' pairs), in either order, compared case-insensitively, never
      ``(w, w)`` and never twice.
    - ``multiclass``: the relation labels, random pairs dropped.

    >>> from relemb.data import LexicalPair
    >>> data = [LexicalPair("dog", "animal", "hyper"), LexicalPair("cat", "animal", "hyper"),
    ...         LexicalPair("wheel", "car", "mero"), LexicalPair("dog", "car", "random")]
    >>> probe_labels(data, "binary").labels.tolist()
    [1, 1, 1, 0]
    >>> probe_labels(data, "multiclass").labels.tolist()
    ['hyper', 'hyper', 'mero']
    >>> made = probe_labels(data[:3], "binary", seed=0)
    >>> made.n_generated, made.labels.tolist()
    (3, [1, 1, 1, 0, 0, 0])
    """
    _check_task(task)
    records = [_labelled(item, index) for index, item in enumerate(pairs)]
    if task == "multiclass":
        kept = [(pair, relation) for pair, relation in records if not is_random_label(relation)]
        return ProbeLabels([p for p, _ in kept], np.asarray([r for _, r in kept], dtype=object))
    labels = [RANDOM if is_random_label(relation) else RELATED for _, relation in records]
    out_pairs = [p for p, _ in records]
    if RANDOM in labels or not records:
        return ProbeLabels(out_pairs, np.asarray(labels, dtype=np.int64))
    forbidden = set()
    for head, tail in [*out_pairs, *(_pair(p, index) for index, p in enumerate(exclude))]:
        forbidden.add((head.lower(), tail.lower()))
        forbidden.add((tail.lower(), head.lower()))
    negatives = _generate_negatives(out_pairs, len(out_pairs), seed, forbidden)
    if len(negatives) < len(out_pairs):
        logger.warning("only %d of %d random pairs could be generated", len(negatives), len(out_pairs))
    return ProbeLabels(
        out_pairs + negatives,
        np.asarray([RELATED] * len(out_pairs) + [RANDOM] * len(negatives), dtype=np.int64),
        n_generated=len(negatives),
    )


def _check_task(task: str) -> str:
    return check_choice(task, TASKS, "probe task")


# --------------------------------------------------------------------------------------------- probes
@dataclass
class ProbeResult:
    """Test scores of one fitted probe; ``estimator`` is the fitted scikit-learn pipeline (not serialised)."""

    accuracy: float
    macro_f1: float
    micro_f1: float
    n_train: int
    n_test: int
    n_features: int
    classes: list[Any]
    per_class_f1: dict[str, float] = field(default_factory=dict)
    converged: bool = True
    estimator: Any = field(default=None, repr=False, compare=False)

    @property
    def coef(self) -> np.ndarray:
        """The logistic regression's coefficients on standardised features, ``(1 or C, n_features)``
        (see :func:`fit_probe`)."""
        if self.estimator is None:
            raise ValueError("this probe result has no fitted estimator")
        return np.asarray(self.estimator[-1].coef_)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe scores (the estimator is left out); see :func:`fit_probe`."""
        return to_jsonable(
            {
                "accuracy": self.accuracy,
                "macro_f1": self.macro_f1,
                "micro_f1": self.micro_f1,
                "n_train": self.n_train,
                "n_test": self.n_test,
                "n_features": self.n_features,
                "classes": self.classes,
                "per_class_f1": self.per_class_f1,
                "converged": self.converged,
            }
        )


def fit_probe(
    X_train: np.ndarray,
    y_train: Sequence[Any] | np.ndarray,
    X_test: np.ndarray,
    y_test: Sequence[Any] | np.ndarray,
    *,
    seed: int = 0,
    C: float = 1.0,
    max_iter: int = 1000,
) -> ProbeResult:
    """Fit ``Pipeline(StandardScaler, LogisticRegression(C, max_iter, random_state=seed))`` on train and
    score it on test: accuracy, macro and micro F1 over the classes of train and test (``zero_division=0``).

    >>> X = np.array([[0.0], [0.1], [0.2], [1.0], [1.1], [1.2]])
    >>> result = fit_probe(X, [0, 0, 0, 1, 1, 1], X, [0, 0, 0, 1, 1, 1])
    >>> result.accuracy, result.classes, result.n_train, result.coef.shape
    (1.0, [0, 1], 6, (1, 1))
    >>> sorted(result.to_dict())[:3]
    ['accuracy', 'classes', 'converged']
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    labels_train, labels_test = np.asarray(y_train), np.asarray(y_test)
    if X_train.ndim != 2 or X_test.ndim != 2 or X_train.shape[1] != X_test.shape[1]:
        raise ValueError(f"X_train and X_test must be 2-D with the same width, got {X_train.shape} and {X_test.shape}")
    if len(X_train) != len(labels_train) or len(X_test) != len(labels_test):
        raise ValueError("X and y must have the same number of rows")
    if len(labels_test) == 0:
        raise ValueError("no test rows to score the probe on")
    classes = np.unique(labels_train)
    if len(classes) < 2:
        raise ValueError(f"the probe needs at least two classes in train, got {classes.tolist()}")
    estimator = Pipeline(
        [("scale", StandardScaler()), ("probe", LogisticRegression(C=C, max_iter=max_iter, random_state=seed))]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(X_train, labels_train)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    predictions = estimator.predict(X_test)
    labels = np.unique(np.concatenate([classes, np.unique(labels_test)]))
    per_class = f1_score(labels_test, predictions, labels=labels, average=None, zero_division=0)
    return ProbeResult(
        accuracy=float(accuracy_score(labels_test, predictions)),
        macro_f1=float(f1_score(labels_test, predictions, labels=labels, average="macro", zero_division=0)),
        micro_f1=float(f1_score(labels_test, predictions, labels=labels, average="micro", zero_division=0)),
        n_train=int(len(labels_train)),
        n_test=int(len(labels_test)),
        n_features=int(X_train.shape[1]),
        classes=[c.item() if isinstance(c, np.generic) else c for c in classes],
        per_class_f1={str(label): float(score) for label, score in zip(labels.tolist(), per_class)},
        converged=converged,
        estimator=estimator,
    )


def feature_importance(result: ProbeResult | np.ndarray, n_layers: int, n_heads: int, with_mask: bool) -> dict:
    """Where a probe's weight lies: ``|coef|`` of the standardised logistic regression per feature.

    Returns ``per_feature`` (summed over classes), ``overall`` ``(L, H)`` (summed over directions and
    classes), ``per_direction`` ``(directions, L, H)``, ``directions``, ``class_vectors`` ``(C, features)``
    (binary: one vector, for the related class) with ``classes``, and ``top``: the 20 strongest features
    with their name, direction, layer and head. ``result`` may also be a coefficient matrix.

    >>> importance = feature_importance(np.array([[0.1, -2.0, 0.0, 0.5]]), n_layers=1, n_heads=2, with_mask=False)
    >>> importance["top"][0]["name"], importance["overall"].tolist()
    ('L0-H1 head->tail', [[0.1, 2.5]])
    """
    coef = np.atleast_2d(result.coef if isinstance(result, ProbeResult) else np.asarray(result, dtype=np.float64))
    names = directions(with_mask)
    expected = len(names) * n_layers * n_heads
    if coef.shape[1] != expected:
        raise ValueError(
            f"the probe has {coef.shape[1]} features, but {n_layers} layers x {n_heads} heads x "
            f"{len(names)} directions make {expected}"
        )
    magnitude = np.abs(coef)
    per_feature = magnitude.sum(axis=0)
    per_direction = per_feature.reshape(len(names), n_layers, n_heads)
    if isinstance(result, ProbeResult):
        classes = result.classes[1:] if coef.shape[0] == 1 else list(result.classes)
    else:
        classes = list(range(coef.shape[0]))
    order = np.argsort(-per_feature, kind="stable")[:20]
    top = []
    for index in order:
        direction, layer, head = feature_location(int(index), n_layers, n_heads, with_mask)
        top.append(
            {
                "index": int(index),
                "name": f"L{layer}-H{head} {direction}",
                "direction": direction,
                "layer": layer,
                "head": head,
                "importance": float(per_feature[index]),
            }
        )
    return {
        "directions": list(names),
        "per_feature": per_feature,
        "per_direction": per_direction,
        "overall": per_direction.sum(axis=0),
        "class_vectors": magnitude,
        "classes": classes,
        "top": top,
    }


def cluster_relations(class_vectors: np.ndarray, labels: Sequence[Any]) -> dict:
    """Agglomerative clustering of relation types by their importance vectors (SciPy, average linkage,
    cosine distance). Returns ``labels``, ``distances`` (C x C cosine distances), ``linkage`` (SciPy's
    ``(C - 1, 4)`` matrix), ``leaf_order`` (indices) and ``leaf_labels`` (the dendrogram's order).

    >>> out = cluster_relations(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), ["a", "b", "c"])
    >>> out["linkage"][0][:2].tolist(), out["leaf_labels"]      # a and b merge first
    ([0.0, 1.0], ['c', 'a', 'b'])
    """
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import pdist, squareform

    vectors = np.asarray(class_vectors, dtype=np.float64)
    labels = list(labels)
    if vectors.ndim != 2 or len(vectors) != len(labels):
        raise ValueError(f"need one vector per label: {vectors.shape} vectors for {len(labels)} labels")
    if len(labels) < 2:
        raise ValueError("clustering needs at least two relation types")
    with np.errstate(invalid="ignore", divide="ignore"):
        condensed = np.nan_to_num(pdist(vectors, metric="cosine"), nan=1.0)  # a zero vector is far from all
    condensed = np.clip(condensed, 0.0, 2.0)
    matrix = linkage(condensed, method="average")
    order = leaves_list(matrix)
    return {
        "labels": labels,
        "distances": squareform(condensed),
        "linkage": matrix,
        "leaf_order": [int(i) for i in order],
        "leaf_labels": [labels[i] for i in order],
    }


# --------------------------------------------------------------------------------------------- report
@dataclass
class TaskReport:
    """One probe task: the attention probe on the model and the control, the selectivity (model - control),
    the per-layer hidden-state probes, the model probe's feature importance and (multiclass) the relation
    clustering."""

    task: str
    classes: list[Any]
    n_train: int
    n_test: int
    attention: dict[str, ProbeResult]
    selectivity: dict[str, float] | None
    hidden: dict[str, list[ProbeResult]] | None
    importance: dict[str, Any]
    clustering: dict[str, Any] | None = None
    generated_negatives: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, with each owner's hidden-state probes per layer and its best layer (by macro F1)."""
        hidden = None
        if self.hidden is not None:
            hidden = {
                owner: {
                    "layers": [r.to_dict() for r in results],
                    "macro_f1": [r.macro_f1 for r in results],
                    "best_layer": int(np.argmax([r.macro_f1 for r in results])),
                }
                for owner, results in self.hidden.items()
            }
        return to_jsonable(
            {
                "task": self.task,
                "classes": self.classes,
                "n_train": self.n_train,
                "n_test": self.n_test,
                "generated_negatives": self.generated_negatives,
                "attention": {owner: r.to_dict() for owner, r in self.attention.items()},
                "selectivity": self.selectivity,
                "hidden_states": hidden,
                "importance": self.importance,
                "clustering": self.clustering,
            }
        )


@dataclass
class ProbeReport:
    """Probe results of one encoder on one dataset, per task (``tasks["binary"]``, ``tasks["multiclass"]``)."""

    dataset: str
    model: str
    control: str | None
    n_layers: int
    n_heads: int
    with_mask: bool
    tasks: dict[str, TaskReport]
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (:func:`relemb._io.to_jsonable`): settings, timings and every task's :meth:`TaskReport.to_dict`.

        >>> sorted(report.to_dict()["tasks"]["multiclass"]["selectivity"])      # doctest: +SKIP
        ['accuracy', 'macro_f1', 'micro_f1']
        """
        return to_jsonable(
            {
                "dataset": self.dataset,
                "model": self.model,
                "control": self.control,
                "n_layers": self.n_layers,
                "n_heads": self.n_heads,
                "with_mask": self.with_mask,
                "directions": list(directions(self.with_mask)),
                "feature_order": "direction, layer, head (index = d * L * H + layer * H + head; 0-based)",
                "seed": self.seed,
                "settings": self.settings,
                "tasks": {name: task.to_dict() for name, task in self.tasks.items()},
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            }
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON (:func:`relemb._io.write_json`: atomic, parents created; an existing
        folder is refused); returns the path.

        >>> report.save("results/bless_probes.json")              # doctest: +SKIP
        PosixPath('results/bless_probes.json')
        """
        target = output_file(path)
        write_json(target, self.to_dict())
        return target


# --------------------------------------------------------------------------------------------- runner
def _dataset_label(dataset: Any, name: str | None) -> str:
    if name:
        return name
    if isinstance(dataset, (str, os.PathLike)):
        from relemb.data.names import canonical_lexical_name

        text = os.fspath(dataset)
        return (canonical_lexical_name(text) if isinstance(text, str) else None) or text
    return "pairs"


def _as_encoder(model: Any) -> AttentionEncoder:
    if isinstance(model, AttentionEncoder):
        return model
    if isinstance(model, (str, os.PathLike)):
        return AttentionEncoder.from_pretrained(os.fspath(model))
    if hasattr(model, "transformer") and hasattr(model, "tokenizer"):
        return AttentionEncoder.from_relbert(model)
    raise TypeError(f"expected an AttentionEncoder, a RelBERT or a model path, got {type(model).__name__}")


def _control_encoder(
    encoder: AttentionEncoder, control: AttentionEncoder | bool | None, seed: int
) -> AttentionEncoder | None:
    """The control of ``encoder``: its random-init copy (``None`` or ``True``), none (``False``) or ``control``."""
    if control is None or control is True:
        return encoder.random_control(seed)
    if control is False:
        return None
    return _as_encoder(control)


def _encode_features(
    encoder: AttentionEncoder,
    pairs: Sequence[Pair],
    build: Callable[[Pair], AttentionInput] | None,
    *,
    hidden_states: bool,
    batch_size: int,
    show_progress_bar: bool,
) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """One streaming pass: attention features ``(n, F)`` and hidden-state features ``(n, L + 1, 2 D)``;
    every attention matrix is dropped as soon as its features are taken."""
    inputs = encoder.inputs_from_pairs(pairs) if build is None else [build(pair) for pair in pairs]
    attention: np.ndarray | None = None
    hidden: np.ndarray | None = None
    with_mask: bool | None = None
    stream = encoder.encode(
        inputs, batch_size=batch_size, output_hidden_states=hidden_states, show_progress_bar=show_progress_bar
    )
    for index, item in enumerate(stream):
        if with_mask is None:
            with_mask = len(item.mask_positions) > 0
        features = attention_features(item, with_mask=with_mask)
        if attention is None:
            attention = np.empty((len(inputs), features.size), dtype=np.float32)
        attention[index] = features
        if hidden_states:
            states = hidden_state_features(item)
            if hidden is None:
                hidden = np.empty((len(inputs), *states.shape), dtype=np.float32)
            hidden[index] = states
    if attention is None:
        raise ValueError("no pairs to encode")
    return attention, hidden, bool(with_mask)


def probe_relations(
    encoder: AttentionEncoder | Any,
    splits: Mapping[str, Sequence[Any] | None] | str | os.PathLike,
    *,
    control: AttentionEncoder | bool | None = None,
    tasks: Sequence[str] = TASKS,
    hidden_states: bool = True,
    max_train: int | None = 5000,
    max_test: int | None = 2000,
    batch_size: int = 32,
    seed: int = 0,
    C: float = 1.0,
    max_iter: int = 1000,
    inputs: Callable[[Pair], AttentionInput] | None = None,
    data_dir: str | os.PathLike | None = None,
    show_progress_bar: bool = False,
    name: str | None = None,
) -> ProbeReport:
    """Attention-feature relation probes of ``encoder`` on a lexical dataset (see the module docstring).

    Args:
        encoder: an :class:`AttentionEncoder` (or a RelBERT, or a model path/name).
        splits: ``{"train": [...], "test": [...]}`` of :class:`~relemb.data.LexicalPair`, or a dataset
            name/folder (loaded with ``data_dir``; the validation split is unused).
        control: the control encoder; ``None`` (default): ``encoder.random_control(seed)``; ``False``: none
            (no selectivity).
        tasks: ``binary`` (related vs random) and/or ``multiclass`` (relation type).
        hidden_states: also probe each layer's hidden states of the head and tail words.
        max_train, max_test: per task, a stratified seeded sample of at most this many pairs (``None``: all).
        inputs: builds the text of a pair (default: the encoder's relation prompt); e.g.
            ``lambda p: AttentionInput.from_sentence(f"A {p[0]} and a {p[1]}.", p[0], p[1])``.
        name: the dataset label of the report.

    Each unique pair is encoded once per encoder, in one streaming pass: only its feature vectors are
    kept (``6 L H`` attention weights, and ``(L + 1) x 2 D`` hidden-state values, about 80 kB a pair for a
    base-size model). Raises ``ValueError`` naming the dataset and task when a split has a single class
    for a task.

    >>> report = probe_relations("minilm", "BLESS", data_dir="/data/relbert", max_train=2000)   # doctest: +SKIP
    >>> report.tasks["binary"].selectivity["macro_f1"] > 0                                 # doctest: +SKIP
    True
    """
    start = time.perf_counter()
    label = _dataset_label(splits, name)
    loaded = load_lexical_splits(splits, data_dir)
    tasks = tuple(tasks)
    if not tasks:
        raise ValueError("no probe task given")
    for task in tasks:
        _check_task(task)
    data: dict[str, list[LexicalPair]] = {}  # the validation split is unused
    for split in ("train", "test"):
        records = loaded[split]
        if not records:
            raise ValueError(f"{label}: the {split} split holds no pairs")
        data[split] = records
    encoder = _as_encoder(encoder)
    everything = [_pair(r, index) for records in data.values() for index, r in enumerate(records)]

    # labels and (seeded, stratified) subsamples per task and split
    task_data: dict[str, dict[str, ProbeLabels]] = {}
    for task in tasks:
        task_data[task] = {}
        for offset, (split, limit) in enumerate((("train", max_train), ("test", max_test))):
            made = probe_labels(data[split], task, seed=seed + offset, exclude=everything)
            classes = sorted({str(v) for v in made.labels.tolist()})
            if len(classes) < 2:
                raise ValueError(
                    f"{label}: the {split} split has a single class for the {task} task ({classes or 'no pairs'}); "
                    "a probe needs at least two"
                )
            keep = stratified_sample(made.labels, limit, seed)
            first_generated = len(made.pairs) - made.n_generated  # generated negatives come last
            task_data[task][split] = ProbeLabels(
                [made.pairs[i] for i in keep], made.labels[keep], n_generated=int((keep >= first_generated).sum())
            )
    unique = list(dict.fromkeys(p for parts in task_data.values() for part in parts.values() for p in part.pairs))
    row = {pair: index for index, pair in enumerate(unique)}

    control_encoder = _control_encoder(encoder, control, seed)
    seconds: dict[str, float] = {}
    owners: dict[str, AttentionEncoder] = {"model": encoder}
    if control_encoder is not None:
        owners["control"] = control_encoder
    features: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    with_mask = False
    for owner, which in owners.items():
        tick = time.perf_counter()
        attention, hidden, with_mask = _encode_features(
            which,
            unique,
            inputs,
            hidden_states=hidden_states,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
        )
        features[owner] = (attention, hidden)
        seconds[f"encode_{owner}"] = time.perf_counter() - tick
        logger.info("probes %s: encoded %d pairs with %s", label, len(unique), which.name)

    tick = time.perf_counter()
    reports: dict[str, TaskReport] = {}
    for task in tasks:
        train, test = task_data[task]["train"], task_data[task]["test"]
        rows_train = np.asarray([row[p] for p in train.pairs])
        rows_test = np.asarray([row[p] for p in test.pairs])
        y_train, y_test = train.labels, test.labels

        def fit(X: np.ndarray) -> ProbeResult:  # called within this iteration only
            return fit_probe(X[rows_train], y_train, X[rows_test], y_test, seed=seed, C=C, max_iter=max_iter)  # noqa: B023

        attention_results = {owner: fit(features[owner][0]) for owner in owners}
        selectivity = None
        if "control" in attention_results:
            model, reference = attention_results["model"], attention_results["control"]
            selectivity = {metric: getattr(model, metric) - getattr(reference, metric) for metric in METRICS}
        hidden_results = None
        if hidden_states:
            hidden_results = {}
            for owner in owners:
                states = features[owner][1]
                assert states is not None, "_encode_features keeps hidden states when asked for them"
                hidden_results[owner] = [fit(states[:, layer]) for layer in range(states.shape[1])]
        importance = feature_importance(attention_results["model"], encoder.n_layers, encoder.n_heads, with_mask)
        clustering = None
        if task == "multiclass" and len(importance["classes"]) >= 2:
            clustering = cluster_relations(importance["class_vectors"], importance["classes"])
        reports[task] = TaskReport(
            task=task,
            classes=attention_results["model"].classes,
            n_train=len(y_train),
            n_test=len(y_test),
            attention=attention_results,
            selectivity=selectivity,
            hidden=hidden_results,
            importance=importance,
            clustering=clustering,
            generated_negatives=({"train": train.n_generated, "test": test.n_generated} if task == "binary" else {}),
        )
        logger.info(
            "probes %s %s: attention macro F1 %.4f (selectivity %s)",
            label,
            task,
            attention_results["model"].macro_f1,
            "n/a" if selectivity is None else f"{selectivity['macro_f1']:+.4f}",
        )
    seconds["probes"] = time.perf_counter() - tick
    seconds["total"] = time.perf_counter() - start
    return ProbeReport(
        dataset=label,
        model=encoder.name,
        control=None if control_encoder is None else control_encoder.name,
        n_layers=encoder.n_layers,
        n_heads=encoder.n_heads,
        with_mask=with_mask,
        tasks=reports,
        seed=seed,
        settings={
            "tasks": list(tasks),
            "hidden_states": hidden_states,
            "max_train": max_train,
            "max_test": max_test,
            "C": C,
            "max_iter": max_iter,
            "template": None if inputs is not None else encoder.template,
            "n_pairs_encoded": len(unique),
        },
        seconds=seconds,
    )


def probe_datasets(
    encoder: AttentionEncoder | Any,
    datasets: Sequence[str | os.PathLike] = ("BLESS", "CogALexV", "EVALution", "K&H+N", "ROOT09"),
    *,
    data_dir: str | os.PathLike | None = None,
    control: AttentionEncoder | bool | None = None,
    seed: int = 0,
    **kwargs: Any,
) -> dict[str, ProbeReport]:
    """:func:`probe_relations` on several lexical datasets, sharing one control encoder; keyed by dataset.

    >>> reports = probe_datasets("minilm", ["BLESS", "EVALution"], data_dir="/data/relbert")   # doctest: +SKIP
    >>> sorted(reports)                                                                     # doctest: +SKIP
    ['BLESS', 'EVALution']
    """
    encoder = _as_encoder(encoder)
    control = _control_encoder(encoder, control, seed) or False
    reports = {}
    for dataset in datasets:
        report = probe_relations(encoder, dataset, control=control, data_dir=data_dir, seed=seed, **kwargs)
        reports[report.dataset] = report
    return reports

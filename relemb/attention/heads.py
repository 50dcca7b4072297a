"""What each attention head looks at (Clark et al. 2019, "What Does BERT Look At?").

Per head, over a set of relation prompts or sentences:

- **where the attention goes** (:func:`head_statistics_for`, :class:`HeadStatistics`): the average
  attention mass on the special tokens (CLS/SEP, <s>/</s>), on punctuation, on the previous and the
  next token, on the head / tail / mask positions, and the entropy of the attention distributions;
- **which heads behave alike** (:func:`head_distances`, :func:`mds_map`): Jensen-Shannon divergences
  between the heads' attention distributions, and a 2-D multidimensional scaling map of the heads;
- **heads as zero-parameter relation classifiers** (:func:`head_relation_accuracy`): how often the word
  the tail attends to most is the head word (and the other way round), per relation label, against the
  best fixed-offset baseline.

Word-level attention (:func:`word_level_attention`) follows Clark et al.: the attention *to* a word
split into several tokens is the sum over its tokens, the attention *from* it the mean over its tokens.

:func:`analyze_heads` runs all of it in one streaming pass over an :class:`AttentionEncoder`;
:meth:`HeadReport.to_dict` / :meth:`HeadReport.save` give JSON, and the figures of a report are in
:mod:`relemb.attention.plots` (:func:`~relemb.attention.plots.plot_head_statistics`,
:func:`~relemb.attention.plots.plot_head_map`, :func:`~relemb.attention.plots.plot_relation_heads`).
Layers and heads are numbered from 0 everywhere.

Example::

    encoder = AttentionEncoder.from_pretrained("minilm")
    pairs = [("camera", "photographer"), ("puppy", "dog"), ("paris", "france")]
    report = analyze_heads(encoder, encoder.inputs_from_pairs(pairs), relations=["tool", "young", "capital"])
    report.statistics.top_heads("previous", k=3)            # [(layer, head, value), ...]
    report.save("heads.json")                                # plots: relemb.attention.plots

>>> import numpy as np
>>> uniform = np.full((1, 1, 4, 4), 0.25)                   # 1 layer, 1 head, 4 tokens
>>> words, groups = word_level_attention(uniform, [None, 0, 0, None])
>>> groups, words[0, 0].round(2).tolist()
([(0,), (1, 2), (3,)], [[0.25, 0.5, 0.25], [0.25, 0.5, 0.25], [0.25, 0.5, 0.25]])
"""

from __future__ import annotations

import inspect
import math
import os
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from relemb._io import output_file, to_jsonable, write_json
from relemb.attention.encode import (
    CONTINUATION_MARK,
    WORD_START_MARKS,
    AttentionEncoder,
    AttentionInput,
    EncodedInput,
    check_attentions,
    word_groups,
)
from relemb.choices import check_choice

__all__ = [
    "HEAD_DIRECTIONS",
    "STATISTICS",
    "HeadReport",
    "HeadStatistics",
    "RelationHeadAccuracy",
    "analyze_heads",
    "head_distances",
    "head_distances_for",
    "head_relation_accuracy",
    "head_statistics_for",
    "is_punctuation",
    "mds_map",
    "word_level_attention",
]

#: The per-head statistics, in the order of tables and figures. All but ``entropy`` are attention
#: masses in [0, 1]; ``entropy`` is in nats (at most ``log(tokens)``).
STATISTICS = ("special", "punctuation", "previous", "next", "head", "tail", "mask", "entropy")

#: The two directions of the relation classifiers (:class:`RelationHeadAccuracy`): from the tail word to
#: the head word, and back. (Not the analogy directions, :data:`relemb.choices.ANALOGY_DIRECTIONS`.)
HEAD_DIRECTIONS: tuple[str, ...] = ("tail_to_head", "head_to_tail")

_SUBWORD_MARKERS = (CONTINUATION_MARK, *WORD_START_MARKS)

#: Elements of the largest intermediate array of :func:`head_distances_for` (float64: 8 bytes each).
_DISTANCE_CHUNK_ELEMENTS = 1 << 22


# ------------------------------------------------------------------------------------ word level
def word_level_attention(
    attentions: np.ndarray, word_ids: Sequence[int | None]
) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Token-level attention ``(..., T, T)`` to word level ``(..., W, W)``, and the token groups.

    The attention to a word (a column) is the *sum* over its tokens, the attention from a word (a row)
    the *mean* over its tokens, so rows that summed to 1 still do. The words are those of
    :func:`~relemb.attention.encode.word_groups` (consecutive tokens with the same word id; a special
    token, word id ``None``, on its own), in token order; ``groups[w]`` lists the token positions of word ``w``.

    >>> a = np.array([[0.1, 0.2, 0.3, 0.4],
    ...               [0.0, 0.5, 0.5, 0.0],
    ...               [1.0, 0.0, 0.0, 0.0],
    ...               [0.25, 0.25, 0.25, 0.25]])
    >>> words, groups = word_level_attention(a, [None, 7, 7, None])
    >>> groups
    [(0,), (1, 2), (3,)]
    >>> words.round(3).tolist()
    [[0.1, 0.5, 0.4], [0.5, 0.5, 0.0], [0.25, 0.5, 0.25]]
    """
    attentions = np.asarray(attentions)
    if attentions.ndim < 2 or attentions.shape[-1] != attentions.shape[-2]:
        raise ValueError(f"attentions must be (..., T, T), got shape {attentions.shape}")
    n_tokens = attentions.shape[-1]
    if len(word_ids) != n_tokens:
        raise ValueError(f"{len(word_ids)} word ids for {n_tokens} tokens")
    groups = word_groups(word_ids)
    member = np.zeros((n_tokens, len(groups)), dtype=np.float64)
    for w, tokens in enumerate(groups):
        member[list(tokens), w] = 1.0
    mean_rows = member.T / member.sum(axis=0)[:, None]  # (W, T): averages the attending tokens
    words = mean_rows @ attentions.astype(np.float64, copy=False) @ member
    return words, groups


# ---------------------------------------------------------------------------------- statistics
def is_punctuation(token: str) -> bool:
    """Whether a token is punctuation: its text without a sub-word marker (``##``, ``Ġ``, ``▁``) is
    non-empty and made of Unicode punctuation (categories P*).

    >>> is_punctuation(","), is_punctuation("Ġ."), is_punctuation("##'"), is_punctuation("Ġ"), is_punctuation("[SEP]")
    (True, True, True, False, False)
    """
    text = token
    for marker in _SUBWORD_MARKERS:
        if text.startswith(marker):
            text = text[len(marker) :]
    return bool(text) and all(unicodedata.category(char).startswith("P") for char in text)


def head_statistics_for(item: EncodedInput) -> dict[str, np.ndarray]:
    """The :data:`STATISTICS` of one encoded input, each a ``(layers, heads)`` array.

    Token level, as Clark et al.: each value is the mean over the attending tokens (all rows, special
    tokens included) of the attention mass on the target tokens. ``previous`` averages over the tokens
    that have a previous token (all but the first), ``next`` over those that have a next one;
    ``mask`` is NaN when the input has no mask token; ``entropy`` is the mean over rows of
    ``-sum p log p`` in nats. Special tokens never count as punctuation.

    >>> from relemb.attention.encode import AttentionInput
    >>> x = AttentionInput.from_sentence("cat dog", "cat", "dog")
    >>> previous = np.eye(4, k=-1)[None, None]; previous[0, 0, 0, 0] = 1.0   # attend to the previous token
    >>> item = EncodedInput(x, ["[CLS]", "cat", "dog", "[SEP]"], previous, np.array([1]), np.array([2]),
    ...                     np.array([], dtype=int), np.array([0, 3]), [None, 0, 1, None])
    >>> stats = head_statistics_for(item)
    >>> [float(stats[name][0, 0]) for name in ("previous", "next", "head", "mask")]
    [1.0, 0.0, 0.25, nan]
    """
    attentions = _attentions_of(item)
    n_layers, n_heads, n_tokens, _ = attentions.shape
    special = _positions_of(item.special_positions, n_tokens, "special")
    special_set = set(special.tolist())
    punctuation = np.asarray(
        [i for i, token in enumerate(item.tokens) if i not in special_set and is_punctuation(token)], dtype=np.int64
    )
    if len(item.tokens) != n_tokens:
        raise ValueError(f"{len(item.tokens)} tokens for attentions over {n_tokens} tokens")

    def mass(positions: np.ndarray) -> np.ndarray:
        if len(positions) == 0:
            return np.zeros((n_layers, n_heads))
        return attentions[..., positions].sum(axis=-1).mean(axis=-1)

    nan = np.full((n_layers, n_heads), np.nan)
    rows = np.arange(n_tokens)
    stats = {
        "special": mass(special),
        "punctuation": mass(punctuation),
        "previous": attentions[..., rows[1:], rows[1:] - 1].mean(axis=-1) if n_tokens > 1 else nan.copy(),
        "next": attentions[..., rows[:-1], rows[:-1] + 1].mean(axis=-1) if n_tokens > 1 else nan.copy(),
        "head": mass(_positions_of(item.head_positions, n_tokens, "head")),
        "tail": mass(_positions_of(item.tail_positions, n_tokens, "tail")),
        "mask": mass(_positions_of(item.mask_positions, n_tokens, "mask")) if len(item.mask_positions) else nan,
        "entropy": _row_entropy(attentions).mean(axis=-1),
    }
    return stats


def _attentions_of(item: EncodedInput | np.ndarray) -> np.ndarray:
    """The checked attentions of an item (or an array) as float64 ``(layers, heads, T, T)``."""
    attentions = item.attentions if isinstance(item, EncodedInput) else item
    return check_attentions(attentions).astype(np.float64, copy=False)


def _positions_of(positions: Any, n_tokens: int, role: str) -> np.ndarray:
    positions = np.asarray(positions, dtype=np.int64).reshape(-1)
    if positions.size and (positions.min() < 0 or positions.max() >= n_tokens):
        raise ValueError(f"{role} positions {positions.tolist()} fall outside {n_tokens} tokens")
    return np.unique(positions)


def _row_entropy(p: np.ndarray) -> np.ndarray:
    """``-sum p log p`` over the last axis, in nats (0 log 0 = 0)."""
    from scipy.special import entr

    return entr(np.clip(p, 0.0, None)).sum(axis=-1)


@dataclass
class HeadStatistics:
    """The :data:`STATISTICS` averaged over inputs, each a ``(layers, heads)`` array.

    Streams: :meth:`update` adds one :class:`EncodedInput` (only running sums and counts are kept).
    Every input weighs the same; ``mask`` averages over the inputs that have a mask token (NaN when
    none has).

    >>> stats = HeadStatistics(n_layers=1, n_heads=2)
    >>> stats.n_inputs, stats.mean("special").shape
    (0, (1, 2))
    """

    n_layers: int
    n_heads: int
    n_inputs: int = 0
    sums: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    counts: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        shape = (self.n_layers, self.n_heads)
        for name in STATISTICS:
            self.sums.setdefault(name, np.zeros(shape))
            self.counts.setdefault(name, np.zeros(shape, dtype=np.int64))

    @classmethod
    def from_items(cls, items: Iterable[EncodedInput]) -> HeadStatistics:
        """The statistics of ``items`` (any iterable, e.g. :meth:`AttentionEncoder.encode`).

        >>> stats = HeadStatistics.from_items(encoder.encode(inputs))       # doctest: +SKIP
        """
        stats: HeadStatistics | None = None
        for item in items:
            if stats is None:
                stats = cls(item.n_layers, item.n_heads)
            stats.update(item)
        if stats is None:
            raise ValueError("no inputs: head statistics need at least one encoded input")
        return stats

    def update(self, item: EncodedInput | dict[str, np.ndarray]) -> None:
        """Add one input (an :class:`EncodedInput`, or its :func:`head_statistics_for` result).

        >>> stats = HeadStatistics(1, 1)
        >>> stats.update({name: np.array([[0.5]]) for name in STATISTICS})
        >>> stats.update({name: np.array([[np.nan if name == "mask" else 1.0]]) for name in STATISTICS})
        >>> stats.n_inputs, stats.mean("previous").tolist(), stats.mean("mask").tolist()   # mask: 1 input
        (2, [[0.75]], [[0.5]])
        """
        values = head_statistics_for(item) if isinstance(item, EncodedInput) else item
        for name in STATISTICS:
            value = np.asarray(values[name], dtype=np.float64)
            if value.shape != (self.n_layers, self.n_heads):
                raise ValueError(
                    f"{name}: got a {value.shape} array for a model of {self.n_layers} layers x {self.n_heads} heads"
                )
            defined = ~np.isnan(value)
            self.sums[name] += np.where(defined, value, 0.0)
            self.counts[name] += defined
        self.n_inputs += 1

    def mean(self, stat: str) -> np.ndarray:
        """The ``(layers, heads)`` mean of one statistic (NaN where no input defined it); ``KeyError`` for
        a name not in :data:`STATISTICS`.

        >>> HeadStatistics(1, 2).mean("special").tolist()          # no input yet
        [[nan, nan]]
        """
        try:
            _check_stat(stat)
        except ValueError as error:
            raise KeyError(str(error)) from None
        counts = self.counts[stat]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, self.sums[stat] / np.maximum(counts, 1), np.nan)

    @property
    def means(self) -> dict[str, np.ndarray]:
        """Every statistic's :meth:`mean`, by name, in the order of :data:`STATISTICS`."""
        return {name: self.mean(name) for name in STATISTICS}

    def __getitem__(self, stat: str) -> np.ndarray:
        return self.mean(stat)

    def top_heads(self, stat: str, k: int = 5, *, largest: bool = True) -> list[tuple[int, int, float]]:
        """The ``k`` heads with the largest (or smallest) mean ``stat``: ``[(layer, head, value), ...]``, NaN last.

        >>> stats = HeadStatistics(1, 3)
        >>> stats.update({name: np.array([[0.1, 0.9, 0.5]]) for name in STATISTICS})
        >>> stats.top_heads("previous", k=2)
        [(0, 1, 0.9), (0, 2, 0.5)]
        """
        return _top(self.mean(stat), k, largest)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``{"n_inputs", "n_layers", "n_heads", "statistics": {stat: [[...]]}}`` (NaN -> None).

        >>> HeadStatistics(1, 2).to_dict()["statistics"]["entropy"]
        [[None, None]]
        """
        return {
            "n_inputs": self.n_inputs,
            "n_layers": self.n_layers,
            "n_heads": self.n_heads,
            "statistics": to_jsonable({name: self.mean(name) for name in STATISTICS}),
        }


def _top(values: np.ndarray, k: int, largest: bool = True) -> list[tuple[int, int, float]]:
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    flat = values.reshape(-1)
    key = np.where(np.isnan(flat), np.inf, -flat if largest else flat)
    order = np.argsort(key, kind="stable")[:k]
    n_heads = values.shape[1]
    return [(int(i // n_heads), int(i % n_heads), float(flat[i])) for i in order]


def _check_stat(name: str) -> str:
    return check_choice(name, STATISTICS, "statistic")


# ----------------------------------------------------------------------------------- distances
def head_distances_for(item: EncodedInput | np.ndarray) -> np.ndarray:
    """Distances between the heads of one input: ``(L*H, L*H)``, head ``(l, h)`` at index ``l * H + h``.

    The distance between two heads is the Jensen-Shannon divergence (natural log, not its square root)
    between their attention distributions from the same token, summed over the attending tokens
    (Clark et al. 2019, Sec. 6). Each value lies in ``[0, T log 2]``; the diagonal is 0. Computed as
    ``H(mixture) - (H(p) + H(q)) / 2`` in chunks of head pairs, so memory stays bounded for large models.

    >>> same = np.full((1, 2, 2, 2), 0.5)
    >>> head_distances_for(same).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    >>> apart = np.array([[[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]]])   # 2 heads, 2 tokens
    >>> round(float(head_distances_for(apart)[0, 1] / np.log(2)), 6)              # 2 tokens x log 2
    2.0
    """
    attentions = _attentions_of(item)
    from scipy.special import entr

    n_layers, n_heads, n_tokens, _ = attentions.shape
    n = n_layers * n_heads
    p = np.clip(attentions.reshape(n, n_tokens, n_tokens), 0.0, None)
    own = entr(p).sum(axis=(-1, -2))  # (n,) entropies summed over the attending tokens
    distances = np.zeros((n, n))
    chunk = max(1, _DISTANCE_CHUNK_ELEMENTS // max(1, n * n_tokens * n_tokens))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        mixture = p[start:stop, None] + p[None, start:]  # (c, n - start, T, T), upper triangle only
        mixture *= 0.5
        mixed = entr(mixture).sum(axis=(-1, -2))
        distances[start:stop, start:] = mixed - 0.5 * (own[start:stop, None] + own[None, start:])
    upper = np.triu(distances, k=1)
    distances = np.clip(upper + upper.T, 0.0, None)
    np.fill_diagonal(distances, 0.0)
    return distances


def head_distances(items: Iterable[EncodedInput]) -> np.ndarray:
    """:func:`head_distances_for` averaged over ``items`` (streaming): ``(L*H, L*H)``, symmetric, zero diagonal.

    >>> apart = np.array([[[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]]])   # 2 heads, 2 tokens
    >>> same = np.full((1, 2, 2, 2), 0.5)
    >>> (head_distances([apart, same]) / np.log(2)).round(6).tolist()              # (2 + 0) / 2
    [[0.0, 1.0], [1.0, 0.0]]
    """
    total: np.ndarray | None = None
    count = 0
    for item in items:
        current = head_distances_for(item)
        if total is None:
            total = current
        elif current.shape != total.shape:
            raise ValueError(f"inputs from different models: {current.shape} vs {total.shape} head distances")
        else:
            total += current
        count += 1
    if total is None:
        raise ValueError("no inputs: head distances need at least one encoded input")
    return total / count


def mds_map(distances: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D metric MDS coordinates ``(n, 2)`` of a precomputed distance matrix (symmetrised first).

    scikit-learn's ``MDS`` with precomputed dissimilarities (classical-MDS initialisation where the
    installed version has it); 1 or 2 points are placed exactly without it.

    >>> points = mds_map(np.array([[0.0, 2.0], [2.0, 0.0]]))
    >>> float(np.linalg.norm(points[0] - points[1]))
    2.0
    """
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"distances must be a square matrix, got shape {d.shape}")
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise ValueError("distances must be finite and non-negative")
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    n = d.shape[0]
    if n == 0:
        return np.zeros((0, 2))
    if n == 1:
        return np.zeros((1, 2))
    if n == 2:
        return np.array([[-d[0, 1] / 2, 0.0], [d[0, 1] / 2, 0.0]])
    if not d.any():
        return np.zeros((n, 2))
    from sklearn.manifold import MDS

    params = inspect.signature(MDS).parameters
    kwargs: dict[str, Any] = {"n_components": 2, "random_state": seed, "n_init": 1, "normalized_stress": "auto"}
    if "metric_mds" in params:  # scikit-learn >= 1.8: metric names the dissimilarity
        kwargs.update(metric_mds=True, metric="precomputed")
    else:
        kwargs.update(metric=True, dissimilarity="precomputed")
    if "init" in params:
        kwargs["init"] = "classical_mds"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        points = MDS(**kwargs).fit_transform(d)
    return np.asarray(points, dtype=np.float64)


# ------------------------------------------------------------------------- relation classifiers
@dataclass
class RelationHeadAccuracy:
    """Attention heads as zero-parameter relation classifiers, accumulated over inputs.

    For direction ``tail_to_head``, a head predicts, for each input, the word that the tail word
    attends to most (word level, :func:`word_level_attention`), *excluding the tail word itself and the
    special tokens* (which absorb most attention in many heads and would otherwise make every head
    predict ``[SEP]``); the prediction is right when that word is (part of) the head. When the tail
    occurs more than once or spans several words, the rows of its words are averaged. ``head_to_tail``
    is the same from the head word. Ties go to the earlier word.

    The baseline is the best fixed offset (Clark et al.): predict the word ``k`` words after the first
    tail word (special tokens not counted), with the ``k`` that is right most often for the relation.
    On prompts of one template the head sits at a fixed offset, so that baseline is close to 1 there:
    compare heads to it, not to chance.

    ``hits[direction][label]`` holds ``(layers, heads)`` counts, ``totals[direction][label]`` the inputs,
    ``offset_hits[direction][label]`` a Counter of right offsets; label ``None`` is all inputs. The
    directions are :data:`HEAD_DIRECTIONS`.

    >>> from relemb.attention.encode import AttentionInput
    >>> x = AttentionInput.from_sentence("cat and dog", "cat", "dog")
    >>> a = np.zeros((1, 2, 5, 5)); a[0, 0, :, 1] = 1.0; a[0, 1, :, 2] = 1.0   # head 0 looks at "cat", 1 at "and"
    >>> item = EncodedInput(x, ["[CLS]", "cat", "and", "dog", "[SEP]"], a, np.array([1]), np.array([3]),
    ...                     np.array([], dtype=int), np.array([0, 4]), [None, 0, 1, 2, None])
    >>> scores = RelationHeadAccuracy(n_layers=1, n_heads=2)
    >>> scores.update(item, "animal")
    >>> scores.n_inputs(), scores.accuracy().tolist(), scores.best_head(relation="animal"), scores.baseline()
    (1, [[1.0, 0.0]], (0, 0, 1.0), (-2, 1.0))
    >>> scores.to_dict()["tail_to_head"]["per_relation"]["animal"]["best_head"]
    {'layer': 0, 'head': 0, 'accuracy': 1.0}
    """

    n_layers: int
    n_heads: int
    hits: dict[str, dict[str | None, np.ndarray]] = field(default_factory=dict, repr=False)
    totals: dict[str, Counter] = field(default_factory=dict, repr=False)
    offset_hits: dict[str, dict[str | None, Counter]] = field(default_factory=dict, repr=False)
    labels: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for direction in HEAD_DIRECTIONS:
            self.hits.setdefault(direction, {})
            self.totals.setdefault(direction, Counter())
            self.offset_hits.setdefault(direction, {})

    def update(self, item: EncodedInput, relation: str | None = None) -> None:
        """Add one input, with its relation label (or ``None``)."""
        if relation is not None and not isinstance(relation, str):
            relation = str(relation)
        if relation is not None and relation not in self.labels:
            self.labels.append(relation)
        for direction, outcome in _relation_outcomes(item).items():
            if outcome is None:
                continue
            hit, offsets = outcome
            if hit.shape != (self.n_layers, self.n_heads):
                raise ValueError(f"got {hit.shape} heads for a model of {self.n_layers} layers x {self.n_heads} heads")
            for label in (None, relation) if relation is not None else (None,):
                counts = self.hits[direction].setdefault(label, np.zeros((self.n_layers, self.n_heads), dtype=np.int64))
                counts += hit
                self.totals[direction][label] += 1
                self.offset_hits[direction].setdefault(label, Counter()).update(offsets)

    @property
    def relations(self) -> list[str]:
        """The relation labels seen, in order of first appearance."""
        return list(self.labels)

    def n_inputs(self, direction: str = "tail_to_head", relation: str | None = None) -> int:
        """How many inputs (of ``relation``, or all) could be scored in ``direction``."""
        return int(self.totals[_check_direction(direction)][relation])

    def accuracy(self, direction: str = "tail_to_head", relation: str | None = None) -> np.ndarray:
        """``(layers, heads)`` accuracies over all inputs (``relation=None``) or one relation's (NaN if none)."""
        total = self.n_inputs(direction, relation)
        if total == 0:
            return np.full((self.n_layers, self.n_heads), np.nan)
        return self.hits[direction][relation] / total

    def best_head(self, direction: str = "tail_to_head", relation: str | None = None) -> tuple[int, int, float]:
        """``(layer, head, accuracy)`` of the most accurate head (the first one on ties)."""
        return _top(self.accuracy(direction, relation), 1)[0]

    def baseline(self, direction: str = "tail_to_head", relation: str | None = None) -> tuple[int | None, float]:
        """``(offset, accuracy)`` of the best fixed-offset baseline (``(None, nan)`` without inputs)."""
        total = self.n_inputs(direction, relation)
        offsets = self.offset_hits[_check_direction(direction)].get(relation, Counter())
        if total == 0:
            return None, math.nan
        if not offsets:
            return None, 0.0
        offset, hits = min(offsets.items(), key=lambda kv: (-kv[1], abs(kv[0]), kv[0]))
        return int(offset), hits / total

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: per direction, ``overall`` and ``per_relation`` accuracies, best head and baseline."""

        def summary(direction: str, relation: str | None) -> dict[str, Any]:
            layer, head, accuracy = self.best_head(direction, relation)
            offset, baseline = self.baseline(direction, relation)
            return {
                "n_inputs": self.n_inputs(direction, relation),
                "accuracy": self.accuracy(direction, relation),
                "best_head": {"layer": layer, "head": head, "accuracy": accuracy},
                "baseline": {"offset": offset, "accuracy": baseline},
            }

        return to_jsonable(
            {
                direction: {
                    "overall": summary(direction, None),
                    "per_relation": {label: summary(direction, label) for label in self.labels},
                }
                for direction in HEAD_DIRECTIONS
            }
        )


def _check_direction(direction: str) -> str:
    return check_choice(direction, HEAD_DIRECTIONS, "direction")


def _relation_outcomes(item: EncodedInput) -> dict[str, tuple[np.ndarray, set[int]] | None]:
    """Per direction: which heads are right ``(layers, heads)`` and the right fixed offsets, or ``None``
    when the input cannot be scored (the two words share a word)."""
    attentions = _attentions_of(item)
    n_tokens = attentions.shape[-1]
    words, groups = word_level_attention(attentions, item.word_ids)
    word_of = np.empty(n_tokens, dtype=np.int64)
    for w, tokens in enumerate(groups):
        word_of[list(tokens)] = w
    special_tokens = set(_positions_of(item.special_positions, n_tokens, "special").tolist())
    special_words = {w for w, tokens in enumerate(groups) if all(t in special_tokens for t in tokens)}
    regular = [w for w in range(len(groups)) if w not in special_words]
    rank = {w: i for i, w in enumerate(regular)}  # word index among the regular words
    roles = {
        "head": sorted({int(word_of[p]) for p in _positions_of(item.head_positions, n_tokens, "head")}),
        "tail": sorted({int(word_of[p]) for p in _positions_of(item.tail_positions, n_tokens, "tail")}),
    }
    outcomes: dict[str, tuple[np.ndarray, set[int]] | None] = {}
    for direction, source, target in (("tail_to_head", "tail", "head"), ("head_to_tail", "head", "tail")):
        sources = roles[source]
        targets = [w for w in roles[target] if w not in sources and w not in special_words]
        if not sources or not targets:
            outcomes[direction] = None
            continue
        row = words[..., sources, :].mean(axis=-2)  # (L, H, W)
        excluded = sorted(set(sources) | special_words)
        row[..., excluded] = -np.inf
        predicted = row.argmax(axis=-1)
        hit = np.isin(predicted, targets)
        anchor = rank[sources[0]] if sources[0] in rank else None
        offsets = {rank[w] - anchor for w in targets if w in rank} if anchor is not None else set()
        outcomes[direction] = (hit, offsets)
    return outcomes


def head_relation_accuracy(
    items: Iterable[EncodedInput], relations: Sequence[str] | None = None
) -> RelationHeadAccuracy:
    """Score every head as a zero-parameter relation classifier (see :class:`RelationHeadAccuracy`).

    ``relations``, when given, is a label per item (same order and length) for per-relation accuracies.

    >>> from relemb.attention.encode import AttentionInput
    >>> x = AttentionInput.from_sentence("cat dog", "cat", "dog")
    >>> a = np.zeros((1, 1, 4, 4)); a[..., :, 1] = 1.0                       # everything attends to "cat"
    >>> item = EncodedInput(x, ["[CLS]", "cat", "dog", "[SEP]"], a, np.array([1]), np.array([2]),
    ...                     np.array([], dtype=int), np.array([0, 3]), [None, 0, 1, None])
    >>> result = head_relation_accuracy([item], ["animal"])
    >>> result.accuracy("tail_to_head").tolist(), result.best_head(relation="animal"), result.baseline()
    ([[1.0]], (0, 0, 1.0), (-1, 1.0))
    """
    result: RelationHeadAccuracy | None = None
    labels = None if relations is None else list(relations)
    count = 0
    for index, item in enumerate(items):
        if labels is not None and index >= len(labels):
            raise ValueError(f"more items than relation labels ({len(labels)})")
        if result is None:
            result = RelationHeadAccuracy(item.n_layers, item.n_heads)
        result.update(item, None if labels is None else labels[index])
        count += 1
    if labels is not None and count != len(labels):
        raise ValueError(f"{len(labels)} relation labels for {count} items")
    if result is None:
        raise ValueError("no inputs: relation accuracy needs at least one encoded input")
    return result


# ------------------------------------------------------------------------------------- analysis
@dataclass
class HeadReport:
    """Everything :func:`analyze_heads` measures about one model's heads."""

    model: str
    n_layers: int
    n_heads: int
    n_inputs: int
    statistics: HeadStatistics
    relation_accuracy: RelationHeadAccuracy
    distances: np.ndarray | None = None
    mds: np.ndarray | None = None

    def head_label(self, index: int) -> str:
        """``"L{layer}-H{head}"`` of a flat head index (``layer * n_heads + head``).

        >>> HeadReport("toy", 2, 3, 0, HeadStatistics(2, 3), RelationHeadAccuracy(2, 3)).head_label(4)
        'L1-H1'
        """
        return f"L{index // self.n_heads}-H{index % self.n_heads}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (:func:`relemb._io.to_jsonable`: NaN -> ``None``); the distance matrix and MDS
        coordinates as nested lists, indexed by ``layer * n_heads + head``.

        >>> report = HeadReport("toy", 1, 2, 0, HeadStatistics(1, 2), RelationHeadAccuracy(1, 2))
        >>> data = report.to_dict()
        >>> data["statistics"]["special"], data["relation_heads"]["tail_to_head"]["overall"]["baseline"]
        ([[None, None]], {'offset': None, 'accuracy': None})
        """
        return to_jsonable(
            {
                "model": self.model,
                "n_layers": self.n_layers,
                "n_heads": self.n_heads,
                "n_inputs": self.n_inputs,
                "statistics": self.statistics.to_dict()["statistics"],
                "top_heads": {
                    name: [
                        {"layer": layer, "head": head, "value": value}
                        for layer, head, value in self.statistics.top_heads(name, 5)
                    ]
                    for name in STATISTICS
                },
                "relation_heads": self.relation_accuracy.to_dict(),
                "distance": "Jensen-Shannon divergence (nats) summed over attending tokens, mean over inputs",
                "distances": self.distances,
                "mds": self.mds,
            }
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON (:func:`relemb._io.write_json`: atomic, parent folders created; a
        folder is refused); returns the path.

        >>> report.save("results/heads.json")                # doctest: +SKIP
        PosixPath('results/heads.json')
        """
        target = output_file(path)
        write_json(target, self.to_dict(), indent=1)
        return target


def analyze_heads(
    encoder: AttentionEncoder,
    inputs: Sequence[AttentionInput],
    *,
    relations: Sequence[str] | None = None,
    batch_size: int = 32,
    show_progress_bar: bool = False,
    distances: bool = True,
    seed: int = 0,
) -> HeadReport:
    """Head statistics, head distances with their MDS map, and relation-classifier accuracies, in one
    streaming pass over ``encoder.encode(inputs)`` (no attention tensor is kept beyond its batch).

    ``relations`` is a label per input for per-relation accuracies; ``distances=False`` skips the
    Jensen-Shannon distances and the MDS map, whose cost grows with ``(layers * heads * tokens)**2``
    (about a second per input for 24 layers x 16 heads at 32 tokens on one CPU core; MiniLM: milliseconds).

    >>> encoder = AttentionEncoder.from_pretrained("minilm")                      # doctest: +SKIP
    >>> report = analyze_heads(encoder, encoder.inputs_from_pairs([("puppy", "dog"), ("oak", "tree")]),
    ...                        relations=["young", "hyper"])                      # doctest: +SKIP
    >>> layer, head, mass = report.statistics.top_heads("previous", k=1)[0]      # doctest: +SKIP
    """
    inputs = list(inputs)
    if not inputs:
        raise ValueError("no inputs to analyse")
    labels = None if relations is None else [str(r) for r in relations]
    if labels is not None and len(labels) != len(inputs):
        raise ValueError(f"{len(labels)} relation labels for {len(inputs)} inputs")
    statistics = HeadStatistics(encoder.n_layers, encoder.n_heads)
    accuracy = RelationHeadAccuracy(encoder.n_layers, encoder.n_heads)
    total: np.ndarray | None = None
    items: Iterator[EncodedInput] = encoder.encode(inputs, batch_size=batch_size, show_progress_bar=show_progress_bar)
    for index, item in enumerate(items):
        statistics.update(item)
        accuracy.update(item, None if labels is None else labels[index])
        if distances:
            current = head_distances_for(item)
            total = current if total is None else total + current
    matrix = None if total is None else total / statistics.n_inputs
    return HeadReport(
        model=str(encoder.name),
        n_layers=encoder.n_layers,
        n_heads=encoder.n_heads,
        n_inputs=statistics.n_inputs,
        statistics=statistics,
        relation_accuracy=accuracy,
        distances=matrix,
        mds=None if matrix is None else mds_map(matrix, seed=seed),
    )

"""Analogy questions: pure scoring functions on embeddings, and a runner that embeds a dataset once.

A question has a stem pair and k choice pairs; the predicted answer is the choice whose embedding is
most similar (cosine) to the stem's. **Ties: the first maximum wins** (``numpy.argmax``), so among
equally similar choices the one listed first is predicted (scores within :data:`TIE_TOLERANCE` of the
maximum count as equal, so float rounding of parallel vectors does not break a tie).

Directions (published RelBERT numbers are ``forward``):

* ``forward``: ``cos(emb(a, b), emb(c, d))``;
* ``reverse``: ``cos(emb(b, a), emb(d, c))``;
* ``bidirectional``: the product ``cos(emb(a, b), emb(c, d)) * cos(emb(b, a), emb(d, c))``
  (the reference's formula; two negative cosines give a positive product).

>>> import numpy as np
>>> stem = np.array([[1.0, 0.0]])
>>> choices = [np.array([[0.0, 1.0], [1.0, 0.1], [1.0, 0.1]])]  # choices 1 and 2 tie
>>> predict_answers(analogy_scores(stem, choices)).tolist()
[1]
>>> analogy_accuracy(stem, choices, [1])
1.0
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relemb.choices import ANALOGY_DIRECTIONS, check_choice
from relemb.data import AnalogyQuestion, load_analogy
from relemb.evaluation.embeddings import PairEmbedder, embed_pairs
from relemb.evaluation.statistics import N_RESAMPLES, bootstrap_interval
from relemb.pairs import Pair
from relemb.results import fingerprint

__all__ = [
    "ANALOGY_DIRECTIONS",
    "TIE_TOLERANCE",
    "AnalogyResult",
    "PairEmbedder",
    "analogy_accuracy",
    "analogy_scores",
    "check_direction",
    "cosine_rows",
    "embed_pairs",
    "evaluate_analogy",
    "group_accuracy",
    "load_questions",
    "predict_answers",
    "question_pairs",
    "score_questions",
]

logger = logging.getLogger("relemb.evaluation")

#: Scores closer than this to a question's best score count as tied with it (the first of them wins).
TIE_TOLERANCE = 1e-9


def check_direction(direction: str) -> str:
    """Return ``direction`` if it is one of :data:`~relemb.choices.ANALOGY_DIRECTIONS`, else raise ``ValueError``."""
    return check_choice(direction, ANALOGY_DIRECTIONS, "direction")


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def cosine_rows(vector: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Cosine similarity of one vector ``(d,)`` with each row of ``matrix`` ``(k, d)``; a zero vector scores 0.

    >>> cosine_rows(np.array([1.0, 0.0]), np.array([[2.0, 0.0], [0.0, 3.0], [0.0, 0.0]])).tolist()
    [1.0, 0.0, 0.0]
    """
    return _unit(matrix) @ _unit(vector)


def _check_shapes(stem_emb: np.ndarray, choice_embs: Sequence[np.ndarray], what: str) -> np.ndarray:
    stem_emb = np.asarray(stem_emb)
    if stem_emb.ndim != 2:
        raise ValueError(f"{what}stem embeddings must be a (n, d) matrix, got shape {stem_emb.shape}")
    if len(choice_embs) != len(stem_emb):
        raise ValueError(f"{what}got {len(stem_emb)} stem embeddings but {len(choice_embs)} choice matrices")
    for index, choices in enumerate(choice_embs):
        shape = np.shape(choices)
        if len(shape) != 2 or shape[0] < 1 or shape[1] != stem_emb.shape[1]:
            raise ValueError(
                f"{what}choice embeddings of question {index} must be a (k, {stem_emb.shape[1]}) matrix, got {shape}"
            )
    return stem_emb


def analogy_scores(
    stem_emb: np.ndarray,
    choice_embs: Sequence[np.ndarray],
    *,
    direction: str = "forward",
    reverse_stem_emb: np.ndarray | None = None,
    reverse_choice_embs: Sequence[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Similarity of each question's stem to each of its choices: a list of ``(k_i,)`` arrays.

    Args:
        stem_emb: ``(n, d)`` embeddings of the stems ``(a, b)``.
        choice_embs: ``n`` matrices ``(k_i, d)``, the embeddings of each question's choices ``(c, d)``
            (any number of choices per question).
        direction: ``forward`` | ``reverse`` | ``bidirectional`` (see the module docstring).
        reverse_stem_emb, reverse_choice_embs: embeddings of the reversed pairs ``(b, a)`` and ``(d, c)``;
            needed for ``reverse`` and ``bidirectional``.
    """
    check_direction(direction)
    if len(choice_embs) == 0 and np.size(stem_emb) == 0:
        return []
    needs_reverse = direction != "forward"
    if needs_reverse and (reverse_stem_emb is None or reverse_choice_embs is None):
        raise ValueError(f"direction {direction!r} needs reverse_stem_emb and reverse_choice_embs")
    forward: list[np.ndarray] = []
    if direction != "reverse":
        stem_emb = _check_shapes(stem_emb, choice_embs, "")
        forward = [cosine_rows(s, c) for s, c in zip(stem_emb, choice_embs)]
    if not needs_reverse:
        return forward
    assert reverse_stem_emb is not None and reverse_choice_embs is not None  # checked above
    reverse_stem_emb = _check_shapes(reverse_stem_emb, reverse_choice_embs, "reverse ")
    reverse = [cosine_rows(s, c) for s, c in zip(reverse_stem_emb, reverse_choice_embs)]
    if direction == "reverse":
        return reverse
    if [len(f) for f in forward] != [len(r) for r in reverse]:
        raise ValueError("forward and reverse choice embeddings have different numbers of choices")
    return [f * r for f, r in zip(forward, reverse)]


def predict_answers(scores: Sequence[np.ndarray]) -> np.ndarray:
    """Index of the best choice of each question; **the first maximum wins** on ties (scores within
    :data:`TIE_TOLERANCE` of the maximum are tied).

    >>> predict_answers([np.array([0.2, 0.9, 0.9]), np.array([0.5, 0.1])]).tolist()
    [1, 0]
    """
    out = np.empty(len(scores), dtype=np.int64)
    for index, row in enumerate(scores):
        row = np.asarray(row, dtype=np.float64)
        if row.size == 0:
            raise ValueError(f"question {index} has no choices")
        out[index] = int(np.flatnonzero(row >= row.max() - TIE_TOLERANCE)[0])
    return out


def analogy_accuracy(
    stem_emb: np.ndarray,
    choice_embs: Sequence[np.ndarray],
    answers: Sequence[int],
    *,
    direction: str = "forward",
    reverse_stem_emb: np.ndarray | None = None,
    reverse_choice_embs: Sequence[np.ndarray] | None = None,
) -> float:
    """Share of questions whose most similar choice is the answer (first maximum wins on ties), in [0, 1].

    >>> stem = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> choices = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])]
    >>> analogy_accuracy(stem, choices, [0, 2])
    0.5
    """
    scores = analogy_scores(
        stem_emb,
        choice_embs,
        direction=direction,
        reverse_stem_emb=reverse_stem_emb,
        reverse_choice_embs=reverse_choice_embs,
    )
    expected = np.asarray(answers, dtype=np.int64)
    if len(expected) != len(scores):
        raise ValueError(f"got {len(scores)} questions but {len(expected)} answers")
    if len(expected) == 0:
        raise ValueError("no questions to score")
    return float(np.mean(predict_answers(scores) == expected))


def group_accuracy(correct: Sequence[bool], groups: Sequence[str | None]) -> dict[str, dict[str, float]]:
    """Accuracy per group (e.g. the questions' ``prefix``): ``{group: {"accuracy": a, "n": count}}``.

    Questions without a group (``None``) are left out; groups are sorted by name.

    >>> group_accuracy([True, False, True], ["x", "x", "y"])
    {'x': {'accuracy': 0.5, 'n': 2}, 'y': {'accuracy': 1.0, 'n': 1}}
    """
    if len(correct) != len(groups):
        raise ValueError(f"got {len(correct)} results but {len(groups)} group labels")
    buckets: dict[str, list[bool]] = {}
    for ok, group in zip(correct, groups):
        if group is not None:
            buckets.setdefault(str(group), []).append(bool(ok))
    return {name: {"accuracy": float(np.mean(v)), "n": len(v)} for name, v in sorted(buckets.items())}


# --------------------------------------------------------------------------------------------- runner
def question_pairs(questions: Sequence[AnalogyQuestion], direction: str = "forward") -> list[Pair]:
    """Every unique pair the questions need for ``direction`` (stems and choices, reversed when needed),
    in first-seen order."""
    check_direction(direction)
    unique: dict[Pair, None] = {}
    for question in questions:
        for pair in (question.stem, *question.choice):
            if direction != "reverse":
                unique.setdefault((pair[0], pair[1]), None)
            if direction != "forward":
                unique.setdefault((pair[1], pair[0]), None)
    return list(unique)


def score_questions(
    questions: Sequence[AnalogyQuestion],
    embeddings: dict[Pair, np.ndarray] | Any,
    direction: str = "forward",
) -> list[np.ndarray]:
    """Choice scores of each question from a lookup ``pair -> embedding`` (a dict or anything indexable by pair)."""

    def lookup(pairs: Sequence[Pair], reverse: bool) -> np.ndarray:
        return np.stack([embeddings[(p[1], p[0]) if reverse else (p[0], p[1])] for p in pairs])

    rev_stems: np.ndarray | None = None
    rev_choices: list[np.ndarray] | None = None
    if direction != "forward":
        rev_stems = lookup([q.stem for q in questions], True)
        rev_choices = [lookup(q.choice, True) for q in questions]
    if direction == "reverse":
        assert rev_stems is not None and rev_choices is not None
        stems, choices = rev_stems, rev_choices
    else:
        stems, choices = lookup([q.stem for q in questions], False), [lookup(q.choice, False) for q in questions]
    return analogy_scores(
        stems, choices, direction=direction, reverse_stem_emb=rev_stems, reverse_choice_embs=rev_choices
    )


@dataclass
class AnalogyResult:
    """The score of one analogy dataset: ``accuracy`` in [0, 1] with its 95% bootstrap ``interval`` over the
    questions, per-``prefix`` accuracies, and what :func:`~relemb.evaluation.compare_results` needs to pair two
    models question by question: the ``predictions`` and ``correct`` flags, in question order, and the
    ``questions_sha256`` fingerprint of the questions."""

    dataset: str
    split: str
    direction: str
    accuracy: float
    n_questions: int
    interval: tuple[float, float] = (float("nan"), float("nan"))
    per_group: dict[str, dict[str, float]] = field(default_factory=dict)
    predictions: list[int] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)
    questions_sha256: str = ""
    n_pairs: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "split": self.split,
            "direction": self.direction,
            "accuracy": self.accuracy,
            "interval": list(self.interval),
            "n": self.n_questions,
            "n_questions": self.n_questions,
            "n_pairs": self.n_pairs,
            "per_group": self.per_group,
            "predictions": self.predictions,
            "correct": self.correct,
            "questions_sha256": self.questions_sha256,
            "seconds": round(self.seconds, 3),
        }


def _dataset_label(dataset: str | os.PathLike | Sequence[AnalogyQuestion]) -> str:
    if isinstance(dataset, (str, os.PathLike)):
        return os.fspath(dataset)
    return "questions"


def load_questions(
    dataset: str | os.PathLike | Sequence[AnalogyQuestion],
    split: str = "test",
    data_dir: str | os.PathLike | None = None,
) -> list[AnalogyQuestion]:
    """Questions from a dataset name, a file/folder path, or a list of :class:`AnalogyQuestion` (checked)."""
    if isinstance(dataset, (str, os.PathLike)):
        questions = load_analogy(dataset, split, data_dir=data_dir)
    else:
        questions = list(dataset)
        for index, question in enumerate(questions):
            if not isinstance(question, AnalogyQuestion):
                raise TypeError(f"item {index} is not an AnalogyQuestion: {question!r}")
    if not questions:
        raise ValueError(f"analogy dataset {_dataset_label(dataset)!r} holds no questions")
    return questions


def evaluate_analogy(
    model: PairEmbedder,
    dataset: str | os.PathLike | Sequence[AnalogyQuestion],
    split: str = "test",
    *,
    direction: str = "forward",
    data_dir: str | os.PathLike | None = None,
    batch_size: int = 64,
    show_progress_bar: bool | None = None,
    name: str | None = None,
    cache: dict | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> AnalogyResult:
    """Score ``model`` on an analogy dataset: every unique pair is embedded once, in one batched pass.

    Args:
        model: a :class:`relemb.RelBERT` (or anything with ``get_embedding(pairs, batch_size=...,
            show_progress_bar=...)``).
        dataset: a name (``u2``, ``u4``, ``google``, ``bats``, ``sat``, ``sat_full``, ``semeval2012``,
            ``starter``...), a ``.jsonl`` path, or a list of :class:`~relemb.data.AnalogyQuestion`.
        split: ``test`` or ``validation``.
        direction: ``forward`` (as published) | ``reverse`` | ``bidirectional``.
        cache: an optional ``{pair: vector}`` dict shared across calls (pairs in it are not re-embedded).
        n_resamples, seed: the bootstrap of the 95% interval over the questions.

    Example::

        model = RelBERT.from_pretrained("minilm")
        result = evaluate_analogy(model, "u2", data_dir="/data/relbert")
        print(result.accuracy, result.interval, result.per_group)
    """
    check_direction(direction)
    start = time.perf_counter()
    questions = load_questions(dataset, split, data_dir)
    pairs = question_pairs(questions, direction)
    embeddings = embed_pairs(model, pairs, batch_size, show_progress_bar, cache=cache)
    scores = score_questions(questions, embeddings, direction)
    predictions = predict_answers(scores)
    correct = predictions == np.array([q.answer for q in questions])
    result = AnalogyResult(
        dataset=name or _dataset_label(dataset),
        split=split,
        direction=direction,
        accuracy=float(correct.mean()),
        n_questions=len(questions),
        interval=bootstrap_interval(correct, n_resamples=n_resamples, seed=seed),
        per_group=group_accuracy(correct.tolist(), [q.prefix for q in questions]),
        predictions=predictions.tolist(),
        correct=correct.tolist(),
        questions_sha256=fingerprint([q.stem, q.choice, q.answer] for q in questions),
        n_pairs=len(pairs),
        seconds=time.perf_counter() - start,
    )
    logger.info(
        "analogy %s/%s (%s): %.4f on %d questions", result.dataset, split, direction, result.accuracy, len(questions)
    )
    return result

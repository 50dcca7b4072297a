"""relemb.evaluation: score relation models on the RelBERT benchmarks.

Pure scoring functions on arrays (``analogy_accuracy``, ``classification_metrics``, ``solve_mapping``...),
runners that take a model and a dataset (``evaluate_analogy``, ``evaluate_classification``,
``evaluate_mapping``, ``plot_relation_space``) and sentence-transformers evaluators for training
(``AnalogyEvaluator``, ``ValidationEvaluator``). The command line is ``relemb-eval`` (``relemb eval``); see ``docs/evaluation.md``.

>>> import numpy as np
>>> analogy_accuracy(np.array([[1.0, 0.0]]), [np.array([[0.0, 1.0], [1.0, 0.0]])], [1])
1.0
"""

from __future__ import annotations

from .analogy import (
    ANALOGY_DIRECTIONS,
    AnalogyResult,
    analogy_accuracy,
    analogy_scores,
    evaluate_analogy,
    group_accuracy,
    predict_answers,
)
from .classification import (
    DEFAULT_GRID,
    ClassificationResult,
    classification_metrics,
    evaluate_classification,
    pair_features,
    tune_classifier,
)
from .embeddings import embed_pairs
from .evaluators import AnalogyEvaluator, ValidationEvaluator
from .mapping import (
    MappingResult,
    evaluate_mapping,
    mapping_accuracy,
    permutation_scores,
    similarity_tensor,
    solve_mapping,
)

__all__ = [
    "DEFAULT_GRID",
    "ANALOGY_DIRECTIONS",
    "AnalogyEvaluator",
    "AnalogyResult",
    "ClassificationResult",
    "MappingResult",
    "ValidationEvaluator",
    "analogy_accuracy",
    "analogy_scores",
    "classification_metrics",
    "embed_pairs",
    "evaluate_analogy",
    "evaluate_classification",
    "evaluate_mapping",
    "group_accuracy",
    "mapping_accuracy",
    "pair_features",
    "permutation_scores",
    "predict_answers",
    "similarity_tensor",
    "solve_mapping",
    "tune_classifier",
]

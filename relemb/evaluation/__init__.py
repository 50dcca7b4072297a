"""relemb.evaluation: score relation models on the RelBERT benchmarks.

Pure scoring functions on arrays (``analogy_accuracy``, ``classification_metrics``, ``solve_mapping``...),
runners that take a model and a dataset (``evaluate_analogy``, ``evaluate_classification``,
``evaluate_mapping``, ``plot_relation_space``) and sentence-transformers evaluators for training
(``AnalogyEvaluator``). The command line is ``relemb-eval`` (``relemb eval``); see ``docs/evaluation.md``.

>>> import numpy as np
>>> analogy_accuracy(np.array([[1.0, 0.0]]), [np.array([[0.0, 1.0], [1.0, 0.0]])], [1])
1.0
"""

from __future__ import annotations

from .analogy import (
    DIRECTIONS,
    AnalogyResult,
    analogy_accuracy,
    analogy_scores,
    evaluate_analogy,
    group_accuracy,
    predict_answers,
)
from .evaluators import AnalogyEvaluator

__all__ = [
    "DIRECTIONS",
    "AnalogyEvaluator",
    "AnalogyResult",
    "analogy_accuracy",
    "analogy_scores",
    "evaluate_analogy",
    "group_accuracy",
    "predict_answers",
]

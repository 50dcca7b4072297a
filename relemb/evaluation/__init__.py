"""relemb.evaluation: score relation models on the RelBERT benchmarks, with uncertainty.

Pure scoring functions on arrays (``analogy_accuracy``, ``classification_metrics``, ``solve_mapping``...),
runners that take a model and a dataset (``evaluate_analogy``, ``evaluate_classification``,
``evaluate_mapping``, ``plot_relation_space``), the statistics every score comes with (bootstrap intervals,
McNemar's exact test, ``compare_results``) and sentence-transformers evaluators for training
(``AnalogyEvaluator``, ``ValidationEvaluator``). The command line is ``relemb-eval`` (``relemb eval``); see
``docs/evaluation.md``. Names are imported on first use (the evaluators load sentence-transformers).

>>> import numpy as np
>>> from relemb.evaluation import analogy_accuracy
>>> analogy_accuracy(np.array([[1.0, 0.0]]), [np.array([[0.0, 1.0], [1.0, 0.0]])], [1])
1.0
"""

from __future__ import annotations

from relemb._compat import lazy_exports

_MODULES = {
    "analogy": [
        "ANALOGY_DIRECTIONS", "AnalogyResult", "analogy_accuracy", "analogy_scores", "evaluate_analogy",
        "group_accuracy", "predict_answers",
    ],
    "classification": [
        "DEFAULT_GRID", "ClassificationResult", "classification_metrics", "evaluate_classification",
        "pair_features", "tune_classifier",
    ],
    "embeddings": ["embed_pairs"],
    "evaluators": ["AnalogyEvaluator", "ValidationEvaluator"],
    "mapping": [
        "MappingResult", "evaluate_mapping", "mapping_accuracy", "permutation_scores", "similarity_tensor",
        "solve_mapping",
    ],
    "plot": ["plot_relation_space"],
    "statistics": [
        "PairedComparison", "bootstrap_interval", "compare_results", "f1_interval", "mcnemar_exact",
        "mean_accuracy_interval", "paired_comparison",
    ],
}  # fmt: skip
_LAZY = {name: f"relemb.evaluation.{module}" for module, names in _MODULES.items() for name in names}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

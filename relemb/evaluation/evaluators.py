"""sentence-transformers evaluators, so ``SentenceTransformerTrainer`` can log relemb's benchmarks.

:class:`AnalogyEvaluator` scores one set of analogy questions; :class:`ValidationEvaluator` is
``relemb-train``'s model-selection evaluator over several of them (their mean accuracy).

>>> from relemb.data import load_relation_similarity, semeval_validation_questions
>>> questions = semeval_validation_questions(load_relation_similarity("starter", "validation"))
>>> evaluator = AnalogyEvaluator(questions, name="semeval2012_validation")
>>> evaluator.primary_metric
'semeval2012_validation_accuracy'
>>> ValidationEvaluator([evaluator]).primary_metric
'validation_mean_accuracy'
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from sentence_transformers.base.evaluation import BaseEvaluator, SequentialEvaluator

from relemb._io import write_text
from relemb.data import AnalogyQuestion
from relemb.evaluation.analogy import check_direction, predict_answers, question_pairs, score_questions
from relemb.evaluation.statistics import N_RESAMPLES, bootstrap_interval, mean_accuracy_interval

__all__ = ["AnalogyEvaluator", "ValidationEvaluator"]

logger = logging.getLogger("relemb.evaluation")


class AnalogyEvaluator(BaseEvaluator):
    """Analogy accuracy of a relation model, as a sentence-transformers evaluator.

    Every unique pair of the questions is embedded once through ``model.encode`` (so under DDP the
    trainer's sharded encode is used; the evaluator itself runs no collectives); the answer is the
    choice most similar (cosine) to the stem, the first maximum winning ties.

    **Metric keys.** Called directly it returns ``{"<name>_accuracy": a}`` (``{"accuracy": a}`` when
    ``name`` is empty) with ``a`` in [0, 1], with the bounds of its 95% bootstrap interval over the questions
    (``<name>_accuracy_ci_low``, ``<name>_accuracy_ci_high``), and ``primary_metric == "<name>_accuracy"``. Inside
    ``SentenceTransformerTrainer`` the key is logged as ``eval_<name>_accuracy``: with
    ``name="semeval2012_validation"`` set ``metric_for_best_model="eval_semeval2012_validation_accuracy"``
    (``greater_is_better=True``). In a ``SequentialEvaluator`` the keys are the same.

    Args:
        questions: a list of :class:`~relemb.data.AnalogyQuestion` (e.g. from
            :func:`relemb.data.semeval_validation_questions` or :func:`relemb.data.load_analogy`).
        name: the metric prefix (letters, digits, ``_``; e.g. ``"semeval2012_validation"``).
        direction: ``forward`` (default) | ``reverse`` | ``bidirectional``.
        batch_size: encode batch size.
        show_progress_bar: show encode's progress bar.
        write_csv: append a row to ``<output_path>/analogy_evaluation_<name>_results.csv`` per call.

    Example::

        from relemb.data import load_relation_similarity, semeval_validation_questions
        questions = semeval_validation_questions(load_relation_similarity("semeval2012", "validation"))
        evaluator = AnalogyEvaluator(questions, name="semeval2012_validation")
        trainer = SentenceTransformerTrainer(model=relbert.encoder, evaluator=evaluator, ...)
        evaluator(relbert.encoder)   # {"semeval2012_validation_accuracy": 0.41}
    """

    def __init__(
        self,
        questions: Sequence[AnalogyQuestion],
        name: str = "",
        direction: str = "forward",
        batch_size: int = 64,
        show_progress_bar: bool = False,
        write_csv: bool = True,
        n_resamples: int = N_RESAMPLES,
    ) -> None:
        super().__init__()
        questions = list(questions)
        if not questions:
            raise ValueError("AnalogyEvaluator needs at least one question, got none")
        for index, question in enumerate(questions):
            if not isinstance(question, AnalogyQuestion):
                raise TypeError(f"question {index} is not an AnalogyQuestion: {question!r}")
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        self.questions = questions
        self.name = name
        self.direction = check_direction(direction)
        self.batch_size = int(batch_size)
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.pairs = question_pairs(questions, direction)
        self.answers = np.array([q.answer for q in questions], dtype=np.int64)
        self.greater_is_better = True
        self.primary_metric = f"{name}_accuracy" if name else "accuracy"
        self.csv_file = f"analogy_evaluation{'_' + name if name else ''}_results.csv"
        self.csv_headers = ["epoch", "steps", "accuracy", "ci_low", "ci_high"]
        self.n_resamples = int(n_resamples)
        #: per question, whether the last call answered it right (what ValidationEvaluator's interval needs)
        self.last_correct: np.ndarray | None = None

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score ``model`` (a ``SentenceTransformer``, or a :class:`relemb.RelBERT`: its encoder is used)."""
        encoder = getattr(model, "encoder", model)
        embeddings = encoder.encode(
            self.pairs, batch_size=self.batch_size, show_progress_bar=self.show_progress_bar, convert_to_numpy=True
        )
        embeddings = np.asarray(embeddings)
        lookup = dict(zip(self.pairs, embeddings))
        predictions = predict_answers(score_questions(self.questions, lookup, self.direction))
        correct = predictions == self.answers
        accuracy = float(np.mean(correct))
        low, high = bootstrap_interval(correct, n_resamples=self.n_resamples)
        self.last_correct = correct
        where = f" in epoch {epoch} after {steps} steps" if epoch != -1 else ""
        logger.info(
            "AnalogyEvaluator %r%s: accuracy %.2f%% (95%% CI %.1f-%.1f, n=%d)",
            self.name, where, 100 * accuracy, 100 * low, 100 * high, len(correct),
        )  # fmt: skip

        if output_path is not None and self.write_csv:
            os.makedirs(output_path, exist_ok=True)
            csv_path = os.path.join(output_path, self.csv_file)
            is_new = not os.path.isfile(csv_path)
            with open(csv_path, newline="", mode="a", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                if is_new:
                    writer.writerow(self.csv_headers)
                writer.writerow([epoch, steps, accuracy, low, high])

        scores = {"accuracy": accuracy, "accuracy_ci_low": low, "accuracy_ci_high": high}
        metrics = self.prefix_name_to_metrics(scores, self.name)
        if hasattr(encoder, "model_card_data"):
            self.store_metrics_in_model_card_data(encoder, metrics, epoch, steps)
        return metrics

    def forget_after(self, output_path: str | os.PathLike, steps: int) -> int:
        """Drop the rows of this evaluator's CSV in ``output_path`` written after optimizer step ``steps`` (a
        resumed run redoes those evaluations, so their rows would appear twice); ``steps=0`` keeps only the
        header. Returns the number of rows dropped (0 when there is no CSV).

        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> evaluator = AnalogyEvaluator([AnalogyQuestion(("a", "b"), (("c", "d"), ("e", "f")), 0)], name="toy")
        >>> _ = write_text(os.path.join(folder, evaluator.csv_file), "epoch,steps,accuracy,ci_low,ci_high\\n"
        ...                "1.0,3,0.5,0.0,1.0\\n2.0,6,0.5,0.0,1.0\\n")
        >>> evaluator.forget_after(folder, 3)
        1
        """
        path = os.path.join(os.fspath(output_path), self.csv_file)
        if not os.path.isfile(path):
            return 0
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        if not rows:
            return 0
        header, body = rows[0], rows[1:]
        column = header.index("steps") if "steps" in header else 1
        kept = [row for row in body if len(row) > column and _step_of(row[column]) <= steps]
        if len(kept) == len(body):
            return 0
        buffer = io.StringIO()
        csv.writer(buffer).writerows([header, *kept])  # the same line ends as the appending writer
        write_text(path, buffer.getvalue())
        return len(body) - len(kept)

    @property
    def description(self) -> str:
        return "Relation Analogy"

    def get_config_dict(self) -> dict[str, Any]:
        return {"direction": self.direction} if self.direction != "forward" else {}


class ValidationEvaluator(SequentialEvaluator):
    """The model-selection evaluator of ``relemb-train``: every validation set's accuracy plus their mean,
    ``validation_mean_accuracy`` (logged by the trainer as ``eval_validation_mean_accuracy``, the default
    ``metric_for_best_model``), with the 95% bootstrap interval of the mean (``..._ci_low``, ``..._ci_high``:
    each resample draws every set's questions anew).

    Args:
        evaluators: one :class:`AnalogyEvaluator` per validation set (their metric names must differ).

    Example::

        evaluator = ValidationEvaluator([AnalogyEvaluator(semeval, name="semeval2012_validation"),
                                         AnalogyEvaluator(u2, name="u2_validation")])
        evaluator(relbert.encoder)
        # {"semeval2012_validation_accuracy": 0.4, "u2_validation_accuracy": 0.3, "validation_mean_accuracy": 0.35}
    """

    def __init__(self, evaluators: Sequence[AnalogyEvaluator]) -> None:
        super().__init__(evaluators, main_score_function=lambda scores: float(np.mean(scores)))
        self.primary_metric = "validation_mean_accuracy"

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Run every evaluator on ``model``; their metrics plus ``validation_mean_accuracy``."""
        results = super().__call__(model, output_path, epoch, steps)
        results["validation_mean_accuracy"] = results.pop("sequential_score")
        evaluators = [e for e in self.evaluators if isinstance(e, AnalogyEvaluator)]
        correct = [e.last_correct for e in evaluators if e.last_correct is not None]
        if correct and len(correct) == len(self.evaluators):
            n_resamples = min(e.n_resamples for e in evaluators)
            low, high = mean_accuracy_interval(correct, n_resamples=n_resamples)
            results["validation_mean_accuracy_ci_low"] = low
            results["validation_mean_accuracy_ci_high"] = high
        self.primary_metric = "validation_mean_accuracy"
        return results

    def forget_after(self, output_path: str | os.PathLike, steps: int) -> int:
        """:meth:`AnalogyEvaluator.forget_after` for every set: the rows written after step ``steps`` go."""
        return sum(e.forget_after(output_path, steps) for e in self.evaluators if isinstance(e, AnalogyEvaluator))


def _step_of(text: str) -> float:
    """A CSV cell as a step number (an unreadable cell counts as after every step, so it is dropped)."""
    try:
        return float(text)
    except ValueError:
        return math.inf

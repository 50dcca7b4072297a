"""relemb.evaluation.evaluators: the AnalogyEvaluator and the model-selection ValidationEvaluator."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from relemb.data import AnalogyQuestion, load_relation_similarity, semeval_validation_questions
from relemb.evaluation.analogy import evaluate_analogy
from relemb.evaluation.evaluators import AnalogyEvaluator, ValidationEvaluator

QUESTIONS = [
    AnalogyQuestion(("tokyo", "japan"), (("paris", "france"), ("puppy", "dog"), ("hot", "cold")), 0),
    AnalogyQuestion(("puppy", "dog"), (("kitten", "cat"), ("wheel", "car"), ("up", "down"), ("pen", "paper")), 1),
    AnalogyQuestion(("oak", "tree"), (("rose", "flower"), ("salmon", "fish"), ("gold", "ring")), 2),
]


class FakeEncoder:
    """A stand-in for a SentenceTransformer: encode() looks pairs up in hand-made vectors."""

    def __init__(self, vectors):
        self.vectors = vectors
        self.encoded = []

    def encode(self, pairs, batch_size=32, show_progress_bar=None, convert_to_numpy=True):
        self.encoded.append(list(pairs))
        return np.array([self.vectors[p] for p in pairs], dtype=np.float32)


def test_metric_key_and_hand_computed_accuracy(tmp_path):
    stem, good, bad = [1.0, 0.0], [0.9, 0.1], [0.0, 1.0]
    vectors = {("a", "b"): stem, ("c", "d"): good, ("e", "f"): bad, ("g", "h"): stem}
    questions = [
        AnalogyQuestion(("a", "b"), (("e", "f"), ("c", "d")), 1),  # right
        AnalogyQuestion(("g", "h"), (("c", "d"), ("e", "f"), ("e", "f")), 1),  # wrong
    ]
    evaluator = AnalogyEvaluator(questions, name="toy")
    assert evaluator.primary_metric == "toy_accuracy"
    encoder = FakeEncoder(vectors)
    metrics = evaluator(encoder, output_path=str(tmp_path), epoch=1, steps=10)
    # two questions, one right: the bootstrap interval spans every share a resample can give
    assert metrics == {"toy_accuracy": 0.5, "toy_accuracy_ci_low": 0.0, "toy_accuracy_ci_high": 1.0}
    assert len(encoder.encoded) == 1 and sorted(encoder.encoded[0]) == sorted(vectors)  # each pair once
    evaluator(encoder, output_path=str(tmp_path), epoch=2, steps=20)
    with open(tmp_path / "analogy_evaluation_toy_results.csv", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["epoch", "steps", "accuracy", "ci_low", "ci_high"],
        ["1", "10", "0.5", "0.0", "1.0"],
        ["2", "20", "0.5", "0.0", "1.0"],
    ]


def test_no_name_gives_plain_accuracy_key():
    evaluator = AnalogyEvaluator(QUESTIONS)
    vectors = {p: [1.0, float(i)] for i, p in enumerate(evaluator.pairs)}
    metrics = evaluator(FakeEncoder(vectors))
    assert list(metrics) == ["accuracy", "accuracy_ci_low", "accuracy_ci_high"]
    assert evaluator.primary_metric == "accuracy" and metrics["accuracy_ci_low"] <= metrics["accuracy"]


def test_agrees_with_the_runner_on_a_real_encoder(tiny_model):
    evaluator = AnalogyEvaluator(QUESTIONS, name="toy", direction="bidirectional")
    metrics = evaluator(tiny_model.encoder)
    expected = evaluate_analogy(tiny_model, QUESTIONS, direction="bidirectional").accuracy
    assert metrics["toy_accuracy"] == pytest.approx(expected)
    assert evaluator(tiny_model) == metrics  # a RelBERT facade is accepted too


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one question"):
        AnalogyEvaluator([])
    with pytest.raises(TypeError, match="AnalogyQuestion"):
        AnalogyEvaluator([("a", "b")])
    with pytest.raises(ValueError, match="direction"):
        AnalogyEvaluator(QUESTIONS, direction="both")


def test_trainer_logs_eval_prefixed_key(tiny_model, tmp_path):
    """The key the training engineer sets as metric_for_best_model."""
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    questions = semeval_validation_questions(load_relation_similarity("starter", "validation"))
    evaluator = AnalogyEvaluator(questions, name="semeval2012_validation")
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True)
    trainer = SentenceTransformerTrainer(model=tiny_model.encoder, args=args, evaluator=evaluator)
    metrics = trainer.evaluate()
    assert "eval_semeval2012_validation_accuracy" in metrics
    direct = evaluator(tiny_model.encoder)["semeval2012_validation_accuracy"]
    assert metrics["eval_semeval2012_validation_accuracy"] == pytest.approx(direct)


def test_validation_evaluator_reports_every_set_and_their_mean(tmp_path):
    stem, good, bad = [1.0, 0.0], [0.9, 0.1], [0.0, 1.0]
    vectors = {("a", "b"): stem, ("c", "d"): good, ("e", "f"): bad}
    right = AnalogyEvaluator([AnalogyQuestion(("a", "b"), (("e", "f"), ("c", "d")), 1)], name="right")
    wrong = AnalogyEvaluator([AnalogyQuestion(("a", "b"), (("c", "d"), ("e", "f")), 1)], name="wrong")
    evaluator = ValidationEvaluator([right, wrong])
    assert evaluator.primary_metric == "validation_mean_accuracy"
    metrics = evaluator(FakeEncoder(vectors), output_path=str(tmp_path), epoch=1, steps=3)
    assert {k: v for k, v in metrics.items() if "_ci_" not in k} == {
        "right_accuracy": 1.0,
        "wrong_accuracy": 0.0,
        "validation_mean_accuracy": 0.5,
    }
    # one question each, always right / always wrong: the mean's interval is that one value
    assert metrics["validation_mean_accuracy_ci_low"] == metrics["validation_mean_accuracy_ci_high"] == 0.5
    assert evaluator.primary_metric == "validation_mean_accuracy"
    assert (tmp_path / "analogy_evaluation_right_results.csv").is_file()


def test_the_selection_interval_narrows_with_more_questions():
    vectors = {("a", "b"): [1.0, 0.0], ("c", "d"): [0.9, 0.1], ("e", "f"): [0.0, 1.0]}
    right = AnalogyQuestion(("a", "b"), (("e", "f"), ("c", "d")), 1)
    wrong = AnalogyQuestion(("a", "b"), (("c", "d"), ("e", "f")), 1)
    widths = []
    for n in (10, 100):
        evaluator = ValidationEvaluator([AnalogyEvaluator([right, wrong] * n, name="a", write_csv=False)])
        metrics = evaluator(FakeEncoder(vectors))
        assert metrics["validation_mean_accuracy_ci_low"] < 0.5 < metrics["validation_mean_accuracy_ci_high"]
        widths.append(metrics["validation_mean_accuracy_ci_high"] - metrics["validation_mean_accuracy_ci_low"])
    assert widths[1] < widths[0] / 2


def test_forget_after_drops_the_rows_a_resumed_run_redoes(tmp_path):
    vectors = {("a", "b"): [1.0, 0.0], ("c", "d"): [0.9, 0.1], ("e", "f"): [0.0, 1.0]}
    first = AnalogyEvaluator([AnalogyQuestion(("a", "b"), (("e", "f"), ("c", "d")), 1)], name="first")
    second = AnalogyEvaluator([AnalogyQuestion(("a", "b"), (("c", "d"), ("e", "f")), 1)], name="second")
    evaluator = ValidationEvaluator([first, second])
    for epoch, steps in ((1, 3), (2, 6), (3, 9)):
        evaluator(FakeEncoder(vectors), output_path=str(tmp_path), epoch=epoch, steps=steps)
    assert evaluator.forget_after(tmp_path, 3) == 4  # two rows of each set
    for name in ("first", "second"):
        with open(tmp_path / f"analogy_evaluation_{name}_results.csv", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert [row[:2] for row in rows] == [["epoch", "steps"], ["1", "3"]]
    assert evaluator.forget_after(tmp_path, 3) == 0  # nothing after step 3 any more
    # appending goes on as before
    evaluator(FakeEncoder(vectors), output_path=str(tmp_path), epoch=2, steps=6)
    with open(tmp_path / "analogy_evaluation_first_results.csv", encoding="utf-8") as handle:
        assert [row[1] for row in csv.reader(handle)] == ["steps", "3", "6"]
    assert AnalogyEvaluator(QUESTIONS, name="none").forget_after(tmp_path, 0) == 0  # no CSV

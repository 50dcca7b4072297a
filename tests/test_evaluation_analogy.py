"""relemb.evaluation.analogy: hand-made embeddings with hand-computed answers, and the runner."""

from __future__ import annotations

import json

import numpy as np
import pytest

from relemb.data import AnalogyQuestion, DataFormatError, DatasetNotFoundError
from relemb.evaluation.analogy import (
    analogy_accuracy,
    analogy_scores,
    evaluate_analogy,
    group_accuracy,
    predict_answers,
    question_pairs,
)


class FakeModel:
    """Embeds pairs by looking them up in a dict of hand-made vectors; counts calls and pairs."""

    def __init__(self, vectors: dict[tuple[str, str], list[float]]) -> None:
        self.vectors = {k: np.asarray(v, dtype=np.float32) for k, v in vectors.items()}
        self.calls: list[list[tuple[str, str]]] = []

    def get_embedding(self, pairs, batch_size=64, show_progress_bar=None):
        self.calls.append(list(pairs))
        return np.stack([self.vectors[tuple(p)] for p in pairs])


# Stem (a, b); forward best is choice 0, reverse best is choice 1, bidirectional best is choice 2
# (two negative cosines multiply to +1: the reference's product formula).
VECTORS = {
    ("a", "b"): [1, 0],
    ("b", "a"): [0, 1],
    ("c", "d"): [1, 0],  # forward cos 1, reverse cos 0 -> product 0
    ("d", "c"): [-1, 0],
    ("e", "f"): [0.6, 0.8],  # forward 0.6, reverse 1 -> product 0.6
    ("f", "e"): [0, 1],
    ("g", "h"): [-1, 0],  # forward -1, reverse -1 -> product 1
    ("h", "g"): [0, -1],
}
QUESTION = AnalogyQuestion(stem=("a", "b"), choice=(("c", "d"), ("e", "f"), ("g", "h")), answer=0, prefix="p1")


def _embs(pairs):
    return np.array([VECTORS[p] for p in pairs], dtype=float)


def test_scores_forward_reverse_bidirectional_by_hand():
    stem, rev_stem = _embs([("a", "b")]), _embs([("b", "a")])
    choices = [_embs(QUESTION.choice)]
    rev_choices = [_embs([(t, h) for h, t in QUESTION.choice])]
    kwargs = {"reverse_stem_emb": rev_stem, "reverse_choice_embs": rev_choices}
    forward = analogy_scores(stem, choices)[0]
    reverse = analogy_scores(stem, choices, direction="reverse", **kwargs)[0]
    both = analogy_scores(stem, choices, direction="bidirectional", **kwargs)[0]
    np.testing.assert_allclose(forward, [1.0, 0.6, -1.0])
    np.testing.assert_allclose(reverse, [0.0, 1.0, -1.0])
    np.testing.assert_allclose(both, [0.0, 0.6, 1.0])
    assert [int(predict_answers([s])[0]) for s in (forward, reverse, both)] == [0, 1, 2]


def test_ties_first_maximum_wins():
    stem = np.array([[1.0, 0.0]])
    # choices 1 and 2 have the same direction (cosine 0.7071 each): choice 1 is predicted
    choices = [np.array([[0.0, 1.0], [1.0, 1.0], [3.0, 3.0]])]
    assert predict_answers(analogy_scores(stem, choices)).tolist() == [1]
    assert analogy_accuracy(stem, choices, [1]) == 1.0
    assert analogy_accuracy(stem, choices, [2]) == 0.0


def test_accuracy_with_three_to_five_choices():
    stem = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    choices = [
        np.array([[0.0, 1.0], [1.0, 0.1], [-1.0, 0.0]]),  # best 1
        np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, -1.0]]),  # best 1
        np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [2.0, 1.9], [1.0, 3.0]]),  # best 3
    ]
    assert predict_answers(analogy_scores(stem, choices)).tolist() == [1, 1, 3]
    assert analogy_accuracy(stem, choices, [1, 1, 3]) == 1.0
    assert analogy_accuracy(stem, choices, [1, 0, 0]) == pytest.approx(1 / 3)


def test_zero_vector_scores_zero_not_nan():
    scores = analogy_scores(np.array([[0.0, 0.0]]), [np.array([[1.0, 0.0], [0.0, 1.0]])])
    assert scores[0].tolist() == [0.0, 0.0]


def test_bad_shapes_and_arguments():
    with pytest.raises(ValueError, match="direction"):
        analogy_scores(np.zeros((1, 2)), [np.zeros((2, 2))], direction="sideways")
    with pytest.raises(ValueError, match="reverse_stem_emb"):
        analogy_scores(np.zeros((1, 2)), [np.zeros((2, 2))], direction="reverse")
    with pytest.raises(ValueError, match="choice matrices"):
        analogy_scores(np.zeros((2, 2)), [np.zeros((2, 2))])
    with pytest.raises(ValueError, match=r"\(k, 2\)"):
        analogy_scores(np.zeros((1, 2)), [np.zeros((2, 3))])
    with pytest.raises(ValueError, match="answers"):
        analogy_accuracy(np.ones((1, 2)), [np.ones((2, 2))], [0, 1])


def test_group_accuracy():
    assert group_accuracy([True, False, True, True], ["x", "x", None, "y"]) == {
        "x": {"accuracy": 0.5, "n": 2},
        "y": {"accuracy": 1.0, "n": 1},
    }


def test_question_pairs_are_unique_and_direction_aware():
    q2 = AnalogyQuestion(stem=("c", "d"), choice=(("a", "b"), ("e", "f")), answer=1)
    assert question_pairs([QUESTION, q2]) == [("a", "b"), ("c", "d"), ("e", "f"), ("g", "h")]
    assert question_pairs([QUESTION], "reverse") == [("b", "a"), ("d", "c"), ("f", "e"), ("h", "g")]
    assert len(question_pairs([QUESTION, q2], "bidirectional")) == 8


@pytest.mark.parametrize(("direction", "prediction"), [("forward", 0), ("reverse", 1), ("bidirectional", 2)])
def test_runner_embeds_once_and_scores(direction, prediction):
    q2 = AnalogyQuestion(stem=("c", "d"), choice=(("e", "f"), ("a", "b"), ("g", "h")), answer=1, prefix="p2")
    model = FakeModel(VECTORS)
    result = evaluate_analogy(model, [QUESTION, q2], direction=direction)
    assert len(model.calls) == 1  # one batched pass
    assert len(model.calls[0]) == len(set(model.calls[0]))  # no pair twice
    assert result.predictions[0] == prediction
    # q2: stem (c, d) = [1, 0], reversed (d, c) = [-1, 0]
    # forward: cos with (e,f), (a,b), (g,h) = 0.6, 1, -1 -> 1
    # reverse: cos of [-1, 0] with (f,e)=[0,1], (b,a)=[0,1], (h,g)=[0,-1] = 0, 0, 0 -> tie, first wins -> 0
    # bidirectional: 0.6*0, 1*0, -1*0 = 0, 0, 0 -> tie -> 0
    expected_q2 = {"forward": 1, "reverse": 0, "bidirectional": 0}[direction]
    assert result.predictions[1] == expected_q2
    expected_accuracy = np.mean([prediction == 0, expected_q2 == 1])
    assert result.accuracy == pytest.approx(expected_accuracy)
    assert set(result.per_group) == {"p1", "p2"}
    assert result.n_questions == 2


def test_runner_on_a_file(tmp_path):
    path = tmp_path / "questions.jsonl"
    rows = [QUESTION.to_dict(), {"stem": ["c", "d"], "answer": 2, "choice": [["e", "f"], ["g", "h"], ["a", "b"]]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = evaluate_analogy(FakeModel(VECTORS), str(path))
    assert result.predictions == [0, 2]
    assert result.accuracy == 1.0
    assert result.per_group == {"p1": {"accuracy": 1.0, "n": 1}}
    assert result.to_dict()["dataset"] == str(path)


def test_runner_bad_input(tmp_path):
    model = FakeModel(VECTORS)
    with pytest.raises(DatasetNotFoundError, match="no_such_set"):
        evaluate_analogy(model, "no_such_set", data_dir=tmp_path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="no records"):
        evaluate_analogy(model, str(empty))
    with pytest.raises(ValueError, match="no questions"):
        evaluate_analogy(model, [])
    with pytest.raises(TypeError, match="AnalogyQuestion"):
        evaluate_analogy(model, [("a", "b")])
    with pytest.raises(ValueError, match="direction"):
        evaluate_analogy(model, [QUESTION], direction="up")


def test_runner_with_tiny_model_matches_direct_embedding(tiny_model):
    questions = [
        AnalogyQuestion(("tokyo", "japan"), (("paris", "france"), ("puppy", "dog"), ("hot", "cold")), 0, "capital"),
        AnalogyQuestion(("puppy", "dog"), (("kitten", "cat"), ("wheel", "car"), ("up", "down"), ("pen", "paper")), 0),
    ]
    result = evaluate_analogy(tiny_model, questions, show_progress_bar=False)
    stems = tiny_model.get_embedding([q.stem for q in questions])
    choices = [tiny_model.get_embedding(list(q.choice)) for q in questions]
    expected = predict_answers(analogy_scores(stems, choices)).tolist()
    assert result.predictions == expected


@pytest.mark.data
def test_real_u2_questions_load(data_dir):
    model = FakeModel({})
    model.get_embedding = lambda pairs, **kw: np.ones((len(pairs), 3))  # every choice ties -> choice 0
    result = evaluate_analogy(model, "u2", data_dir=data_dir)
    assert result.n_questions == 228
    answers_zero = sum(1 for p in result.predictions if p == 0)
    assert answers_zero == 228


@pytest.mark.slow
@pytest.mark.data
def test_untrained_minilm_u2_matches_the_measured_value(minilm_path, data_dir):
    """DESIGN.md: all-MiniLM-L6-v2, template d, average_no_mask, forward: U2 28.1% (64 of 228)."""
    from relemb import RelBERT

    model = RelBERT.from_pretrained(minilm_path, device="cpu")
    result = evaluate_analogy(model, "u2", data_dir=data_dir, show_progress_bar=False)
    assert result.n_questions == 228
    assert round(100 * result.accuracy, 1) == 28.1

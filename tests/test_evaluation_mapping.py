"""relemb.evaluation.mapping: objectives by hand, exact oracle vs. beam/local search, planted permutations."""

from __future__ import annotations

import json
from itertools import permutations

import numpy as np
import pytest

from relemb.data import DatasetNotFoundError, MappingProblem
from relemb.evaluation.mapping import (
    evaluate_mapping,
    mapping_accuracy,
    permutation_scores,
    similarity_tensor,
    solve_mapping,
)


def planted(n: int, gold: np.ndarray, seed: int = 0, noise: float = 0.05):
    """Source pair embeddings and target ones with target[gold[i], gold[j]] ~ source[i, j]."""
    rng = np.random.default_rng(seed)
    source = rng.normal(size=(n, n, 16))
    target = np.empty_like(source)
    target[np.ix_(gold, gold)] = source + noise * rng.normal(size=source.shape)
    return source, target


def test_objectives_by_hand():
    # n = 2: the only ordered pairs are (0, 1) and (1, 0)
    c = np.zeros((2, 2, 2, 2))
    c[0, 1, 0, 1], c[1, 0, 1, 0] = 0.9, 0.5  # identity
    c[0, 1, 1, 0], c[1, 0, 0, 1] = 0.2, 0.1  # swap
    np.testing.assert_allclose(permutation_scores(c, [[0, 1], [1, 0]], "sum"), [1.4, 0.3])
    # reference: mean over i of max over j != i (one j each here)
    np.testing.assert_allclose(permutation_scores(c, [[0, 1], [1, 0]], "reference"), [0.7, 0.15])
    assert solve_mapping(c)[0].tolist() == [0, 1]


def test_reference_objective_takes_max_over_partners():
    rng = np.random.default_rng(1)
    c = rng.uniform(-1, 1, size=(3, 3, 3, 3))
    perm = np.array([2, 0, 1])
    expected = np.mean([max(c[i, j, perm[i], perm[j]] for j in range(3) if j != i) for i in range(3)])
    assert permutation_scores(c, perm, "reference")[0] == pytest.approx(expected)
    expected_sum = sum(c[i, j, perm[i], perm[j]] for i in range(3) for j in range(3) if i != j)
    assert permutation_scores(c, perm, "sum")[0] == pytest.approx(expected_sum)


@pytest.mark.parametrize("method", ["exact", "beam"])
def test_recovers_a_planted_permutation(method):
    gold = np.array([3, 0, 5, 1, 6, 2, 4])
    source, target = planted(7, gold)
    perm, _ = solve_mapping(similarity_tensor(source, target), method=method)
    assert perm.tolist() == gold.tolist()
    assert mapping_accuracy(perm, gold) == 1.0


def test_beam_scales_to_many_terms():
    gold = np.random.default_rng(5).permutation(20)
    source, target = planted(20, gold, seed=5)
    perm, _ = solve_mapping(similarity_tensor(source, target), method="beam", beam_size=4, restarts=2)
    assert perm.tolist() == gold.tolist()
    with pytest.raises(ValueError, match="too slow"):
        solve_mapping(similarity_tensor(source, target), method="exact")


@pytest.mark.parametrize("objective", ["sum", "reference"])
def test_local_search_matches_the_exact_oracle_on_random_instances(objective):
    rng = np.random.default_rng(7)
    for _ in range(5):
        c = rng.uniform(-1, 1, size=(6, 6, 6, 6))
        _, exact_score = solve_mapping(c, method="exact", objective=objective)
        brute = max(permutation_scores(c, np.array(p), objective)[0] for p in permutations(range(6)))
        assert exact_score == pytest.approx(brute)
        _, beam_score = solve_mapping(c, method="beam", objective=objective, restarts=16)
        assert beam_score <= exact_score + 1e-9
        assert beam_score == pytest.approx(exact_score)


def test_search_is_deterministic():
    rng = np.random.default_rng(3)
    c = rng.uniform(-1, 1, size=(10, 10, 10, 10))
    first = solve_mapping(c, method="beam", seed=4)
    second = solve_mapping(c, method="beam", seed=4)
    assert first[0].tolist() == second[0].tolist() and first[1] == second[1]


def test_bad_arguments():
    c = np.zeros((3, 3, 3, 3))
    with pytest.raises(ValueError, match="objective"):
        solve_mapping(c, objective="max")
    with pytest.raises(ValueError, match="method"):
        solve_mapping(c, method="greedy")
    with pytest.raises(ValueError, match=r"\(n, n, n, n\)"):
        solve_mapping(np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="same shape"):
        similarity_tensor(np.zeros((3, 3, 4)), np.zeros((2, 2, 4)))


class AnalogModel:
    """emb(a, b) = vec(a) - vec(b) with hand-made word vectors: a perfect analogy model for the made-up
    solar system / atom mapping (sun -> nucleus, planet -> electron, ...)."""

    def __init__(self, vectors):
        self.vectors = {w: np.asarray(v, dtype=float) for w, v in vectors.items()}
        self.calls = 0

    def get_embedding(self, pairs, batch_size=64, show_progress_bar=None):
        self.calls += 1
        return np.stack([self.vectors[a] - self.vectors[b] for a, b in pairs]).astype(np.float32)


ROLE_VECTORS = {"centre": [5, 0, 0, 1], "orbiter": [0, 3, 1, 0], "force": [1, 1, 4, 0], "mass": [0, 0, 1, 6]}
WORDS = {
    "sun": "centre",
    "planet": "orbiter",
    "gravity": "force",
    "star mass": "mass",
    "nucleus": "centre",
    "electron": "orbiter",
    "electromagnetism": "force",
    "charge": "mass",
}


def _analog_model(noise=0.0):
    rng = np.random.default_rng(0)
    return AnalogModel({w: np.array(ROLE_VECTORS[r], float) + noise * rng.normal(size=4) for w, r in WORDS.items()})


def test_runner_on_a_made_up_file(tmp_path):
    path = tmp_path / "mapping.jsonl"
    rows = [
        {
            "source": ["sun", "planet", "gravity", "star mass"],
            "target": ["nucleus", "electron", "electromagnetism", "charge"],
        },
        {"source": ["nucleus", "charge", "electron"], "target": ["sun", "star mass", "planet"]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    model = _analog_model(noise=0.1)
    result = evaluate_mapping(model, str(path), method="beam")
    assert model.calls == 1
    assert result.accuracy == 1.0 and result.exact_match == 1.0 and result.n_problems == 2
    assert result.problems[0]["predicted"] == rows[0]["target"]
    assert evaluate_mapping(model, str(path), method="exact").to_dict()["accuracy"] == 1.0


def test_runner_accuracy_for_an_indistinguishable_model():
    class Constant:
        def get_embedding(self, pairs, batch_size=64, show_progress_bar=None):
            return np.ones((len(pairs), 3), dtype=np.float32)

    problem = MappingProblem(source=("a", "b", "c", "d", "e"), target=("v", "w", "x", "y", "z"))
    result = evaluate_mapping(Constant(), [problem], seed=0)
    # every permutation ties; the targets are shuffled first, so the gold order gets no advantage
    assert result.accuracy < 1.0
    assert evaluate_mapping(Constant(), [problem], seed=0).accuracy == result.accuracy  # deterministic


def test_runner_bad_input(tmp_path):
    with pytest.raises(DatasetNotFoundError):
        evaluate_mapping(_analog_model(), str(tmp_path / "missing.jsonl"))
    with pytest.raises(ValueError, match="no problems"):
        evaluate_mapping(_analog_model(), [])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source": ["a", "b"], "target": ["c"]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        evaluate_mapping(_analog_model(), str(bad))

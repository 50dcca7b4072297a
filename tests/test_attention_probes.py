"""Attention-feature relation probes: features, probes, importance, clustering, end to end on tiny encoders."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from relemb.attention.encode import AttentionEncoder, AttentionInput, EncodedInput
from relemb.attention.plots import plot_dendrogram, plot_importance, plot_layer_scores
from relemb.attention.probes import (
    ProbeReport,
    attention_features,
    cluster_relations,
    directions,
    feature_importance,
    feature_location,
    feature_names,
    fit_probe,
    hidden_state_features,
    probe_labels,
    probe_relations,
    span_attention,
)
from relemb.data import LexicalPair

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Tiny logistic regressions run ~15x faster on one BLAS thread than on two contended ones."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ------------------------------------------------------------------------------------------ features
def _random_attentions(layers=2, heads=3, tokens=7, seed=0) -> np.ndarray:
    weights = np.random.default_rng(seed).random((layers, heads, tokens, tokens))
    return weights / weights.sum(axis=-1, keepdims=True)


def test_span_attention_mean_over_source_sum_over_target():
    a = _random_attentions()
    # single tokens: the matrix entry itself
    assert np.allclose(span_attention(a, [2], [5]), a[:, :, 2, 5])
    # multi-token words: mean over attending rows of the sum over attended columns
    expected = np.zeros(a.shape[:2])
    for layer, head in itertools.product(range(a.shape[0]), range(a.shape[1])):
        expected[layer, head] = np.mean([sum(a[layer, head, s, t] for t in (4, 5, 6)) for s in (1, 2)])
    assert np.allclose(span_attention(a, [1, 2], [4, 5, 6]), expected)
    # attending from a word to every token gives 1 (rows are distributions)
    assert np.allclose(span_attention(a, [1, 2], range(7)), 1.0)
    # hand-made: not symmetric, rows attend
    b = np.zeros((1, 1, 3, 3))
    b[0, 0, 0, 1] = 0.7
    assert span_attention(b, [0], [1])[0, 0] == pytest.approx(0.7)
    assert span_attention(b, [1], [0])[0, 0] == 0.0
    with pytest.raises(ValueError):
        span_attention(a, [], [1])
    with pytest.raises(ValueError):
        span_attention(a, [1], [9])
    with pytest.raises(ValueError):
        span_attention(a[0], [1], [2])


def _fake_item(mask: bool, layers=2, heads=3, dim=4) -> EncodedInput:
    tokens = ["[CLS]", "to", "##kyo", "is", "[MASK]", "japan", "[SEP]"]
    text = "tokyo is [MASK] japan" if mask else "tokyo is in japan"
    spans = AttentionInput(text, ((0, 5),), ((len(text) - 5, len(text)),), ((9, 15),) if mask else ())
    hidden = np.random.default_rng(1).random((layers + 1, len(tokens), dim)).astype(np.float32)
    return EncodedInput(
        input=spans,
        tokens=tokens,
        attentions=_random_attentions(layers, heads, len(tokens)).astype(np.float32),
        head_positions=np.array([1, 2]),
        tail_positions=np.array([5]),
        mask_positions=np.array([4]) if mask else np.array([], dtype=np.int64),
        special_positions=np.array([0, 6]),
        word_ids=[None, 0, 0, 1, 2, 3, None],
        hidden_states=hidden,
    )


@pytest.mark.parametrize("mask", [False, True])
def test_attention_features_order_matches_feature_names(mask):
    item = _fake_item(mask)
    L, H = item.n_layers, item.n_heads
    features = attention_features(item)
    names = feature_names(L, H, with_mask=mask)
    assert features.shape == ((6 if mask else 2) * L * H,) == (len(names),)
    assert features.dtype == np.float32
    roles = {"head": [1, 2], "tail": [5], "mask": [4]}
    for index, name in enumerate(names):
        direction, layer, head = feature_location(index, L, H, with_mask=mask)
        assert name == f"L{layer}-H{head} {direction}"
        source, target = direction.split("->")
        expected = span_attention(item.attentions, roles[source], roles[target])[layer, head]
        assert features[index] == pytest.approx(expected, rel=1e-6)
    assert names[0] == "L0-H0 head->tail" and names[L * H] == "L0-H0 tail->head"
    if mask:
        assert len(attention_features(item, with_mask=False)) == 2 * L * H
        assert np.allclose(attention_features(item, with_mask=False), features[: 2 * L * H])
    else:
        with pytest.raises(ValueError, match="no mask"):
            attention_features(item, with_mask=True)
    with pytest.raises(IndexError):
        feature_location(len(names), L, H, with_mask=mask)


def test_hidden_state_features_means_of_head_and_tail():
    item = _fake_item(True)
    out = hidden_state_features(item)
    D = item.hidden_states.shape[-1]
    assert out.shape == (item.n_layers + 1, 2 * D)
    assert np.allclose(out[:, :D], item.hidden_states[:, [1, 2]].mean(axis=1))
    assert np.allclose(out[:, D:], item.hidden_states[:, 5])
    item.hidden_states = None
    with pytest.raises(ValueError, match="output_hidden_states"):
        hidden_state_features(item)


# --------------------------------------------------------------------------------------------- probes
def test_fit_probe_separable_and_shuffled():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 10))
    y = (X[:, 3] + 0.5 * X[:, 7] > 0).astype(int)
    result = fit_probe(X[:400], y[:400], X[400:], y[400:], seed=0)
    assert result.accuracy > 0.95 and result.macro_f1 > 0.95
    assert result.n_train == 400 and result.n_test == 200 and result.classes == [0, 1]
    assert "estimator" not in result.to_dict() and json.dumps(result.to_dict())
    # shuffled labels: chance level
    noise = rng.normal(size=(2000, 10))
    labels = rng.integers(0, 2, size=2000)
    chance = fit_probe(noise[:1000], labels[:1000], noise[1000:], labels[1000:])
    assert 0.4 < chance.accuracy < 0.6
    # multiclass: three separable clusters
    centres = np.eye(3, 10) * 6
    classes = np.repeat(["hyper", "mero", "syn"], 60)
    Xm = centres[np.repeat(np.arange(3), 60)] + rng.normal(size=(180, 10))
    order = rng.permutation(180)
    multi = fit_probe(Xm[order[:120]], classes[order[:120]], Xm[order[120:]], classes[order[120:]])
    assert multi.accuracy == 1.0 and multi.classes == ["hyper", "mero", "syn"]
    assert multi.coef.shape == (3, 10)
    with pytest.raises(ValueError, match="two classes"):
        fit_probe(X[:10], np.zeros(10), X[10:20], np.zeros(10))


@pytest.mark.parametrize("with_mask", [False, True])
def test_feature_importance_finds_the_informative_feature(with_mask):
    L, H = 3, 4
    n_features = len(directions(with_mask)) * L * H
    informative = (1 if not with_mask else 4) * L * H + 2 * H + 1  # tail->head / head->mask, layer 2, head 1
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, n_features))
    y = (X[:, informative] > 0).astype(int)
    result = fit_probe(X[:400], y[:400], X[400:], y[400:])
    importance = feature_importance(result, L, H, with_mask)
    per_feature = importance["per_feature"]
    assert int(np.argmax(per_feature)) == informative
    others = np.delete(per_feature, informative)
    assert per_feature[informative] > 5 * others.max()
    direction = "head->mask" if with_mask else "tail->head"
    assert feature_location(informative, L, H, with_mask) == (direction, 2, 1)
    assert importance["top"][0]["name"] == f"L2-H1 {direction}"
    assert importance["overall"].shape == (L, H)
    assert np.unravel_index(np.argmax(importance["overall"]), (L, H)) == (2, 1)
    assert importance["per_direction"].shape == (len(directions(with_mask)), L, H)
    assert importance["per_direction"][importance["directions"].index(direction), 2, 1] == per_feature[informative]
    assert importance["class_vectors"].shape == (1, n_features) and importance["classes"] == [1]
    assert np.isclose(importance["overall"].sum(), per_feature.sum())
    with pytest.raises(ValueError, match="features"):
        feature_importance(result, L + 1, H, with_mask)


def test_cluster_relations_groups_similar_vectors():
    from scipy.cluster.hierarchy import fcluster

    rng = np.random.default_rng(0)
    base = np.abs(rng.normal(size=(2, 30)))
    vectors = np.stack([base[0], base[1], base[0] + 0.05 * rng.random(30), base[1] + 0.05 * rng.random(30)])
    out = cluster_relations(vectors, ["hyper", "mero", "hypo", "holo"])
    first_two = [sorted(map(int, row[:2])) for row in out["linkage"][:2]]
    assert sorted(first_two) == [[0, 2], [1, 3]]
    groups = fcluster(out["linkage"], t=2, criterion="maxclust")
    assert groups[0] == groups[2] != groups[1] == groups[3]
    assert sorted(out["leaf_labels"]) == ["holo", "hyper", "hypo", "mero"]
    assert out["distances"].shape == (4, 4) and np.allclose(np.diag(out["distances"]), 0)
    with pytest.raises(ValueError):
        cluster_relations(vectors[:1], ["hyper"])


def test_probe_labels_generates_negatives_without_random_pairs():
    related = [
        LexicalPair(h, t, r)
        for h, t, r in [
            ("dog", "animal", "IsA"),
            ("cat", "animal", "IsA"),
            ("oak", "tree", "IsA"),
            ("wheel", "car", "PartOf"),
            ("petal", "flower", "PartOf"),
            ("hot", "cold", "Antonym"),
            ("big", "small", "Antonym"),
            ("car", "wheel", "HasA"),
        ]
    ]
    other_split = [("dog", "tree"), ("cat", "car")]
    made = probe_labels(related, "binary", seed=3, exclude=other_split)
    assert made.n_generated == len(related)
    assert made.labels.tolist() == [1] * 8 + [0] * 8
    negatives = made.pairs[8:]
    known = {(p.head, p.tail) for p in related} | set(other_split)
    known |= {(t, h) for h, t in known}
    assert not set(negatives) & known
    assert len(set(negatives)) == len(negatives) and all(h != t for h, t in negatives)
    assert set(h for h, _ in negatives) <= {p.head for p in related}
    assert set(t for _, t in negatives) <= {p.tail for p in related}
    assert probe_labels(related, "binary", seed=3, exclude=other_split).pairs == made.pairs  # seeded
    # real random pairs are used as they are; multiclass drops them
    with_random = [*related, LexicalPair("pen", "cow", "random")]
    assert probe_labels(with_random, "binary").n_generated == 0
    assert "random" not in probe_labels(with_random, "multiclass").labels.tolist()
    with pytest.raises(ValueError, match="task"):
        probe_labels(related, "ternary")


# ----------------------------------------------------------------------------------------- end to end
RELATIONS = {
    "capital": [("tokyo", "japan"), ("paris", "france"), ("berlin", "germany"), ("rome", "italy"), ("madrid", "spain")],
    "young": [("puppy", "dog"), ("kitten", "cat"), ("calf", "cow"), ("foal", "horse"), ("cub", "bear")],
    "material": [("wood", "table"), ("glass", "window"), ("wool", "sweater"), ("clay", "pot"), ("gold", "ring")],
    "random": [("hammer", "france"), ("kitten", "pot"), ("petal", "spain"), ("oak", "cow"), ("pen", "ring")],
}


def _split(per_relation: int, offset: int) -> list[LexicalPair]:
    records = []
    for relation, pairs in RELATIONS.items():
        cycle = itertools.islice(itertools.cycle(pairs), offset, offset + per_relation)
        records += [LexicalPair(h, t, relation) for h, t in cycle]
    return records


@pytest.fixture(scope="module")
def lexical_splits():
    return {"train": _split(10, 0), "validation": None, "test": _split(5, 2)}  # 40 train / 20 test


@pytest.fixture(scope="module")
def bert_report(tiny_bert_path, lexical_splits):
    encoder = AttentionEncoder.from_pretrained(tiny_bert_path, device="cpu")
    return probe_relations(encoder, lexical_splits, batch_size=16, seed=0, name="toy")


def _check_report(report: ProbeReport, n_layers: int):
    assert report.dataset == "toy" and report.with_mask and report.control.endswith("(random init)")
    for task, classes in (("binary", [0, 1]), ("multiclass", ["capital", "material", "young"])):
        part = report.tasks[task]
        assert part.classes == classes
        assert set(part.attention) == {"model", "control"}
        for result in part.attention.values():
            assert 0.0 <= result.macro_f1 <= 1.0 and result.n_features == 6 * n_layers * report.n_heads
        assert part.selectivity["macro_f1"] == pytest.approx(
            part.attention["model"].macro_f1 - part.attention["control"].macro_f1
        )
        assert {len(results) for results in part.hidden.values()} == {n_layers + 1}
        assert part.importance["overall"].shape == (n_layers, report.n_heads)
    assert report.tasks["binary"].n_train == 40 and report.tasks["binary"].n_test == 20
    assert report.tasks["multiclass"].n_train == 30 and report.tasks["multiclass"].n_test == 15
    assert report.tasks["binary"].generated_negatives == {"train": 0, "test": 0}
    clustering = report.tasks["multiclass"].clustering
    assert sorted(clustering["leaf_labels"]) == ["capital", "material", "young"]
    assert report.tasks["binary"].clustering is None
    data = json.loads(json.dumps(report.to_dict()))
    assert data["tasks"]["multiclass"]["hidden_states"]["model"]["best_layer"] in range(n_layers + 1)
    assert len(data["tasks"]["binary"]["importance"]["per_feature"]) == 6 * n_layers * report.n_heads


def test_probe_relations_end_to_end_tiny_bert(bert_report, tmp_path):
    _check_report(bert_report, n_layers=2)
    out = tmp_path / "figures" / "nested"
    written = [
        plot_importance(bert_report, out / "importance.png"),
        plot_importance(bert_report, out / "importance_binary.png", task="binary", by="overall"),
        plot_layer_scores(bert_report, out / "layers.png"),
        plot_dendrogram(bert_report, out / "dendrogram.png"),
        plot_dendrogram(bert_report.tasks["multiclass"].clustering, out / "dendrogram2.png"),
        bert_report.save(out / "report.json"),
    ]
    for path in written[:-1]:
        assert path.read_bytes()[:8] == PNG_MAGIC
    assert json.loads(written[-1].read_text())["dataset"] == "toy"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # no temporary files left
    # refuse a folder, leave nothing half-written on error
    with pytest.raises(IsADirectoryError):
        plot_importance(bert_report, out)
    with pytest.raises(ValueError, match="no relation clustering"):
        plot_dendrogram(bert_report, out / "bad.png", task="binary")
    assert not (out / "bad.png").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)


def test_probe_relations_tiny_roberta_sentences_and_generated_negatives(tiny_roberta_path, lexical_splits):
    encoder = AttentionEncoder.from_pretrained(tiny_roberta_path, device="cpu")
    report = probe_relations(encoder, lexical_splits, batch_size=16, name="toy")
    _check_report(report, n_layers=2)
    # plain sentences (no mask), no random pairs (generated), no control, no hidden states
    related = {split: [r for r in lexical_splits[split] if r.relation != "random"] for split in ("train", "test")}
    report = probe_relations(
        encoder,
        related,
        control=False,
        tasks=("binary",),
        hidden_states=False,
        inputs=lambda pair: AttentionInput.from_sentence(f"the {pair[0]} and the {pair[1]}", pair[0], pair[1]),
        name="sentences",
    )
    part = report.tasks["binary"]
    assert not report.with_mask and report.control is None and part.selectivity is None and part.hidden is None
    assert part.attention["model"].n_features == 2 * 2 * report.n_heads
    assert part.generated_negatives == {"train": 30, "test": 15} and part.n_train == 60
    json.dumps(report.to_dict())


def test_probe_relations_subsample_and_single_class(tiny_bert_path, lexical_splits, tmp_path):
    single = {
        "train": [r for r in lexical_splits["train"] if r.relation in ("capital", "random")],
        "test": lexical_splits["test"],
    }
    with pytest.raises(ValueError, match="toy.*train split has a single class for the multiclass task"):
        probe_relations(tiny_bert_path, single, control=False, tasks=("multiclass",), name="toy")
    with pytest.raises(ValueError, match="unknown probe task"):
        probe_relations(tiny_bert_path, lexical_splits, tasks=("ternary",))
    report = probe_relations(
        tiny_bert_path,
        lexical_splits,
        control=False,
        tasks=("multiclass",),
        hidden_states=False,
        max_train=12,
        max_test=9,
        seed=1,
    )
    part = report.tasks["multiclass"]
    assert part.n_train == 12 and part.n_test == 9 and part.classes == ["capital", "material", "young"]
    with pytest.raises(ValueError, match="hidden-state"):
        plot_layer_scores(report, tmp_path / "never.png")
    assert not list(tmp_path.iterdir())


def test_probe_relations_needs_a_test_split(tiny_bert_path, lexical_splits):
    with pytest.raises(ValueError, match="no 'test' split"):
        probe_relations(tiny_bert_path, {"train": lexical_splits["train"]}, control=False)


@pytest.mark.data
def test_probe_relations_real_dataset_slice(tiny_bert_path, data_dir):
    report = probe_relations(
        tiny_bert_path, "BLESS", data_dir=data_dir, control=False, hidden_states=False, max_train=200, max_test=100
    )
    assert report.dataset == "BLESS" and report.tasks["binary"].n_train == 200
    assert len(report.tasks["multiclass"].classes) >= 3

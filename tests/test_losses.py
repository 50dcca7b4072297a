"""relemb.losses: InfoNCE / InfoLOOB / triplet values against naive loops, masks, and training on tiny models."""

from __future__ import annotations

import math

import pytest
import torch
from datasets import Dataset

from relemb import RelBERT
from relemb.data import load_relation_similarity
from relemb.losses import (
    RelationNCELoss,
    RelationTripletLoss,
    relation_masks,
    relation_nce,
    relation_triplet,
)
from relemb.samplers import RelationBatchSampler, encode_label


def toy_labels() -> torch.Tensor:
    """Three relations: r0 has 3 positives + 2 negatives, r1 3 positives + 1 negative, r2 2 positives;
    r1's first positive is the same word pair as r0's first positive (pair id 0)."""
    rows = [
        (0, True, 0),
        (0, True, 1),
        (0, True, 2),
        (0, False, 3),
        (0, False, 4),
        (1, True, 0),
        (1, True, 5),
        (1, True, 6),
        (1, False, 7),
        (2, True, 8),
        (2, True, 9),
    ]
    return torch.tensor([encode_label(*row) for row in rows])


def naive_sets(labels: torch.Tensor, augmentation: bool = True):
    """Per anchor: (positives, negatives) by the recipe, written as plainly as possible."""
    out = {}
    rows = labels.tolist()
    for a, (ra, pa, ida) in enumerate(rows):
        if not pa:
            continue
        relation_pair_ids = {pid for (r, p, pid) in rows if r == ra and p}
        positives = [j for j, (r, p, pid) in enumerate(rows) if r == ra and p and j != a and pid != ida]
        negatives = []
        for n, (r, p, pid) in enumerate(rows):
            if pid in relation_pair_ids:
                continue  # the same word pair is a positive of the anchor's relation: never a negative
            if r == ra and not p:
                negatives.append(n)
            elif augmentation and r != ra and p:
                negatives.append(n)
        out[a] = (positives, negatives)
    return out


def naive_nce(emb: torch.Tensor, labels: torch.Tensor, tau: float, loob: bool, augmentation: bool = True) -> float:
    e = torch.nn.functional.normalize(emb.double(), dim=-1)
    terms = []
    for a, (positives, negatives) in naive_sets(labels, augmentation).items():
        if not negatives:
            continue
        neg = sum(math.exp(float(e[a] @ e[n]) / tau) for n in negatives)
        for p in positives:
            s = math.exp(float(e[a] @ e[p]) / tau)
            terms.append(-math.log(s / (neg if loob else neg + s)))
    return sum(terms) / len(terms)


def naive_triplet(emb: torch.Tensor, labels: torch.Tensor, margin: float) -> float:
    e = emb.double()
    terms = []
    for a, (positives, negatives) in naive_sets(labels).items():
        for p in positives:
            for n in negatives:
                terms.append(max(0.0, float((e[a] - e[p]).norm() - (e[a] - e[n]).norm()) + margin))
    return sum(terms) / len(terms)


@pytest.mark.parametrize("loob", [False, True])
@pytest.mark.parametrize("augmentation", [True, False])
def test_nce_matches_naive_formula(loob, augmentation):
    torch.manual_seed(0)
    emb = torch.randn(11, 6)
    labels = toy_labels()
    got = relation_nce(emb, labels, temperature=0.5, loob=loob, negative_augmentation=augmentation).item()
    assert got == pytest.approx(naive_nce(emb, labels, 0.5, loob, augmentation), rel=1e-5)


def test_nce_has_no_self_pairs_and_no_false_negatives():
    labels = toy_labels()
    _, positive, negative = relation_masks(labels)
    assert not positive.diagonal().any()  # i = j never counts (reference bug)
    # row 5 (r1) shares its word pair with row 0 (r0): not a negative of r0's anchors, not of r1's either
    assert not negative[0, 5] and not negative[1, 5]
    assert not negative[6, 0] and not negative[6, 5]
    # own negatives and other relations' positives are negatives
    assert negative[0, 3] and negative[0, 7] and negative[0, 9] and not negative[0, 8]  # row 8: r1's negative
    # negative rows are never anchors
    assert not positive[3].any() and not negative[3].any()


def test_nce_parent_groups():
    labels = toy_labels()
    groups = torch.tensor([0, 0, 1])  # r0 and r1 share a parent class
    _, positive, negative = relation_masks(labels, groups=groups, own_negatives=False)
    assert positive[0, 6]  # positives of sibling relations attract
    assert negative[0, 9] and not negative[0, 3]  # other parents' positives repel; own negatives unused
    value = relation_nce(torch.randn(11, 4), labels, groups=groups, own_negatives=False)
    assert torch.isfinite(value)


def test_nce_temperature_and_edge_cases():
    labels = torch.tensor([encode_label(0, True, 0), encode_label(0, True, 1)])
    emb = torch.randn(2, 3, requires_grad=True)
    value = relation_nce(emb, labels)  # no negative at all: zero, still differentiable
    assert value.item() == 0.0
    value.backward()
    with pytest.raises(ValueError, match="temperature"):
        relation_nce(emb, labels, temperature=0)


def test_triplet_matches_naive_and_margin_is_added():
    torch.manual_seed(1)
    emb = torch.randn(11, 5)
    labels = toy_labels()
    assert relation_triplet(emb, labels, 1.5).item() == pytest.approx(naive_triplet(emb, labels, 1.5), rel=1e-5)

    # anchor at 0, positive at distance 1, negative at distance 3
    emb = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [0.0, 30.0]])
    labels = torch.tensor(
        [encode_label(0, True, 0), encode_label(0, True, 1), encode_label(0, False, 2), encode_label(1, False, 3)]
    )
    anchor = torch.tensor([0])
    # max(0, 1 - 3 + 5) = 3 with the margin added; the reference's sign (1 - 3 - 5) would give 0
    assert relation_triplet(emb, labels, 5.0, anchor_rows=anchor).item() == pytest.approx(3.0)
    assert relation_triplet(emb, labels, 1.0, anchor_rows=anchor).item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match="margin"):
        relation_triplet(emb, labels, -1.0)


def test_classification_head_term_and_state(tiny_model):
    loss = RelationNCELoss(tiny_model.encoder, classification=True)
    head = loss.head_state_dict()
    assert set(head) == {"head.classifier.weight", "head.classifier.bias"}
    assert head["head.classifier.weight"].shape == (2, 3 * tiny_model.embedding_dim)
    torch.manual_seed(0)
    emb = torch.randn(4, tiny_model.embedding_dim)
    labels = torch.tensor(
        [encode_label(0, True, 0), encode_label(0, True, 1), encode_label(1, True, 2), encode_label(1, True, 3)]
    )
    loss.classification_negatives = 2
    value = loss.classification_term(emb, labels, torch.arange(4)).item()
    linear = loss.head.classifier

    def g(u, v):  # probability of "same relation"
        logits = linear(torch.cat([u, v, (u - v).abs()]))
        return torch.softmax(logits, dim=0)[1].item()

    positive = sum(-math.log(g(emb[a], emb[p])) for a, p in [(0, 1), (1, 0), (2, 3), (3, 2)]) / 4
    negative = (
        sum(
            -math.log(1 - g(emb[a], emb[n]))
            for a, n in [(0, 2), (0, 3), (1, 2), (1, 3), (2, 0), (2, 1), (3, 0), (3, 1)]
        )
        / 8
    )
    assert value == pytest.approx(positive + negative, rel=1e-4)


def _toy_batch(model: RelBERT, n_relations: int = 4):
    records = load_relation_similarity("starter", "train")[:n_relations]
    pairs, labels, ids = [], [], {}
    for r, record in enumerate(records):
        for polarity, group in ((True, record.positives[:4]), (False, record.negatives[:2])):
            for pair in group:
                pairs.append(pair)
                labels.append(encode_label(r, polarity, ids.setdefault(pair, len(ids))))
    features = model.transformer.preprocess(pairs)
    return features, torch.tensor(labels)


@pytest.mark.parametrize(
    "make_loss",
    [
        lambda m: RelationNCELoss(m, temperature=0.1),
        lambda m: RelationNCELoss(m, loob=True, parent_groups=[0, 0, 1, 1]),
        lambda m: RelationTripletLoss(m, margin=1.0),
        lambda m: RelationNCELoss(m, classification=True),
        lambda m: RelationTripletLoss(m, classification=True),
    ],
    ids=["nce", "loob+parent", "triplet", "nce+classification", "triplet+classification"],
)
def test_every_loss_decreases_on_a_toy_set(tiny_bert_path, make_loss):
    torch.manual_seed(0)
    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    model.encoder.train()
    loss = make_loss(model.encoder)
    features, labels = _toy_batch(model)
    optimizer = torch.optim.Adam(loss.parameters(), lr=3e-3)
    values = []
    for _ in range(12):
        components = loss([dict(features)], labels)
        total = sum(components.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        values.append(total.item())
    assert all(math.isfinite(v) for v in values)
    assert values[-1] < 0.8 * values[0], values


def test_loss_rejects_wrong_inputs(tiny_model):
    loss = RelationNCELoss(tiny_model.encoder)
    features = tiny_model.transformer.preprocess([("a", "b")])
    with pytest.raises(ValueError, match="one input column"):
        loss([features, features], torch.tensor([encode_label(0, True, 0)]))
    with pytest.raises(ValueError, match=r"shape \(batch, 3\)"):
        loss([features], torch.tensor([0]))
    with pytest.raises(ValueError, match="temperature"):
        RelationNCELoss(tiny_model.encoder, temperature=-1)
    with pytest.raises(ValueError, match="margin"):
        RelationTripletLoss(tiny_model.encoder, margin=-0.5)
    with pytest.raises(TypeError, match="margin"):
        RelationNCELoss(tiny_model.encoder, margin=1.0)  # an option of the other loss is not silently dropped


def test_config_dicts_name_every_option(tiny_model):
    nce = RelationNCELoss(tiny_model.encoder, 0.1, loob=True, parent_groups=[0, 0], negative_augmentation=False)
    assert nce.get_config_dict() == {
        "temperature": 0.1,
        "loob": True,
        "parent_level": True,
        "negative_augmentation": False,
        "cross_negatives": False,
        "classification": False,
    }
    triplet = RelationTripletLoss(
        tiny_model.encoder, 0.5, classification=True, gather_across_devices=False, cross_negatives=True
    )
    assert triplet.get_config_dict() == {
        "margin": 0.5,
        "negative_augmentation": True,
        "cross_negatives": True,
        "classification": True,
    }
    assert not triplet.gather_across_devices and triplet.classification_negatives == 8


def test_loss_over_sampler_batches_is_finite(tiny_model):
    records = load_relation_similarity("starter", "train")
    pairs, labels, ids = [], [], {}
    for r, record in enumerate(records):
        for polarity, group in ((True, record.positives), (False, record.negatives)):
            for pair in group:
                pairs.append(list(pair))
                labels.append(encode_label(r, polarity, ids.setdefault(pair, len(ids))))
    rows = Dataset.from_dict({"pair": pairs, "label": labels})
    sampler = RelationBatchSampler(rows, batch_size=96, drop_last=False, valid_label_columns=["label"])
    loss = RelationNCELoss(tiny_model.encoder)
    batch = next(iter(sampler))
    with torch.no_grad():
        features = tiny_model.transformer.preprocess([pairs[i] for i in batch])
        value = loss([features], torch.tensor([labels[i] for i in batch]))["nce"]
    assert torch.isfinite(value) and value.item() > 0


def test_cross_negatives_add_the_other_relations_negatives():
    from relemb.losses import relation_masks
    from relemb.samplers import encode_label

    labels = torch.tensor(
        [encode_label(0, True, 0), encode_label(0, True, 1), encode_label(0, False, 2),
         encode_label(1, True, 3), encode_label(1, True, 4), encode_label(1, False, 5)]
    )  # fmt: skip
    _, _, plain = relation_masks(labels)
    _, _, cross = relation_masks(labels, cross_negatives=True)
    assert plain[0].tolist() == [False, False, True, True, True, False]  # own negative + other positives
    assert cross[0].tolist() == [False, False, True, True, True, True]  # + the other relation's negative
    assert not cross[2].any()  # a negative row is never an anchor

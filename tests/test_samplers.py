"""relemb.samplers: whole relations per batch, reproducible per epoch, DDP-friendly batch counts."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset

from relemb.losses import relation_masks
from relemb.samplers import RelationBatchSampler, decode_labels, encode_label, relation_groups


def make_rows(n_relations: int, positives: int = 4, negatives: int = 3) -> Dataset:
    pairs, labels, pid = [], [], 0
    for r in range(n_relations):
        for polarity, count in ((True, positives), (False, negatives)):
            for _ in range(count):
                pairs.append([f"h{pid}", f"t{pid}"])
                labels.append(encode_label(r, polarity, pid))
                pid += 1
    return Dataset.from_dict({"pair": pairs, "label": labels})


def test_labels_roundtrip_and_errors():
    assert encode_label(2, True, 5) == [2, 1, 5]
    rel, pos, pair = decode_labels(torch.tensor([encode_label(2, True, 5), encode_label(0, False, 1)]))
    assert rel.tolist() == [2, 0] and pos.tolist() == [True, False] and pair.tolist() == [5, 1]
    with pytest.raises(ValueError, match="shape"):
        decode_labels(torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=">= 0"):
        encode_label(-1, True, 0)
    with pytest.raises(ValueError, match="row 1"):
        relation_groups([[0, 1, 0], [3]])


def test_each_epoch_covers_every_row_once_with_whole_relations():
    rows = make_rows(10)
    sampler = RelationBatchSampler(rows, batch_size=21, drop_last=False, valid_label_columns=["label"], seed=3)
    labels = list(rows["label"])
    batches = list(sampler)
    assert len(batches) == len(sampler) == 4  # ceil(70 rows / 21); at most 10 relations // 2 = 5
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(rows)))
    for batch in batches:
        relations = {labels[i][0] for i in batch}
        assert len(relations) >= 2
        for relation in relations:  # a relation is never split across batches
            members = [i for i, label in enumerate(labels) if label[0] == relation]
            assert set(members) <= set(batch)


def test_batches_reproducible_per_epoch_and_differ_between_epochs():
    rows = make_rows(12)
    a = RelationBatchSampler(rows, batch_size=14, drop_last=False, valid_label_columns=["label"], seed=7)
    b = RelationBatchSampler(rows, batch_size=14, drop_last=False, valid_label_columns=["label"], seed=7)
    assert a.batches_for_epoch(0) == b.batches_for_epoch(0)
    a.set_epoch(1)
    assert list(a) == b.batches_for_epoch(1)
    assert a.batches_for_epoch(0) != a.batches_for_epoch(1)
    c = RelationBatchSampler(rows, batch_size=14, drop_last=False, valid_label_columns=["label"], seed=8)
    assert c.batches_for_epoch(0) != a.batches_for_epoch(0)


def test_batch_count_is_a_multiple_of_the_world_size():
    rows = make_rows(9)  # 63 rows
    for world_size in (1, 2, 3):
        sampler = RelationBatchSampler(
            rows, batch_size=8, drop_last=False, valid_label_columns=["label"], world_size=world_size
        )
        assert len(sampler) % world_size == 0
        assert sorted(i for b in sampler for i in b) == list(range(63))
    # fewer relations than processes: relations are repeated so every process gets a batch
    sampler = RelationBatchSampler(make_rows(1), batch_size=4, drop_last=False, world_size=2)
    assert len(list(sampler)) == 2


def test_no_same_relation_negatives_in_any_batch():
    """The guarantee the losses rely on: in every batch, a row is a negative of an anchor only if it is one of the
    anchor relation's own negatives, or a positive of another relation whose word pair is not a positive of the
    anchor's relation."""
    rows = make_rows(8)
    # the same word pair listed as a positive of relation 0 and of relation 1 (as in SemEval-2012)
    labels = list(rows["label"])
    labels[7] = encode_label(1, True, labels[0][2])
    rows = Dataset.from_dict({"pair": rows["pair"], "label": labels})
    sampler = RelationBatchSampler(rows, batch_size=16, drop_last=False, valid_label_columns=["label"])
    for epoch in range(3):
        for batch in sampler.batches_for_epoch(epoch):
            batch_labels = torch.tensor([labels[i] for i in batch])
            _, _, negative = relation_masks(batch_labels)
            rel, pos, pair = decode_labels(batch_labels)
            for a, c in negative.nonzero().tolist():
                assert pos[a]
                if rel[c] == rel[a]:
                    assert not pos[c]
                else:
                    assert pos[c]
                    same_pair_positive = (pair == pair[c]) & (rel == rel[a]) & pos
                    assert not bool(same_pair_positive.any())


def test_bad_inputs():
    rows = make_rows(3)
    with pytest.raises(ValueError, match="positive integer"):
        RelationBatchSampler(rows, batch_size=0, drop_last=False)
    with pytest.raises(ValueError, match="label column"):
        RelationBatchSampler(rows.remove_columns("label"), batch_size=4, drop_last=False)
    with pytest.raises(ValueError, match="empty"):
        RelationBatchSampler(Dataset.from_dict({"pair": [], "label": []}), batch_size=4, drop_last=False)


def _rows(n_relations=6, n_pos=4, n_neg=3):
    from datasets import Dataset

    labels, pairs = [], []
    for relation in range(n_relations):
        for i in range(n_pos + n_neg):
            labels.append(encode_label(relation, i < n_pos, len(pairs)))
            pairs.append([f"h{len(pairs)}", f"t{len(pairs)}"])
    return Dataset.from_dict({"pair": pairs, "label": labels}), labels


def test_sampled_batches_hold_distinct_relations_with_positives_and_hard_negatives():
    rows, labels = _rows()
    sampler = RelationBatchSampler(rows, batch_size=128, valid_label_columns=["label"], relations_per_batch=3,
                                   positives_per_relation=2, negatives_per_relation=1, seed=5)  # fmt: skip
    assert len(sampler) == 4  # ceil(24 positives / (3 relations * 2 positives))
    batches = sampler.batches_for_epoch(0)
    assert len(batches) == 4 and batches == sampler.batches_for_epoch(0)
    assert batches != sampler.batches_for_epoch(1)
    for batch in batches:
        assert len(batch) == 9 and len(set(batch)) == 9
        relations = [labels[i][0] for i in batch]
        assert sorted(set(relations)) == sorted(set(relations)) and len(set(relations)) == 3
        for relation in set(relations):
            polarity = [labels[i][1] for i in batch if labels[i][0] == relation]
            assert sorted(polarity) == [0, 1, 1]


def test_sampled_mode_checks_its_options():
    rows, _ = _rows()
    for bad in ({"relations_per_batch": 1}, {"relations_per_batch": 7},
                {"relations_per_batch": 2, "positives_per_relation": 1}):  # fmt: skip
        with pytest.raises(ValueError, match="relations_per_batch|positives_per_relation"):
            RelationBatchSampler(rows, batch_size=8, valid_label_columns=["label"], **bad)

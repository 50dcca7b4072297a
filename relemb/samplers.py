"""Relation-aware batches for training: every batch holds whole relations, never a split one.

Training rows are ``(pair, label)`` where ``label = [relation_index, polarity, pair_index]``
(:func:`encode_label`): ``polarity`` is 1 for a positive (prototypical) pair of the relation and 0 for
one of its negatives; ``pair_index`` identifies the word pair itself, so a pair listed under two
relations is recognised as the same pair. The losses in :mod:`relemb.losses` read these labels to
decide, per anchor, which rows are positives and which are negatives; the sampler here guarantees
that a relation's positives and negatives always arrive together and that each batch holds several
relations (whose positives are the augmented negatives).

Pass :class:`RelationBatchSampler` (the class) as ``batch_sampler`` of
``SentenceTransformerTrainingArguments``; ``per_device_train_batch_size`` is then the target number
of rows (pairs) per batch, rounded to whole relations.

>>> from datasets import Dataset
>>> rows = Dataset.from_dict({
...     "pair": [["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"], ["i", "j"], ["k", "l"]],
...     "label": [encode_label(0, True, 0), encode_label(0, True, 1), encode_label(1, True, 2),
...               encode_label(1, False, 3), encode_label(2, True, 4), encode_label(2, True, 5)]})
>>> sampler = RelationBatchSampler(rows, batch_size=4, drop_last=False, valid_label_columns=["label"])
>>> batches = list(sampler)
>>> sorted(i for batch in batches for i in batch)
[0, 1, 2, 3, 4, 5]
>>> len(batches)
1
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from sentence_transformers.base.sampler import DefaultBatchSampler

__all__ = [
    "LABEL_COLUMN",
    "RelationBatchSampler",
    "decode_labels",
    "encode_label",
    "relation_groups",
]

#: The label column of relation training datasets.
LABEL_COLUMN = "label"


def encode_label(relation_index: int, positive: bool, pair_index: int) -> list[int]:
    """The label of one training row: ``[relation_index, 1 if positive else 0, pair_index]``.

    >>> encode_label(3, False, 17)
    [3, 0, 17]
    """
    if relation_index < 0 or pair_index < 0:
        raise ValueError(f"relation_index and pair_index must be >= 0, got {relation_index}, {pair_index}")
    return [int(relation_index), 1 if positive else 0, int(pair_index)]


def decode_labels(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split a ``(batch, 3)`` label tensor into ``(relation, is_positive, pair)``.

    >>> rel, pos, pair = decode_labels(torch.tensor([[3, 0, 17], [1, 1, 2]]))
    >>> rel.tolist(), pos.tolist(), pair.tolist()
    ([3, 1], [False, True], [17, 2])
    """
    if labels is None or labels.ndim != 2 or labels.shape[1] != 3:
        shape = None if labels is None else tuple(labels.shape)
        raise ValueError(
            f"relation losses need labels of shape (batch, 3) = [relation, polarity, pair] per row "
            f"(relemb.samplers.encode_label), got {shape}; build the dataset with relemb.training.build_datasets"
        )
    labels = labels.long()
    return labels[:, 0], labels[:, 1] == 1, labels[:, 2]


def relation_groups(labels: Sequence[Sequence[int]]) -> dict[int, list[int]]:
    """Row indices grouped by relation, in order of first appearance.

    >>> relation_groups([[1, 1, 0], [0, 1, 1], [1, 0, 2]])
    {1: [0, 2], 0: [1]}
    """
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(labels):
        if not isinstance(label, (list, tuple)) or len(label) != 3:
            raise ValueError(f"row {row}: label {label!r} is not [relation, polarity, pair] (see encode_label)")
        groups.setdefault(int(label[0]), []).append(row)
    return groups


def _world_size() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return 1


class RelationBatchSampler(DefaultBatchSampler):
    """Batches made of whole relations (all positives and negatives of each relation they contain).

    Each epoch the relations are shuffled (seeded with ``seed + epoch``, so a resumed run sees the
    same batches) and dealt into ``ceil(rows / batch_size)`` batches of about ``batch_size`` rows.
    Batches hold at least two relations whenever there are enough relations, so every anchor has
    negatives from other relations. Under DDP the number of batches is a multiple of the world size,
    so every process runs the same number of steps (the losses' all-gathers never wait forever).

    ``drop_last`` is accepted for the trainer's interface and ignored: no relation is ever dropped.

    Args:
        dataset: rows with a label column of :func:`encode_label` labels.
        batch_size: target rows per batch (per device).
        drop_last: ignored.
        valid_label_columns: the trainer's label column names; the first present one is used.
        generator: ignored (a fresh generator seeded with ``seed + epoch`` keeps batches reproducible).
        seed: the shuffling seed.
        world_size: number of processes; default: ``torch.distributed``'s world size (1 without DDP).
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool = False,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int = 0,
        world_size: int | None = None,
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        columns = list(valid_label_columns or [LABEL_COLUMN])
        column = next((name for name in columns if name in dataset.column_names), None)
        if column is None:
            raise ValueError(
                f"RelationBatchSampler needs a label column ({', '.join(columns)}); the dataset has "
                f"{dataset.column_names}"
            )
        self.groups = list(relation_groups(dataset[column]).values())
        if not self.groups:
            raise ValueError("RelationBatchSampler got an empty dataset: no relation to train on")
        self.world_size = int(world_size or _world_size())
        n_rows = sum(len(group) for group in self.groups)
        n_batches = max(1, math.ceil(n_rows / batch_size))
        if len(self.groups) >= 2:
            n_batches = min(n_batches, len(self.groups) // 2)  # at least two relations per batch
        n_batches = max(self.world_size, n_batches - n_batches % self.world_size)
        self.num_batches = n_batches

    def __len__(self) -> int:
        return self.num_batches

    def batches_for_epoch(self, epoch: int) -> list[list[int]]:
        """The batches (lists of row indices) of ``epoch``; the same for the same seed and epoch."""
        generator = torch.Generator()
        generator.manual_seed(int(self.seed) + int(epoch))
        order = torch.randperm(len(self.groups), generator=generator).tolist()
        if len(order) < self.num_batches:  # fewer relations than processes: repeat some
            extra = torch.randint(len(order), (self.num_batches - len(order),), generator=generator).tolist()
            order = order + [order[i] for i in extra]
        batches: list[list[int]] = [[] for _ in range(self.num_batches)]
        # deal the shuffled relations out like cards: batch sizes differ by at most one relation
        for position, group_index in enumerate(order):
            batches[position % self.num_batches].extend(self.groups[group_index])
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches_for_epoch(self.epoch)

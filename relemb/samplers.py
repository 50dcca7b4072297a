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
    """Relation-aware batches, in one of two modes.

    **Whole relations** (default, RelBERT's batches): each epoch the relations are shuffled and dealt into
    ``ceil(rows / batch_size)`` batches of about ``batch_size`` rows, every relation with all its positives
    and negatives. Batches hold at least two relations whenever there are enough relations.

    **Sampled relations** (``relations_per_batch=K``): every batch holds ``K`` different relations, each with
    ``positives_per_relation`` of its positive pairs and ``negatives_per_relation`` of its negatives, drawn
    at random: in-batch InfoNCE in the style of sentence-transformers' ``MultipleNegativesRankingLoss``
    (an anchor, its positive and a hard negative of the same relation; the other relations' pairs are the
    in-batch negatives). No relation appears twice in a batch, so a same-relation pair is never an in-batch
    negative; the losses also refuse a pair listed under two relations as a negative. An epoch has as many
    batches as it takes to draw every positive once on average: ``ceil(positives / (K * P))``. Small batches
    make many more optimizer updates in the same time.

    Batches are seeded with ``seed + epoch``, so a resumed run sees the same batches. Under DDP the number of
    batches is a multiple of the world size, so every process runs the same number of steps (the losses'
    all-gathers never wait forever). ``drop_last`` is accepted for the trainer's interface and ignored.

    Args:
        dataset: rows with a label column of :func:`encode_label` labels.
        batch_size: target rows per batch (per device).
        drop_last: ignored.
        valid_label_columns: the trainer's label column names; the first present one is used.
        generator: ignored (a fresh generator seeded with ``seed + epoch`` keeps batches reproducible).
        seed: the shuffling seed.
        world_size: number of processes; default: ``torch.distributed``'s world size (1 without DDP).
        relations_per_batch: ``K`` of the sampled mode (``None``: whole relations).
        positives_per_relation: positives of each relation in a sampled batch (at least 2: an anchor and its
            positive; a relation with fewer positives gives all of them).
        negatives_per_relation: negatives of each relation in a sampled batch (hard negatives; 0: none).
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
        relations_per_batch: int | None = None,
        positives_per_relation: int = 2,
        negatives_per_relation: int = 1,
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
        labels = dataset[column]
        self.groups = list(relation_groups(labels).values())
        if not self.groups:
            raise ValueError("RelationBatchSampler got an empty dataset: no relation to train on")
        self.world_size = int(world_size or _world_size())
        self.relations_per_batch = relations_per_batch
        self.positives_per_relation = int(positives_per_relation)
        self.negatives_per_relation = int(negatives_per_relation)
        if relations_per_batch is None:
            n_rows = sum(len(group) for group in self.groups)
            n_batches = max(1, math.ceil(n_rows / batch_size))
            if len(self.groups) >= 2:
                n_batches = min(n_batches, len(self.groups) // 2)  # at least two relations per batch
        else:
            if isinstance(relations_per_batch, bool) or not isinstance(relations_per_batch, int):
                raise ValueError(f"relations_per_batch must be an integer >= 2, got {relations_per_batch!r}")
            if not 2 <= relations_per_batch <= len(self.groups):
                raise ValueError(
                    f"relations_per_batch must be between 2 and the {len(self.groups)} relations, got {relations_per_batch}"
                )
            if self.positives_per_relation < 2 or self.negatives_per_relation < 0:
                raise ValueError(
                    "positives_per_relation must be >= 2 (an anchor and its positive) and negatives_per_relation "
                    f">= 0, got {positives_per_relation} and {negatives_per_relation}"
                )
            polarity = [int(label[1]) for label in labels]
            self.positive_rows = [[row for row in group if polarity[row] == 1] for group in self.groups]
            self.negative_rows = [[row for row in group if polarity[row] != 1] for group in self.groups]
            n_positives = sum(len(rows) for rows in self.positive_rows)
            n_batches = max(1, math.ceil(n_positives / (relations_per_batch * self.positives_per_relation)))
        n_batches = max(self.world_size, n_batches - n_batches % self.world_size)
        self.num_batches = n_batches

    def __len__(self) -> int:
        return self.num_batches

    def batches_for_epoch(self, epoch: int) -> list[list[int]]:
        """The batches (lists of row indices) of ``epoch``; the same for the same seed and epoch."""
        generator = torch.Generator()
        generator.manual_seed(int(self.seed) + int(epoch))
        if self.relations_per_batch is not None:
            return [self._sampled_batch(generator) for _ in range(self.num_batches)]
        order = torch.randperm(len(self.groups), generator=generator).tolist()
        if len(order) < self.num_batches:  # fewer relations than processes: repeat some
            extra = torch.randint(len(order), (self.num_batches - len(order),), generator=generator).tolist()
            order = order + [order[i] for i in extra]
        batches: list[list[int]] = [[] for _ in range(self.num_batches)]
        # deal the shuffled relations out like cards: batch sizes differ by at most one relation
        for position, group_index in enumerate(order):
            batches[position % self.num_batches].extend(self.groups[group_index])
        return batches

    def _sampled_batch(self, generator: torch.Generator) -> list[int]:
        """``K`` different relations, each with its drawn positives and negatives (sampled mode)."""
        batch: list[int] = []
        k = int(self.relations_per_batch or 0)
        for group in torch.randperm(len(self.groups), generator=generator)[:k].tolist():
            for rows, n in ((self.positive_rows[group], self.positives_per_relation),
                            (self.negative_rows[group], self.negatives_per_relation)):  # fmt: skip
                if rows and n:
                    picked = torch.randperm(len(rows), generator=generator)[:n].tolist()
                    batch.extend(rows[i] for i in picked)
        return batch

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches_for_epoch(self.epoch)

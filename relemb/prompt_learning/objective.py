"""The training objective prompts are learned on, and the frozen-encoder context.

Rows are built as ``relemb-train`` builds them: one ``pair`` column and a ``label`` column of
``[relation, polarity, pair]`` (:func:`relemb.samplers.encode_label`), batched into whole relations by
:class:`relemb.samplers.RelationBatchSampler`; the loss is :class:`relemb.losses.RelationNCELoss` or
:class:`relemb.losses.RelationTripletLoss` on ``model.encoder``. Any sentence-transformers loss module
with ``forward(sentence_features, labels)`` over that one column works too.

>>> from relemb.data import load_relation_similarity
>>> model = RelBERT.from_pretrained("minilm")                           # doctest: +SKIP
>>> objective = PromptObjective.from_records(model, load_relation_similarity("starter"))  # doctest: +SKIP
>>> pairs, labels = objective.batch(0)                                 # doctest: +SKIP
>>> objective.loss(pairs, labels).item()                               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from relemb.data import RelationRecord
    from relemb.model import RelBERT

Pair = tuple[str, str]


def relation_rows(records: Sequence[RelationRecord]) -> tuple[list[Pair], list[list[int]]]:
    """Training rows of ``records``: every positive and negative pair with its
    ``[relation, polarity, pair]`` label; a word pair has one ``pair`` index wherever it appears.

    >>> from relemb.data import RelationRecord
    >>> pairs, labels = relation_rows([RelationRecord("1/a", [("a", "b")], [("c", "d")]),
    ...                                RelationRecord("1/b", [("c", "d")], [])])
    >>> pairs, labels
    ([('a', 'b'), ('c', 'd'), ('c', 'd')], [[0, 1, 0], [0, 0, 1], [1, 1, 1]])
    """
    from relemb.samplers import encode_label

    records = list(records)
    if not records:
        raise ValueError("prompt learning needs training relations; got an empty list of records")
    pair_ids: dict[Pair, int] = {}
    pairs: list[Pair] = []
    labels: list[list[int]] = []
    for relation_index, record in enumerate(records):
        if not hasattr(record, "positives") or not hasattr(record, "negatives"):
            raise TypeError(
                f"records must be relemb.data.RelationRecord objects (load_relation_similarity), "
                f"got {type(record).__name__} at index {relation_index}"
            )
        for polarity, group in ((True, record.positives), (False, record.negatives)):
            for pair in group:
                pair = (pair[0], pair[1])
                pairs.append(pair)
                labels.append(encode_label(relation_index, polarity, pair_ids.setdefault(pair, len(pair_ids))))
    return pairs, labels


def build_prompt_loss(model: RelBERT, name: str = "nce") -> nn.Module:
    """RelBERT's loss ``name`` (``nce`` or ``triplet``) on ``model.encoder``, single process."""
    from relemb.losses import RelationNCELoss, RelationTripletLoss

    if name == "nce":
        return RelationNCELoss(model.encoder, gather_across_devices=False)
    if name == "triplet":
        return RelationTripletLoss(model.encoder, gather_across_devices=False)
    raise ValueError(f"unknown prompt loss {name!r}; choose nce or triplet")


class PromptObjective:
    """A loss over batches of labelled word pairs, evaluated on ``model`` with any template.

    Args:
        model: the :class:`~relemb.RelBERT` whose encoder embeds the pairs.
        loss: a sentence-transformers loss module: ``loss([features], labels)`` returns a scalar or a
            dict of scalars (summed).
        pairs: the training pairs (one row each).
        labels: one label per row (for relemb's losses: ``[relation, polarity, pair]``).
        batch_size: target rows per batch; batches are whole relations
            (:class:`~relemb.samplers.RelationBatchSampler`).
        seed: the batch-order seed (each pass over the data reshuffles with ``seed + epoch``).
    """

    def __init__(
        self,
        model: RelBERT,
        loss: nn.Module,
        pairs: Sequence[Pair],
        labels: Sequence[Sequence[int]],
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        from datasets import Dataset

        from relemb.samplers import RelationBatchSampler

        if len(pairs) != len(labels) or not pairs:
            raise ValueError(f"pairs and labels must be non-empty and of equal length, got {len(pairs)}, {len(labels)}")
        self.model = model
        self.loss_module = loss
        self.pairs = [tuple(pair) for pair in model.validate_pairs(pairs)]
        self.labels = torch.as_tensor([list(label) for label in labels], dtype=torch.long)
        rows = Dataset.from_dict({"pair": [list(p) for p in self.pairs], "label": self.labels.tolist()})
        self.sampler = RelationBatchSampler(rows, batch_size=batch_size, valid_label_columns=["label"], seed=seed)

    @classmethod
    def from_records(
        cls,
        model: RelBERT,
        records: Sequence[RelationRecord],
        *,
        loss: str | nn.Module = "nce",
        batch_size: int = 64,
        seed: int = 0,
    ) -> PromptObjective:
        """The objective of ``relemb-train`` on ``records`` with loss ``nce``/``triplet`` (or a module)."""
        pairs, labels = relation_rows(records)
        module = build_prompt_loss(model, loss) if isinstance(loss, str) else loss
        return cls(model, module, pairs, labels, batch_size=batch_size, seed=seed)

    @classmethod
    def from_dataset(
        cls,
        model: RelBERT,
        dataset: Any,
        *,
        loss: str | nn.Module = "nce",
        batch_size: int = 64,
        seed: int = 0,
    ) -> PromptObjective:
        """The objective on training rows as ``relemb.train.build_datasets`` makes them: a
        ``datasets.Dataset`` with a ``pair`` column (``[head, tail]``) and a ``label`` column.

        Example::

            data = relemb.train.build_datasets(data_args)
            objective = PromptObjective.from_dataset(model, data.dataset, loss=loss_module)
        """
        columns = list(getattr(dataset, "column_names", []) or [])
        if "pair" not in columns or "label" not in columns:
            raise ValueError(f"a training dataset needs the columns 'pair' and 'label'; it has {columns}")
        module = build_prompt_loss(model, loss) if isinstance(loss, str) else loss
        return cls(model, module, dataset["pair"], dataset["label"], batch_size=batch_size, seed=seed)

    @property
    def batches_per_epoch(self) -> int:
        return len(self.sampler)

    def batch(self, step: int) -> tuple[list[Pair], Tensor]:
        """The pairs and labels of training step ``step`` (epochs follow each other, reshuffled)."""
        epoch, index = divmod(int(step), self.batches_per_epoch)
        rows = self.sampler.batches_for_epoch(epoch)[index]
        return [self.pairs[i] for i in rows], self.labels[rows]

    def loss(
        self,
        pairs: Sequence[Pair],
        labels: Tensor,
        template: str | None = None,
        features: dict[str, Any] | None = None,
    ) -> Tensor:
        """The loss of one batch with ``template`` (default: the model's); keeps the autograd graph.

        ``features``: the batch already tokenized with that template (``model.encoder.preprocess``).
        """
        from sentence_transformers.util import batch_to_device

        if features is None:
            features = self.model.encoder.preprocess(list(pairs), prompt=template)
        features = batch_to_device(dict(features), self.model.device)
        value = self.loss_module([features], labels.to(self.model.device))
        if isinstance(value, dict):
            value = torch.stack([v.float() for v in value.values()]).sum()
        return value

    @torch.no_grad()
    def full_loss(self, template: str | None = None) -> float:
        """The mean batch loss over one pass of the data (the batches of epoch 0), without gradients."""
        values = [self.loss(*self.batch(step), template=template).item() for step in range(self.batches_per_epoch)]
        return float(sum(values) / len(values))


@contextmanager
def frozen_encoder(model: RelBERT) -> Iterator[None]:
    """Freeze every encoder parameter and switch off dropout; restore both afterwards.

    >>> with frozen_encoder(model):                                    # doctest: +SKIP
    ...     assert not any(p.requires_grad for p in model.encoder.parameters())
    """
    parameters = list(model.encoder.parameters())
    flags = [p.requires_grad for p in parameters]
    training = model.encoder.training
    for parameter in parameters:
        parameter.requires_grad_(False)
    model.encoder.eval()
    try:
        yield
    finally:
        for parameter, flag in zip(parameters, flags):
            parameter.requires_grad_(flag)
        model.encoder.train(training)


def resolve_objective(
    model: RelBERT, data: Sequence[RelationRecord] | PromptObjective | Any, loss: str, batch_size: int, seed: int
) -> PromptObjective:
    """The objective of ``data``: a :class:`PromptObjective` (used as is), a ``datasets.Dataset`` of
    training rows (``pair``, ``label``) or a list of :class:`~relemb.data.RelationRecord`."""
    if isinstance(data, PromptObjective):
        if data.model is not model:
            raise ValueError("the PromptObjective was built for a different model than the one given")
        return data
    if hasattr(data, "column_names"):
        return PromptObjective.from_dataset(model, data, loss=loss, batch_size=batch_size, seed=seed)
    return PromptObjective.from_records(model, data, loss=loss, batch_size=batch_size, seed=seed)


def input_ids_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor:
    """The token ids an embedding module was called with (positionally or as ``input``)."""
    if args:
        return args[0]
    if "input" in kwargs:
        return kwargs["input"]
    raise RuntimeError("the word-embedding module was called without token ids")

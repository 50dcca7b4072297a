"""The training objective prompts are learned on, and the frozen-encoder context.

Prompt learning optimises the fine-tuning objective itself: the rows come from
:func:`relemb.training.records_to_dataset` (one ``pair`` column and a ``label`` column of
``[relation, polarity, pair]``), batched into whole relations by
:class:`relemb.samplers.RelationBatchSampler`, and the loss is the module
:func:`relemb.training.build_loss` makes from the user's :class:`~relemb.train_config.LossArguments`
(temperature, InfoLOOB, margin, negative augmentation, parent-class and classification terms included).
``relemb-train --prompt ...`` hands the very loss module it then fine-tunes with. Any
sentence-transformers loss module with ``forward(sentence_features, labels)`` over that one column works
too.

>>> from relemb.data import load_relation_similarity
>>> from relemb.train_config import LossArguments
>>> model = RelBERT.from_pretrained("minilm")                           # doctest: +SKIP
>>> objective = PromptObjective.from_records(                           # doctest: +SKIP
...     model, load_relation_similarity("starter"), loss=LossArguments(loss="nce", temperature=0.1))
>>> pairs, labels = objective.batch(0)                                 # doctest: +SKIP
>>> objective.loss(pairs, labels).item()                               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from relemb.pairs import Pair

if TYPE_CHECKING:
    from relemb.data import RelationRecord
    from relemb.model import RelBERT
    from relemb.prompt_learning.config import PromptLearningArguments
    from relemb.train_config import LossArguments
    from relemb.training import TrainingData


def resolve_loss(model: RelBERT, loss: nn.Module | LossArguments | None, data: TrainingData | None = None) -> nn.Module:
    """The loss module of ``loss``: a module as it is, else :func:`relemb.training.build_loss` of the
    ``LossArguments`` (``None``: ``LossArguments()``, RelBERT's nce) on ``model``; ``data`` gives the
    parent classes ``parent_contrast`` needs.

    >>> resolve_loss(model, LossArguments(loss="triplet", margin=0.5)).margin    # doctest: +SKIP
    0.5
    """
    from relemb.train_config import LossArguments
    from relemb.training import build_loss

    if isinstance(loss, nn.Module):
        return loss
    if loss is None:
        loss = LossArguments()
    if not isinstance(loss, LossArguments):
        raise TypeError(
            f"loss must be a loss module or relemb.train_config.LossArguments, got {type(loss).__name__} {loss!r}"
        )
    return build_loss(loss, model, data)


def describe_loss(loss: nn.Module) -> dict[str, Any]:
    """The loss a prompt was learned on, for the model's config: its class and its options.

    >>> describe_loss(nn.Identity())
    {'name': 'Identity'}
    """
    get_config_dict = getattr(loss, "get_config_dict", None)
    options = get_config_dict() if get_config_dict is not None else {}
    return {"name": type(loss).__name__, **options}


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
        self.pairs: list[Pair] = model.validate_pairs(pairs)
        self.labels = torch.as_tensor([list(label) for label in labels], dtype=torch.long)
        rows = Dataset.from_dict({"pair": [list(p) for p in self.pairs], "label": self.labels.tolist()})
        self.sampler = RelationBatchSampler(rows, batch_size=batch_size, valid_label_columns=["label"], seed=seed)

    @classmethod
    def from_records(
        cls,
        model: RelBERT,
        records: Sequence[RelationRecord],
        *,
        loss: nn.Module | LossArguments | None = None,
        batch_size: int = 64,
        seed: int = 0,
    ) -> PromptObjective:
        """The objective of ``relemb-train`` on ``records``: rows from :func:`relemb.training.records_to_dataset`,
        the loss from :func:`resolve_loss` (a module, ``LossArguments`` or ``None`` for the defaults).

        Example::

            objective = PromptObjective.from_records(model, records, loss=LossArguments(loss="triplet"))
        """
        from relemb.training import records_to_dataset

        return cls.from_dataset(model, records_to_dataset(records), loss=loss, batch_size=batch_size, seed=seed)

    @classmethod
    def from_dataset(
        cls,
        model: RelBERT,
        dataset: TrainingData | Any,
        *,
        loss: nn.Module | LossArguments | None = None,
        batch_size: int = 64,
        seed: int = 0,
    ) -> PromptObjective:
        """The objective on training rows: a :class:`~relemb.training.TrainingData` (``build_datasets``,
        ``records_to_dataset``) or its ``datasets.Dataset`` with a ``pair`` column (``[head, tail]``) and a
        ``label`` column. Bare rows know no parent classes: ``parent_contrast`` needs the ``TrainingData``.

        Example::

            data = relemb.training.build_datasets(data_args)
            objective = PromptObjective.from_dataset(model, data, loss=relemb.training.build_loss(loss_args, model, data))
        """
        from relemb.training import TrainingData

        data, rows = (dataset, dataset.dataset) if isinstance(dataset, TrainingData) else (None, dataset)
        columns = list(getattr(rows, "column_names", []) or [])
        if "pair" not in columns or "label" not in columns:
            raise ValueError(f"a training dataset needs the columns 'pair' and 'label'; it has {columns}")
        module = resolve_loss(model, loss, data)
        return cls(model, module, rows["pair"], rows["label"], batch_size=batch_size, seed=seed)

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
def frozen_encoder(model: RelBERT, *modules: nn.Module) -> Iterator[None]:
    """Freeze every parameter of the encoder (and of ``modules``, e.g. the loss with its classification
    head) and switch off dropout; restore both afterwards.

    >>> with frozen_encoder(model, objective.loss_module):             # doctest: +SKIP
    ...     assert not any(p.requires_grad for p in model.encoder.parameters())
    """
    owners = [model.encoder, *modules]
    parameters = list({id(p): p for owner in owners for p in owner.parameters()}.values())
    flags = [p.requires_grad for p in parameters]
    training = [owner.training for owner in owners]
    for parameter in parameters:
        parameter.requires_grad_(False)
    for owner in owners:
        owner.eval()
    try:
        yield
    finally:
        for parameter, flag in zip(parameters, flags):
            parameter.requires_grad_(flag)
        for owner, mode in zip(owners, training):
            owner.train(mode)


def resolve_objective(
    model: RelBERT,
    data: Sequence[RelationRecord] | TrainingData | PromptObjective | Any,
    args: PromptLearningArguments,
    loss: nn.Module | LossArguments | None = None,
) -> PromptObjective:
    """The objective of ``data``: a :class:`PromptObjective` (used as is; it carries its own loss, so
    ``loss`` must be ``None``), a :class:`~relemb.training.TrainingData` or its ``datasets.Dataset`` of
    training rows (``pair``, ``label``), or a list of :class:`~relemb.data.RelationRecord`; the loss
    through :func:`resolve_loss`, batches of ``args.prompt_batch_size`` rows in the order of
    ``args.prompt_seed``.

    Example::

        objective = resolve_objective(model, records, PromptLearningArguments(), LossArguments(loob=True))
        objective.loss_module.loob   # True
    """
    if isinstance(data, PromptObjective):
        if data.model is not model:
            raise ValueError("the PromptObjective was built for a different model than the one given")
        if loss is not None and loss is not data.loss_module:
            raise ValueError("a PromptObjective carries its own loss: pass loss= only with records or training rows")
        return data
    from relemb.training import TrainingData

    if isinstance(data, TrainingData) or hasattr(data, "column_names"):
        return PromptObjective.from_dataset(
            model, data, loss=loss, batch_size=args.prompt_batch_size, seed=args.prompt_seed
        )
    return PromptObjective.from_records(
        model, data, loss=loss, batch_size=args.prompt_batch_size, seed=args.prompt_seed
    )


def record_prompt_learning(
    model: RelBERT, kind: str, args: PromptLearningArguments, objective: PromptObjective, **summary: Any
) -> None:
    """Store what was learned in ``model.config.training["prompt_learning"]``: the kind, the arguments, the
    loss the prompt was learned on (:func:`describe_loss`) and ``summary`` (losses, tokens).

    Example::

        record_prompt_learning(model, "ptuning", args, objective, final_loss=0.3)
        model.config.training["prompt_learning"]["loss"]   # {'name': 'RelationNCELoss', 'temperature': 0.05, ...}
    """
    model.config.training["prompt_learning"] = {
        "kind": kind,
        "arguments": args.to_dict(),
        "loss": describe_loss(objective.loss_module),
        **summary,
    }


def input_ids_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor:
    """The token ids an embedding module was called with (positionally or as ``input``).

    >>> input_ids_of((), {"input": torch.tensor([[101, 7]])})
    tensor([[101,   7]])
    """
    if args:
        return args[0]
    if "input" in kwargs:
        return kwargs["input"]
    raise RuntimeError("the word-embedding module was called without token ids")


def token_embedding_matrix(model: RelBERT) -> Tensor:
    """The backbone's ``(vocabulary, hidden)`` token-embedding weight (``get_input_embeddings().weight``),
    read anew on every call (resizing the embeddings replaces it)."""
    weight = model.transformer.model.get_input_embeddings().weight
    if not isinstance(weight, Tensor):
        raise TypeError(f"the backbone's input embeddings have no weight matrix: {weight!r}")
    return weight

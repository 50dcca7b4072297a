"""``RelationTrainingArguments``: ``SentenceTransformerTrainingArguments`` with RelBERT's defaults.

The defaults and help of relemb's own training options are declared once, in the light
:class:`relemb.train_config.TrainingOptions` (so ``relemb-train --help`` needs no trainer import); this class
adds every other ``SentenceTransformerTrainingArguments`` option and always batches with
:class:`~relemb.samplers.RelationBatchSampler`.

>>> args = RelationTrainingArguments(output_dir="out")           # doctest: +SKIP
>>> args.learning_rate, args.num_train_epochs, args.batch_sampler.__name__   # doctest: +SKIP
(5e-06, 10.0, 'RelationBatchSampler')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sentence_transformers import SentenceTransformerTrainingArguments

from relemb.samplers import RelationBatchSampler
from relemb.train_config import TrainingOptions

__all__ = ["RelationTrainingArguments"]


@dataclass
class RelationTrainingArguments(TrainingOptions, SentenceTransformerTrainingArguments):
    """``SentenceTransformerTrainingArguments`` with RelBERT's defaults (:class:`~relemb.train_config.TrainingOptions`):
    lr 5e-6, 10 epochs, 10 warm-up steps, constant learning rate, evaluation and a checkpoint every epoch,
    best epoch kept. The batch sampler is always :class:`~relemb.samplers.RelationBatchSampler`;
    ``per_device_train_batch_size`` is the target number of word pairs per batch (whole relations).
    """

    batch_sampler: Any = field(default=RelationBatchSampler, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.output_dir is None or not str(self.output_dir).strip():
            raise ValueError("output_dir is required: where the trained model, results.json and checkpoints go")
        if self.per_device_train_batch_size < 2:
            raise ValueError(f"per_device_train_batch_size must be >= 2, got {self.per_device_train_batch_size}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        super().__post_init__()

"""Fine-tune a relation model with ``SentenceTransformerTrainer``: the pieces and the whole run.

``train(model_args, data_args, loss_args, training_args)`` checks every argument and loads every
dataset first (a bad argument fails before a model is loaded), then builds

- the model (:func:`build_model`): a :class:`relemb.RelBERT` whose ``encoder`` the trainer trains;
- the rows (:func:`build_datasets`): one ``(pair, label)`` row per positive and negative pair of every
  relation, batched by :class:`relemb.samplers.RelationBatchSampler`;
- the loss (:func:`build_loss`): :class:`relemb.losses.RelationNCELoss` or ``RelationTripletLoss``, built
  once from the :class:`~relemb.train_config.LossArguments`; a learned prompt (``--prompt``) is
  optimised on this same loss module before the trainer fine-tunes with it;
- the evaluators (:func:`build_evaluators`): RelBERT's SemEval-2012 validation questions plus any
  analogy validation sets, scored after every epoch (:class:`relemb.evaluation.ValidationEvaluator`);
  the best epoch is kept;

and writes the final model (with its model card), ``results.json`` (a :class:`relemb.results.RunResult`
of task ``train``) and the learning curve (``training_curve.png``) to ``output_dir``. The trainer's
``checkpoint-*`` folders are removed once the run has finished (``keep_checkpoints`` keeps them); an
interrupted run keeps them, and ``resume_from_checkpoint="last"`` continues from the newest complete one.

The terminal shows one progress bar and one line per evaluation (:class:`TrainingProgress`); ``verbose=True``
brings back the trainer's own log lines.

Example::

    from relemb.training import train
    from relemb.train_config import DataArguments, LossArguments, ModelArguments, RelationTrainingArguments

    result = train(
        ModelArguments(base_model="minilm"),
        DataArguments(data="starter", test_datasets=["starter"]),
        LossArguments(loss="nce"),
        RelationTrainingArguments(output_dir="out", num_train_epochs=2, learning_rate=5e-5),
    )
    print(result.results["test"])
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import pickle
import re
import shutil
import struct
import sys
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState, PrinterCallback, ProgressCallback

from relemb._io import output_file
from relemb.checkpoint import RelBERTConfig
from relemb.data import (
    AnalogyQuestion,
    RelationRecord,
    load_analogy,
    load_relation_similarity,
    parent_of,
    record_sources,
    semeval_validation_questions,
)
from relemb.data.names import ANALOGY_DATASETS, ANALOGY_REPO, SEMEVAL_REPO
from relemb.evaluation import AnalogyEvaluator, ValidationEvaluator, evaluate_analogy
from relemb.losses import RelationNCELoss, RelationTripletLoss
from relemb.model import RelBERT
from relemb.model_card import UNTRAINED_PREFIX
from relemb.prompt_learning import PromptLearningArguments, learn_prompt
from relemb.results import DatasetSource, RunResult
from relemb.samplers import LABEL_COLUMN, RelationBatchSampler, encode_label
from relemb.train_config import SEMEVAL_SELECTION_METRIC, DataArguments, LossArguments, ModelArguments, TrainingOptions
from relemb.training_curve import (
    CURVE_FILE,
    best_evaluation,
    evaluation_line,
    evaluations,
    mean_training_loss,
    plot_training_curve,
)

__all__ = [
    "RelationTrainer",
    "RelationTrainingArguments",
    "TrainResult",
    "TrainingData",
    "TrainingProgress",
    "checkpoint_problem",
    "check_output_dir",
    "find_checkpoints",
    "previous_run",
    "build_datasets",
    "build_evaluators",
    "build_loss",
    "build_model",
    "records_to_dataset",
    "resolve_resume",
    "select_relations",
    "train",
]

logger = logging.getLogger("relemb.training")

RESULTS_FILE = "results.json"
LOSS_HEAD_FILE = "relemb_loss_head.safetensors"
SEMEVAL_VALIDATION_NAME = "semeval2012_validation"
#: The trainer's checkpoint folders, ``checkpoint-<step>``.
CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
TRAINER_STATE_FILE = "trainer_state.json"


# -------------------------------------------------------------------------------------- arguments
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
        if self.relations_per_batch is not None and self.relations_per_batch < 2:
            raise ValueError(f"relations_per_batch must be >= 2, got {self.relations_per_batch}")
        if self.positives_per_relation < 2 or self.negatives_per_relation < 0:
            raise ValueError(
                "positives_per_relation must be >= 2 and negatives_per_relation >= 0, got "
                f"{self.positives_per_relation} and {self.negatives_per_relation}"
            )
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be > 0 (or -1: train for --epochs), got {self.max_steps}")
        if self.max_steps == -1 and not self.num_train_epochs > 0:
            raise ValueError(f"num_train_epochs (--epochs) must be > 0, got {self.num_train_epochs:g}")
        super().__post_init__()
        if self.dataloader_pin_memory and not accelerator_in_use(self.use_cpu):
            # pinned memory only helps copies to an accelerator; without one PyTorch warns on every epoch
            self.dataloader_pin_memory = False

    def relation_batch_sampler(self) -> Any:
        """The batch sampler these arguments ask for: :class:`~relemb.samplers.RelationBatchSampler` with the
        sampled-relations options, as the trainer calls it (``sampler(dataset, batch_size=..., ...)``)."""
        if self.relations_per_batch is None:
            return RelationBatchSampler
        return functools.partial(
            RelationBatchSampler,
            relations_per_batch=self.relations_per_batch,
            positives_per_relation=self.positives_per_relation,
            negatives_per_relation=self.negatives_per_relation,
        )


def accelerator_in_use(use_cpu: bool = False) -> bool:
    """Whether training runs on an accelerator (CUDA, MPS, ...): what pinned dataloader memory is for."""
    if use_cpu:
        return False
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None and hasattr(accelerator, "is_available"):
        return bool(accelerator.is_available())
    mps = getattr(torch.backends, "mps", None)
    return torch.cuda.is_available() or bool(mps is not None and mps.is_available())


# ------------------------------------------------------------------------------------------- data
@dataclass
class TrainingData:
    """The training rows and what the losses need to know about them, plus (from :func:`build_datasets`)
    the validation and test questions and where every dataset file came from.

    Attributes:
        dataset: a ``datasets.Dataset`` with columns ``pair`` (``[head, tail]``) and ``label``
            (``[relation, polarity, pair]``, :func:`relemb.samplers.encode_label`).
        relations: the relation types, by relation index.
        parents: the parent classes, by parent index.
        parent_groups: the parent index of each relation (``--parent_contrast``).
        validation: model-selection questions by metric name.
        test: test questions by dataset name.
        excluded: relation types left out (``--exclude_relations``).
        sources: the :class:`~relemb.results.DatasetSource` of every file read (``results.json``).
    """

    dataset: Any
    relations: list[str]
    parents: list[str]
    parent_groups: list[int]
    validation: dict[str, list[AnalogyQuestion]] = field(default_factory=dict)
    test: dict[str, list[AnalogyQuestion]] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)
    sources: list[DatasetSource] = field(default_factory=list)

    @property
    def n_pairs(self) -> int:
        """The number of training rows (word pairs, positives and negatives)."""
        return len(self.dataset)


def select_relations(records: list[RelationRecord], exclude: list[str]) -> tuple[list[RelationRecord], list[str]]:
    """Drop the relations named in ``exclude`` (relation types like ``8/d`` or parent classes like ``1``).

    Returns the kept records and the excluded relation types; an unknown name is a ``ValueError``.

    >>> rs = [RelationRecord(t, [("a", "b")], []) for t in ("1/a", "1/b", "8/d", "8/e")]
    >>> kept, excluded = select_relations(rs, ["1"])
    >>> [r.relation_type for r in kept], excluded
    (['8/d', '8/e'], ['1/a', '1/b'])
    >>> select_relations(rs[:1], [])
    Traceback (most recent call last):
    ...
    ValueError: the training data holds one relation (1/a); contrastive training needs at least two
    """
    types = [r.relation_type for r in records]
    if len(set(types)) < 2:
        raise ValueError(
            f"the training data holds {'one relation' if types else 'no relation'} ({', '.join(types) or 'none'}); "
            "contrastive training needs at least two"
        )
    parents = sorted({parent_of(t) for t in types}, key=lambda p: (len(p), p))
    for name in exclude:
        if name not in types and name not in parents:
            raise ValueError(
                f"--exclude-relations: {name!r} is neither a relation type nor a parent class of the training data; "
                f"parent classes: {', '.join(parents)}; relation types look like {', '.join(types[:5])}..."
            )
    chosen = set(exclude)
    kept = [r for r in records if r.relation_type not in chosen and r.parent not in chosen]
    excluded = [r.relation_type for r in records if r not in kept]
    if len(kept) < 2:
        raise ValueError(f"--exclude-relations leaves {len(kept)} relation(s) to train on; at least 2 are needed")
    return kept, excluded


def records_to_dataset(records: Sequence[RelationRecord]) -> TrainingData:
    """The training rows of ``records`` (the one row builder of training and prompt learning): one row per
    positive and negative pair, ``{"pair": [head, tail], "label": [relation, polarity, pair_id]}``.

    Returns a :class:`TrainingData` with the rows, the relation types, the parent classes and the parent
    index of each relation. The same word pair gets the same ``pair_id`` wherever it appears, so the
    losses can refuse it as a false negative.

    >>> data = records_to_dataset([RelationRecord("1/a", [("x", "y")], [("y", "x")]),
    ...                            RelationRecord("2/b", [("y", "x")], [])])
    >>> list(data.dataset["label"]), data.relations, data.parents, data.parent_groups
    ([[0, 1, 0], [0, 0, 1], [1, 1, 1]], ['1/a', '2/b'], ['1', '2'], [0, 1])
    """
    from datasets import Dataset

    records = list(records)
    if not records:
        raise ValueError("training needs relations; got an empty list of records")
    for index, record in enumerate(records):
        if not isinstance(record, RelationRecord):
            raise TypeError(
                "records must be relemb.data.RelationRecord objects (load_relation_similarity), "
                f"got {type(record).__name__} at index {index}"
            )
    pair_ids: dict[tuple[str, str], int] = {}
    pairs: list[list[str]] = []
    labels: list[list[int]] = []
    relations = [r.relation_type for r in records]
    parents: list[str] = []
    parent_groups: list[int] = []
    for index, record in enumerate(records):
        if record.parent not in parents:
            parents.append(record.parent)
        parent_groups.append(parents.index(record.parent))
        for polarity, group in ((True, record.positives), (False, record.negatives)):
            for head, tail in group:
                pid = pair_ids.setdefault((head, tail), len(pair_ids))
                pairs.append([head, tail])
                labels.append(encode_label(index, polarity, pid))
    dataset = Dataset.from_dict({"pair": pairs, LABEL_COLUMN: labels})
    return TrainingData(dataset, relations, parents, parent_groups)


def _validation_records(data_args: DataArguments) -> list[RelationRecord] | None:
    source = data_args.validation_data or data_args.data
    if data_args.validation_data is None and Path(source).expanduser().is_file():
        return None  # a single training file has no validation split of its own
    return load_relation_similarity(source, "validation", data_dir=data_args.data_dir)


def build_datasets(data_args: DataArguments) -> TrainingData:
    """Load and check every dataset of a run: training relations, validation questions, test questions;
    ``sources`` records where each file came from.

    Raises ``DatasetNotFoundError``/``DataFormatError``/``ValueError`` naming the problem.

    >>> data = build_datasets(DataArguments(data="starter", test_datasets=["starter"]))
    >>> len(data.relations), list(data.validation), [(s.name, s.split) for s in data.sources][:2]
    (24, ['starter_relations_validation'], [('starter', 'train'), ('starter', 'validation')])
    """
    with record_sources() as sources:
        records = load_relation_similarity(data_args.data, "train", data_dir=data_args.data_dir)
        kept, excluded = select_relations(records, data_args.exclude_relations)
        for record in kept:
            if len(record.positives) < 2:
                raise ValueError(
                    f"relation {record.relation_type!r} of {data_args.data!r} has {len(record.positives)} positive "
                    "pair(s); contrastive training needs at least 2 per relation"
                )
        data = records_to_dataset(kept)
        valid_records = _validation_records(data_args)
        if valid_records is not None:
            valid_records = [r for r in valid_records if r.relation_type not in excluded]
            data.validation[_relations_validation_name(data_args)] = semeval_validation_questions(valid_records)
        for name in data_args.eval_datasets:
            questions = load_analogy(name, "validation", data_dir=data_args.data_dir)
            data.validation[_metric_name(name, "validation")] = questions
        data.test = {name: load_analogy(name, "test", data_dir=data_args.data_dir) for name in data_args.test_datasets}
    data.excluded = excluded
    data.sources = list(sources)
    logger.info(
        "training on %d relations (%d pairs)%s",
        len(data.relations),
        data.n_pairs,
        f", excluding {len(excluded)}: {', '.join(excluded)}" if excluded else "",
    )
    return data


def _relations_validation_name(data_args: DataArguments) -> str:
    """``semeval2012_validation`` for SemEval-2012 (RelBERT's name), ``<data>_relations_validation`` otherwise."""
    source = data_args.validation_data or data_args.data
    if source.strip().lower() == "semeval2012":
        return SEMEVAL_VALIDATION_NAME
    return _metric_name(source, "relations_validation")


def _metric_name(dataset: str, split: str) -> str:
    stem = Path(dataset).stem if ("/" in dataset or dataset.endswith(".jsonl")) else dataset
    clean = "".join(c if c.isalnum() else "_" for c in stem.lower()).strip("_") or "analogy"
    return f"{clean}_{split}"


# ------------------------------------------------------------------------------------------ model
def build_model(model_args: ModelArguments, device: str | None = None) -> RelBERT:
    """The relation model to train: ``model_args.base_model`` with the template, pooling and max length.

    Example::

        model = build_model(ModelArguments(base_model="minilm", template="a", pooling="mask"))
    """
    return RelBERT.from_pretrained(
        model_args.base_model,
        template=model_args.template,
        pooling=model_args.pooling,
        max_length=model_args.max_length,
        device=device,
    )


def build_loss(loss_args: LossArguments, model: RelBERT, data: TrainingData | None = None) -> torch.nn.Module:
    """The loss module of ``loss_args`` (every option of it) on ``model.encoder``: the one loss factory of
    fine-tuning and prompt learning.

    ``data`` (:func:`build_datasets` or :func:`records_to_dataset`) gives the parent classes of the
    relations; it is needed only with ``parent_contrast``.

    Example::

        data = records_to_dataset(load_relation_similarity("starter"))
        loss = build_loss(LossArguments(loss="nce", temperature=0.1, parent_contrast=True), model, data)
    """
    options = dict(
        negative_augmentation=loss_args.negative_augmentation,
        cross_negatives=loss_args.cross_negatives,
        classification=loss_args.classification_loss,
    )
    if loss_args.loss == "triplet":
        return RelationTripletLoss(model.encoder, margin=loss_args.margin, **options)
    if loss_args.loss != "nce":
        raise ValueError(f"unknown loss {loss_args.loss!r}")
    parent_groups = None
    if loss_args.parent_contrast:
        if data is None:
            raise ValueError(
                "parent_contrast needs the parent classes of the relations: pass the TrainingData of "
                "relemb.training.build_datasets or relemb.training.records_to_dataset(records), not bare rows"
            )
        parent_groups = data.parent_groups
    return RelationNCELoss(
        model.encoder, temperature=loss_args.temperature, loob=loss_args.loob, parent_groups=parent_groups, **options
    )


def build_evaluators(data: TrainingData, batch_size: int = 64) -> ValidationEvaluator | None:
    """One :class:`~relemb.evaluation.AnalogyEvaluator` per validation set, wrapped in a
    :class:`~relemb.evaluation.ValidationEvaluator` for model selection; ``None`` without validation sets.

    >>> evaluator = build_evaluators(build_datasets(DataArguments(data="starter")))
    >>> [e.name for e in evaluator.evaluators], evaluator.primary_metric
    (['starter_relations_validation'], 'validation_mean_accuracy')
    """
    if not data.validation:
        return None
    evaluators = [AnalogyEvaluator(qs, name=name, batch_size=batch_size) for name, qs in data.validation.items()]
    return ValidationEvaluator(evaluators)


# ---------------------------------------------------------------------------------------- trainer
class RelationTrainer(SentenceTransformerTrainer):
    """``SentenceTransformerTrainer`` that saves every checkpoint as a loadable relemb model (relemb's model
    card instead of sentence-transformers', which cannot encode word pairs) and keeps the loss's own
    weights (the classification head) in the checkpoint, so a resumed run loses nothing. A checkpoint file
    that cannot be read on resuming is a ``ValueError`` naming it (one line), not a traceback."""

    def __init__(self, *args: Any, relemb_config: RelBERTConfig | None = None, **kwargs: Any) -> None:
        self.relemb_config = relemb_config or RelBERTConfig()
        super().__init__(*args, **kwargs)

    def add_model_card_callback(self, default_args_dict: dict[str, Any]) -> None:
        """relemb writes its own model card (``relemb.model_card``); sentence-transformers' card tracking
        would try to encode sentences with a word-pair model."""

    def _save(self, output_dir: str | None = None, state_dict: Any = None) -> None:
        from safetensors.torch import save_file

        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if output_dir is None:
            raise ValueError("the trainer has no output_dir to save to")
        RelBERT(self.model, self.relemb_config).save_pretrained(output_dir)
        torch.save(self.args, os.path.join(output_dir, "training_args.bin"))
        head = self.loss.head_state_dict() if hasattr(self.loss, "head_state_dict") else {}
        if head:
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in head.items()}, os.path.join(output_dir, LOSS_HEAD_FILE)
            )

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        # transformers' signature (it may pass the wrapped model); sentence-transformers' takes the path only
        with _readable(resume_from_checkpoint, ["model.safetensors", "model.safetensors.index.json", "config.json"]):
            super()._load_from_checkpoint(resume_from_checkpoint)
        head_file = os.path.join(resume_from_checkpoint, LOSS_HEAD_FILE)
        if (
            os.path.isfile(head_file)
            and isinstance(self.loss, torch.nn.Module)
            and hasattr(self.loss, "head_state_dict")
        ):
            from safetensors.torch import load_file

            with _readable(resume_from_checkpoint, [LOSS_HEAD_FILE]):
                self.loss.load_state_dict(load_file(head_file, device=str(self.model.device)), strict=False)

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        if checkpoint is None:
            return super()._load_optimizer_and_scheduler(checkpoint)
        with _readable(checkpoint, ["optimizer.pt", "scheduler.pt", "scaler.pt"]):
            super()._load_optimizer_and_scheduler(checkpoint)

    def _load_rng_state(self, checkpoint: str | None) -> None:
        if checkpoint is None:
            return super()._load_rng_state(checkpoint)
        names = ["rng_state.pth"] + sorted(p.name for p in Path(checkpoint).glob("rng_state_*.pth"))
        with _readable(checkpoint, names):
            super()._load_rng_state(checkpoint)


#: What reading a damaged checkpoint file raises (torch, safetensors, pickle, zip, JSON).
_READ_ERRORS: tuple[type[BaseException], ...] = (
    RuntimeError,
    OSError,
    EOFError,
    ValueError,
    KeyError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
)


def _file_problem(path: Path) -> str | None:
    """Why the checkpoint file ``path`` cannot be read, from a full read (only on the error path)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            load_file(str(path), device="cpu")
        elif path.suffix in (".pt", ".pth", ".bin"):
            torch.load(path, map_location="cpu", weights_only=True)
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
    except Exception as error:  # noqa: BLE001 - any failure to read is the answer
        return _first_line(error)
    return None


def _first_line(error: BaseException, limit: int = 160) -> str:
    """A short account of ``error``: its type and the first line of its message (torch's unpickling errors
    explain ``weights_only`` at length, which says nothing about a damaged file)."""
    if isinstance(error, pickle.UnpicklingError):
        return "its contents cannot be unpickled"
    text = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@contextlib.contextmanager
def _readable(checkpoint: str, names: Sequence[str]) -> Iterator[None]:
    """Turn a failure to read ``checkpoint``'s files into one ``ValueError`` naming the file that is damaged
    (the first of ``names`` that cannot be read), with what to do about it."""
    try:
        yield
    except _READ_ERRORS as error:
        if isinstance(error, ValueError) and str(error).startswith("cannot resume from"):
            raise
        culprit = None
        for name in names:
            path = Path(checkpoint, name)
            if path.is_file():
                problem = _file_problem(path)
                if problem is not None:
                    culprit = f"{name} is damaged ({problem})"
                    break
        what = culprit or _first_line(error)
        raise ValueError(
            f"cannot resume from {checkpoint}: {what}; resume from an earlier checkpoint-N folder, or start "
            "again with --overwrite_output_dir"
        ) from None


class TrainingProgress(TrainerCallback, ExportableState):
    """What a training run shows and remembers, through the trainer's callback events.

    - one progress bar (optimizer steps; none with ``disable_tqdm``) and, after every evaluation, one line:
      the epoch and step, the training loss, each selection score with its 95% interval and whether it is the
      best so far (:func:`relemb.training_curve.evaluation_line`);
    - a training-loss log entry at every evaluation and at the last step (``control.should_log``), so the
      curve, the per-evaluation lines and the whole run's mean loss (:func:`~relemb.training_curve.mean_training_loss`)
      cover every step;
    - the whole run's training time, saved in every checkpoint's trainer state (``stateful_callbacks``), so
      a resumed run adds to it (:meth:`elapsed`).

    :func:`train` removes the trainer's own printer (the raw log dictionaries) and progress bar in its favour
    unless ``verbose``; then ``show_bar=False`` leaves the trainer's bar alone.

    >>> progress = TrainingProgress(show_bar=False)
    >>> progress.state()
    {'args': {'show_bar': False, 'print_evaluations': True}, 'attributes': {'train_seconds': 0.0}}
    """

    def __init__(self, show_bar: bool = True, print_evaluations: bool = True) -> None:
        self.show_bar = show_bar
        self.print_evaluations = print_evaluations
        self.train_seconds = 0.0
        self._started: float | None = None
        self._bar: Any = None

    def elapsed(self) -> float:
        """Seconds of training so far, over every session of the run (earlier ones from the checkpoint)."""
        running = 0.0 if self._started is None else time.perf_counter() - self._started
        return self.train_seconds + running

    def state(self) -> dict[str, Any]:
        """What the trainer stores in ``trainer_state.json`` (``stateful_callbacks``)."""
        return {
            "args": {"show_bar": self.show_bar, "print_evaluations": self.print_evaluations},
            "attributes": {"train_seconds": round(self.elapsed(), 3)},
        }

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        name = type(self).__name__
        stored = state.stateful_callbacks.get(name) if isinstance(state.stateful_callbacks, dict) else None
        if isinstance(stored, list):
            stored = stored[0] if stored else None
        self.train_seconds = 0.0
        if state.global_step > 0 and isinstance(stored, dict):  # resumed: the time of the earlier sessions
            self.train_seconds = float((stored.get("attributes") or {}).get("train_seconds") or 0.0)
        if isinstance(state.stateful_callbacks, dict):
            # a checkpoint written without this callback lacks its entry, which the trainer's save expects
            state.stateful_callbacks.setdefault(name, self.state())
        self._started = time.perf_counter()
        if self.show_bar and not args.disable_tqdm and state.is_world_process_zero:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=state.max_steps, initial=state.global_step, desc="training", unit="step", dynamic_ncols=True
            )

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self._bar is not None:
            self._bar.update(state.global_step - self._bar.n)
        if control.should_evaluate or state.global_step >= state.max_steps:
            control.should_log = True  # the loss up to this step, before the scores
        return control

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if control.should_evaluate:
            control.should_log = True
        return control

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> None:
        if not (self.print_evaluations and state.is_world_process_zero):
            return
        history = evaluations(state.log_history)
        if not history:
            return
        current = history[-1]
        best = best_evaluation(history, args.metric_for_best_model, args.greater_is_better is not False)
        self.write(evaluation_line(current, max_steps=state.max_steps, best=best is current))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.train_seconds = self.elapsed()
        self._started = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def write(self, line: str) -> None:
        """Print ``line`` on standard output, above the progress bar."""
        if self._bar is not None:
            self._bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)


def _show_progress(trainer: RelationTrainer, verbose: bool) -> TrainingProgress:
    """Give ``trainer`` its :class:`TrainingProgress`; without ``verbose``, instead of the trainer's printer
    (the raw log dictionaries) and progress bar."""
    if not verbose:
        from transformers import trainer as trainer_module

        default = getattr(trainer_module, "DEFAULT_PROGRESS_CALLBACK", ProgressCallback)
        for callback in dict.fromkeys((PrinterCallback, ProgressCallback, default)):
            trainer.remove_callback(callback)
    progress = TrainingProgress(show_bar=not verbose)
    trainer.add_callback(progress)
    return progress


@contextlib.contextmanager
def _quiet_loading(verbose: bool) -> Iterator[None]:
    """Without ``verbose``, hide transformers' per-file progress bars (loading weights, writing shards) for the
    run; the setting is restored after."""
    from transformers.utils import logging as transformers_logging

    if verbose or not transformers_logging.is_progress_bar_enabled():
        yield
        return
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars

    hub_disabled = are_progress_bars_disabled()
    transformers_logging.disable_progress_bar()  # the Hub's too
    try:
        yield
    finally:
        transformers_logging.enable_progress_bar()
        if hub_disabled:
            disable_progress_bars()


# ------------------------------------------------------------------------------------- checkpoints
def find_checkpoints(output_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """The trainer's ``checkpoint-<step>`` folders in ``output_dir``, newest (highest step) first.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("checkpoint-3", "checkpoint-30", "checkpoint-9", "eval"):
    ...     (folder / name).mkdir()
    >>> [step for step, _ in find_checkpoints(folder)]
    [30, 9, 3]
    """
    folder = Path(output_dir).expanduser()
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        match = CHECKPOINT_PATTERN.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child))
    return sorted(found, key=lambda item: item[0], reverse=True)


def _safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a whole safetensors file: its header is read, and the size must match it."""
    size = path.stat().st_size
    try:
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if 8 + length > size:
                return f"{path.name} is cut off (its header says more than its {size} bytes)"
            header = json.loads(handle.read(length))
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (struct.error, ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError):
        return f"{path.name} is not a readable safetensors file"
    if 8 + length + end != size:
        return f"{path.name} is cut off ({size} of {8 + length + end} bytes)"
    return None


def _weight_files(folder: Path) -> list[Path] | None:
    """The weight files of a checkpoint (the shards of a sharded one), or ``None`` when the index is bad."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return [folder / name for name in shards]
    return [path for path in (folder / "model.safetensors", folder / "pytorch_model.bin") if path.exists()][:1]


def checkpoint_problem(folder: str | os.PathLike) -> str | None:
    """Why the checkpoint ``folder`` cannot be resumed from, or ``None`` when it is complete: the trainer
    state parses, and the weights, the optimizer and the scheduler are there, not empty, and look whole (the
    safetensors header matches the file's size; the ``.pt`` files are complete zip archives). Cheap: no
    tensor is loaded. A checkpoint cut off mid-save (killed while writing) fails these checks.

    >>> import tempfile
    >>> checkpoint_problem(tempfile.mkdtemp())
    'no trainer_state.json (cut off while being saved?)'
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return "not a folder"
    state = folder / TRAINER_STATE_FILE
    if not state.is_file():
        return f"no {TRAINER_STATE_FILE} (cut off while being saved?)"
    try:
        data = json.loads(state.read_text(encoding="utf-8"))
        int(data["global_step"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return f"{TRAINER_STATE_FILE} is not a readable trainer state"
    weights = _weight_files(folder)
    if weights is None:
        return "model.safetensors.index.json is not readable"
    if not weights:
        return "no model weights (model.safetensors)"
    for path in weights:
        if not path.is_file() or path.stat().st_size == 0:
            return f"{path.name} is missing or empty"
        problem = _safetensors_problem(path) if path.suffix == ".safetensors" else None
        if problem:
            return problem
    if not (folder / "optimizer.pt").is_file() and not any(folder.glob("*optimizer*")):
        return "no optimizer.pt"
    names = ["optimizer.pt", "scheduler.pt"] if (folder / "optimizer.pt").is_file() else []
    names += sorted(p.name for p in folder.glob("rng_state*.pth"))
    for name in names:
        path = folder / name
        if not path.is_file() or path.stat().st_size == 0:
            return f"{name} is missing or empty"
        if not zipfile.is_zipfile(path):
            return f"{name} is cut off (not a complete torch file)"
    return None


def _step_of(checkpoint: str | os.PathLike) -> int:
    """The optimizer step of a checkpoint (its trainer state's ``global_step``)."""
    data = json.loads(Path(checkpoint, TRAINER_STATE_FILE).read_text(encoding="utf-8"))
    return int(data["global_step"])


def _wants_resume(value: str | bool | None) -> bool:
    return not (value is None or value is False or str(value).lower() in ("", "false", "no", "none"))


def resolve_resume(value: str | bool | None, output_dir: str) -> str | None:
    """``resume_from_checkpoint``: ``None``/``false`` = no; ``last``/``true`` = the newest *complete* checkpoint in
    ``output_dir`` (:func:`checkpoint_problem`; the ones skipped are logged with the reason); else a
    checkpoint folder, which must be complete. ``FileNotFoundError`` when there is none, ``ValueError`` naming
    what is wrong with a given folder.

    >>> import tempfile
    >>> resolve_resume("no", tempfile.mkdtemp()) is None
    True
    """
    if not _wants_resume(value):
        return None
    if value is True or str(value).lower() in ("true", "last", "yes"):
        skipped: list[str] = []
        for _, folder in find_checkpoints(output_dir):
            problem = checkpoint_problem(folder)
            if problem is None:
                if skipped:
                    logger.warning("skipping incomplete checkpoint(s): %s", "; ".join(skipped))
                logger.info("resuming from %s", folder)
                return str(folder)
            skipped.append(f"{folder.name}: {problem}")
        if skipped:
            raise FileNotFoundError(
                f"resume_from_checkpoint={value!r}: no complete checkpoint in {output_dir!r} to resume from "
                f"({'; '.join(skipped)})"
            )
        raise FileNotFoundError(
            f"resume_from_checkpoint={value!r}: no checkpoint-* folder in {output_dir!r} to resume from"
        )
    path = Path(str(value)).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"resume_from_checkpoint {str(value)!r} is not a folder")
    if not (path / TRAINER_STATE_FILE).is_file():
        raise FileNotFoundError(
            f"resume_from_checkpoint {str(value)!r} is not a training checkpoint (no {TRAINER_STATE_FILE} there)"
        )
    problem = checkpoint_problem(path)
    if problem is not None:
        raise ValueError(f"cannot resume from {str(value)!r}: {problem}")
    logger.info("resuming from %s", path)
    return str(path)


# ------------------------------------------------------------------------------------ output folder
def check_output_dir(output_dir: str | os.PathLike) -> Path:
    """Check, before any work, that ``output_dir`` is (or can be created as) a writable folder: not a file, and
    inside a folder that exists (or can be created) and is writable. Returns it as a ``Path``."""
    folder = Path(output_dir).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"output_dir {os.fspath(output_dir)!r} is a file, not a folder")
    try:
        output_file(folder / RESULTS_FILE, ".json")
    except (OSError, ValueError) as error:
        raise type(error)(f"output_dir: {error}") from None
    return folder


def previous_run(output_dir: str | os.PathLike) -> list[str]:
    """What in ``output_dir`` shows a trained model is already there: ``results.json``, ``model.safetensors``,
    ``checkpoint-*`` folders (by name; empty when there is none).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()); (folder / "checkpoint-3").mkdir(); _ = (folder / "notes.txt").write_text("")
    >>> previous_run(folder)
    ['checkpoint-3']
    """
    folder = Path(output_dir).expanduser()
    if not folder.is_dir():
        return []
    found = [name for name in (RESULTS_FILE, "model.safetensors") if (folder / name).exists()]
    return found + [path.name for _, path in sorted(find_checkpoints(folder))]


def _clear_previous_run(output_dir: Path, evaluator: ValidationEvaluator | None) -> None:
    """``overwrite_output_dir``: remove the old run's results, curve, checkpoints and evaluation rows, so nothing
    of it is mixed with or mistaken for the new run (the model files are replaced when the new one is saved)."""
    removed = []
    for name in (RESULTS_FILE, CURVE_FILE):
        if (output_dir / name).is_file():
            (output_dir / name).unlink()
            removed.append(name)
    for _, folder in find_checkpoints(output_dir):
        shutil.rmtree(folder)
        removed.append(folder.name)
    eval_dir = output_dir / "eval"
    for csv_file in sorted(eval_dir.glob("analogy_evaluation*_results.csv")) if eval_dir.is_dir() else []:
        csv_file.unlink()
        removed.append(f"eval/{csv_file.name}")
    if removed:
        logger.info("overwriting the run in %s: removed %s", output_dir, ", ".join(removed))


def _remove_checkpoints(output_dir: Path) -> None:
    """A finished run's ``checkpoint-*`` folders (the optimizer state) go; the final model stays."""
    folders = [folder for _, folder in find_checkpoints(output_dir)]
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    if folders:
        logger.info("removed %d checkpoint folder(s) (--keep_checkpoints keeps them)", len(folders))


def _finished_run(output_dir: str, checkpoint: str | None) -> RunResult | None:
    """The ``results.json`` of a run that finished in ``output_dir`` (none newer than ``checkpoint``), else ``None``."""
    path = Path(output_dir).expanduser() / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        run = RunResult.load(path)
    except ValueError:
        return None
    steps = run.details.get("global_steps")
    if run.task != "train" or not isinstance(steps, int):
        return None
    if checkpoint is not None and steps < _step_of(checkpoint):
        return None  # the checkpoint is newer than the results: the run went on after them
    return run


# ------------------------------------------------------------------------------------------ train
@dataclass
class TrainResult:
    """What :func:`train` returns: the trained model, the run's :class:`~relemb.results.RunResult` (what
    ``results.json`` holds; read it back with ``RunResult.load``) and where everything is saved.

    Example::

        result = train(model_args, data_args, loss_args, training_args)
        result.run_result.scores["test"]        # {"starter": 0.41}
        result.run_result.details["best_checkpoint"]
        result.results["test"]                  # the same, in the flat view
    """

    model: RelBERT
    run_result: RunResult
    output_dir: str
    #: ``True`` when resuming found the run already finished: nothing was trained, ``run_result`` is its results.json
    already_finished: bool = False

    @property
    def results(self) -> dict[str, Any]:
        """A flat view of :attr:`run_result`: ``validation`` and ``test`` (the scores), the model fields
        (``base_model``, ``template``, ``pooling``, ...), ``recipe`` (the arguments) and the details
        (``best_checkpoint``, ``best_step``, ``best_metric``, ``global_steps``, ``train_seconds``, ``train_loss``,
        ``history``)."""
        run = self.run_result
        return {**run.model, "recipe": run.arguments, **run.details, **run.scores}


def recipe(
    model_args: ModelArguments,
    data_args: DataArguments,
    loss_args: LossArguments,
    training_args: RelationTrainingArguments,
    data: TrainingData,
) -> dict[str, Any]:
    """The training recipe stored in the model's config (``config.training``) and in ``results.json``
    (``arguments``): the data, the loss options, the trainer's main options and the model-selection sets.

    Example::

        recipe(model_args, data_args, loss_args, training_args, build_datasets(data_args))["loss"]   # 'nce'
    """
    datasets = [SEMEVAL_REPO] if data_args.data.lower() == "semeval2012" else []
    analogies = [*data_args.eval_datasets, *data_args.test_datasets]
    if any(name.lower() in ANALOGY_DATASETS for name in analogies):
        datasets.append(ANALOGY_REPO)
    return {
        "data": data_args.data,
        "datasets": datasets,
        "relations": len(data.relations),
        "pairs": data.n_pairs,
        "excluded_relations": data.excluded,
        **{k: v for k, v in asdict(loss_args).items() if loss_args.loss == "triplet" or k != "margin"},
        "learning_rate": training_args.learning_rate,
        "epochs": training_args.num_train_epochs,
        "batch_size": training_args.per_device_train_batch_size,
        "relations_per_batch": training_args.relations_per_batch,
        "positives_per_relation": training_args.positives_per_relation,
        "negatives_per_relation": training_args.negatives_per_relation,
        "max_steps": training_args.max_steps,
        "eval_steps": training_args.eval_steps,
        "world_size": training_args.world_size,
        "gradient_accumulation_steps": training_args.gradient_accumulation_steps,
        "warmup_steps": training_args.warmup_steps,
        "lr_scheduler": str(getattr(training_args.lr_scheduler_type, "value", training_args.lr_scheduler_type)),
        "seed": training_args.seed,
        "model_selection": list(data.validation),
    }


def _score_tests(model: RelBERT, tests: dict[str, list[AnalogyQuestion]]) -> dict[str, Any]:
    """Every test set's accuracy, interval, size and per-question details (``relemb-eval compare``)."""
    scores: dict[str, Any] = {"test": {}, "test_intervals": {}, "test_n": {}, "details": {}}
    for name, questions in tests.items():
        result = evaluate_analogy(model, questions, "test", name=name, show_progress_bar=False)
        scores["test"][name] = result.accuracy
        scores["test_intervals"][name] = list(result.interval)
        scores["test_n"][name] = result.n_questions
        scores["details"][name] = result.to_dict()
    return scores


def _card_results(scores: dict[str, Any], log_history: list[dict[str, Any]], best_step: int | None) -> dict[str, Any]:
    """What the model's config stores as ``results`` for the model card (:mod:`relemb.model_card`): every score
    with its interval and size, the untrained base model's, and the per-evaluation history."""
    results: dict[str, Any] = {k: round(v, 4) for k, v in scores["validation"].items()}
    for name, n in scores.get("validation_n", {}).items():
        results[f"{name}_n"] = n
    for prefix, key in (("", "test"), (UNTRAINED_PREFIX, "untrained_test")):
        for name, value in scores.get(key, {}).items():
            results[f"{prefix}{name}_test_accuracy"] = round(value, 4)
            interval = scores.get(f"{key}_intervals", {}).get(name)
            if interval:
                results[f"{prefix}{name}_test_accuracy_ci_low"] = round(interval[0], 4)
                results[f"{prefix}{name}_test_accuracy_ci_high"] = round(interval[1], 4)
            if not prefix and name in scores.get("test_n", {}):
                results[f"{name}_test_n"] = scores["test_n"][name]
    history = evaluations(log_history)
    if history:
        results["history"] = [evaluation.to_dict() for evaluation in history]
    if best_step is not None:
        results["best_step"] = best_step
    return results


def _best_step(trainer: RelationTrainer) -> int | None:
    """The step of the checkpoint that became the final model (the best one, or the last without selection)."""
    state = trainer.state
    if trainer.args.load_best_model_at_end and state.best_model_checkpoint:
        match = CHECKPOINT_PATTERN.match(Path(state.best_model_checkpoint).name)
        if match:
            return int(match.group(1))
    best = getattr(state, "best_global_step", None)
    if trainer.args.load_best_model_at_end and best:
        return int(best)
    return int(state.global_step) if state.global_step else None


def train(
    model_args: ModelArguments,
    data_args: DataArguments,
    loss_args: LossArguments,
    training_args: RelationTrainingArguments,
    *,
    prompt_args: PromptLearningArguments | None = None,
    device: str | None = None,
    callbacks: list[Any] | None = None,
    verbose: bool = False,
    command: str | None = None,
) -> TrainResult:
    """Fine-tune, select the best epoch, score the test sets, save everything to ``training_args.output_dir``.

    The loss is built once from ``loss_args`` (:func:`build_loss`). With ``prompt_args.prompt`` ``autoprompt``
    or ``ptuning``, a prompt is learned first with the encoder frozen, on the same rows and that same loss
    module (every option of ``loss_args``), replacing the template; the trainer then fine-tunes with it.
    ``prompt_args.prompt_only`` stops after prompt learning (no encoder fine-tuning).

    Before any work, ``output_dir`` is checked (a writable folder, not a file); one that already holds a
    trained model (:func:`previous_run`) is refused unless ``training_args.overwrite_output_dir`` (the old
    run's results, checkpoints and evaluation rows are then removed) or ``resume_from_checkpoint`` is set.
    ``resume_from_checkpoint`` (``"last"``: the newest complete checkpoint, :func:`resolve_resume`; or a
    checkpoint folder) continues an interrupted run; resuming a run that has finished does nothing and
    returns its results (``already_finished``). ``results.json`` reports the whole run's training time and
    loss, over every session.

    With ``test_datasets`` and ``compare_to_base`` (default), the untrained base model is scored on the test
    sets first, for the results table and the model card. Once the final model is saved, the trainer's
    ``checkpoint-*`` folders are removed unless ``keep_checkpoints``; an interrupted run keeps them.

    ``verbose=False`` (default) shows one progress bar and one line per evaluation (:class:`TrainingProgress`);
    ``verbose=True`` keeps the trainer's own printing. ``command`` is the command line that reproduces the run
    (``relemb-train`` passes it), stored in the recipe and the model card. ``callbacks`` are
    ``transformers.TrainerCallback`` objects passed to the trainer. Process 0 writes the model, its card,
    ``training_curve.png`` and ``results.json`` (a :class:`~relemb.results.RunResult`, task ``train``).

    Example::

        result = train(
            ModelArguments(base_model="minilm"),
            DataArguments(data="starter", test_datasets=["starter"]),
            LossArguments(loss="nce", temperature=0.1),
            RelationTrainingArguments(output_dir="out", num_train_epochs=2),
            prompt_args=PromptLearningArguments(prompt="autoprompt", prompt_iterations=20),
        )
    """
    output_dir = str(training_args.output_dir)
    folder = check_output_dir(output_dir)
    resume: str | None = None
    if _wants_resume(training_args.resume_from_checkpoint):
        try:
            resume = resolve_resume(training_args.resume_from_checkpoint, output_dir)
        except FileNotFoundError:
            if _finished_run(output_dir, None) is None or str(training_args.resume_from_checkpoint).lower() not in (
                "true",
                "last",
                "yes",
            ):
                raise
        finished = _finished_run(output_dir, resume)
        if finished is not None:
            logger.warning(
                "%s holds a run that already finished (%s, %s optimizer steps): nothing to resume; to train again, "
                "pass --overwrite_output_dir instead of --resume_from_checkpoint",
                output_dir,
                RESULTS_FILE,
                finished.details.get("global_steps"),
            )
            model = RelBERT.from_pretrained(output_dir, device=device)
            return TrainResult(model=model, run_result=finished, output_dir=output_dir, already_finished=True)
    else:
        found = previous_run(folder)
        if found and not training_args.overwrite_output_dir:
            raise FileExistsError(
                f"output_dir {output_dir!r} already holds a trained model ({', '.join(found)}): pass "
                "--overwrite_output_dir to replace it, --resume_from_checkpoint last to continue an interrupted run, "
                "or choose another folder"
            )
    data = build_datasets(data_args)
    evaluator = build_evaluators(data, batch_size=max(16, training_args.per_device_eval_batch_size))
    if evaluator is None:
        if training_args.eval_strategy != "no" or training_args.load_best_model_at_end:
            raise ValueError(
                "no validation set for model selection: --data is a single file without a validation split; pass "
                "--validation_data, --eval_datasets, or --eval_strategy no --load_best_model_at_end false"
            )
    training_args.batch_sampler = training_args.relation_batch_sampler()
    if training_args.metric_for_best_model == SEMEVAL_SELECTION_METRIC and evaluator is not None:
        training_args.greater_is_better = True
    # the prompt-learning options when a prompt is learned (autoprompt, ptuning), else None
    learned = prompt_args if prompt_args is not None and prompt_args.prompt != "manual" else None
    if learned is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError(
            f"--prompt {learned.prompt} runs in one process: learn the prompt first with --prompt_only, then "
            "fine-tune the saved folder under torchrun (see docs/prompts.md)"
        )
    prompt_only = learned is not None and learned.prompt_only
    is_main = training_args.process_index == 0
    if is_main:
        if resume is None and training_args.overwrite_output_dir:
            _clear_previous_run(folder, evaluator)
        elif resume is not None and evaluator is not None:
            # the evaluations after the checkpoint are redone: their old rows go, so none appears twice
            evaluator.forget_after(folder / "eval", _step_of(resume))
    start = time.perf_counter()
    with _quiet_loading(verbose):
        model = build_model(model_args, device=device)
        untrained = None
        if is_main and data.test and training_args.compare_to_base:
            logger.info("scoring the untrained base model on the test sets (--compare_to_base false skips this)")
            model.encoder.eval()
            untrained = _score_tests(model, data.test)
        loss = build_loss(loss_args, model, data)  # one loss module: prompt learning and fine-tuning
        prompt_info = None
        prompt_seconds = 0.0
        if learned is not None:
            tick = time.perf_counter()
            learn_prompt(model, data, learned, loss=loss)  # encoder frozen inside; sets model.template
            prompt_seconds = time.perf_counter() - tick
            prompt_info = model.config.training.get("prompt_learning")
        config = model.config
        config.training = recipe(model_args, data_args, loss_args, training_args, data)
        if command:
            config.training["command"] = command
        if prompt_info is not None:
            config.training["prompt_learning"] = prompt_info
        trainer = RelationTrainer(
            model=model.encoder,
            args=training_args,
            train_dataset=data.dataset,
            loss=loss,
            evaluator=evaluator,
            callbacks=callbacks,
            relemb_config=config,
        )
        _show_progress(trainer, verbose)
        train_output = None if prompt_only else trainer.train(resume_from_checkpoint=resume)
        progress = next((c for c in trainer.callback_handler.callbacks if isinstance(c, TrainingProgress)), None)
        log_history = list(trainer.state.log_history)
        train_loss = None
        if train_output is not None:
            train_loss = mean_training_loss(log_history)  # the whole run's, every session's log included
            if train_loss is None:
                train_loss = train_output.training_loss
        best_step = None if train_output is None else _best_step(trainer)
        trainer_seconds = progress.elapsed() if progress is not None and train_output is not None else 0.0
        details: dict[str, Any] = {
            "best_checkpoint": trainer.state.best_model_checkpoint,
            "best_step": best_step,
            "best_metric": trainer.state.best_metric,
            "global_steps": trainer.state.global_step,
            "train_seconds": round(prompt_seconds + trainer_seconds, 1),
            "train_loss": train_loss,
            "history": [entry for entry in log_history if any(k.startswith("eval_") for k in entry)],
            "resumed_from": resume,
            "checkpoints_kept": bool(training_args.keep_checkpoints),
        }
        scores: dict[str, dict[str, Any]] = {"validation": {}, "test": {}, "test_intervals": {}, "test_n": {}}
        scores["validation_n"] = {name: len(questions) for name, questions in data.validation.items()}
        details["test"] = {}  # per test set: every question's prediction (for relemb-eval compare) and more
        if untrained is not None:
            scores["untrained_test"] = untrained["test"]
            scores["untrained_test_intervals"] = untrained["test_intervals"]
        curve = None
        if is_main:
            model.encoder.eval()
            if evaluator is not None:
                scores["validation"] = dict(evaluator(model.encoder))
            tested = _score_tests(model, data.test)
            details["test"] = tested.pop("details")
            scores.update(tested)
            if train_output is not None:
                try:
                    title = f"{Path(output_dir).name}: {config.base_model or model_args.base_model}"
                    plot_training_curve(log_history, folder / CURVE_FILE, best_step=best_step, title=title)
                    curve = CURVE_FILE
                except ValueError as error:  # nothing was logged (no step and no evaluation)
                    logger.info("no training curve: %s", error)
            config.results = _card_results(scores, log_history, best_step)
            if curve is not None:
                config.results["training_curve"] = curve
        run_result = RunResult.create(
            "train",
            scores,
            model={
                "base_model": config.base_model,
                "template": model.template,
                "pooling": model.pooling,
                "max_length": model.max_length,
                "output_dir": output_dir,
            },
            datasets=data.sources,
            arguments=config.training,
            seconds=time.perf_counter() - start,
            details=details,
        )
        if is_main:
            model.source_folder = folder  # where training_curve.png lies: a later save or push copies it
            model.save_pretrained(output_dir)
            run_result.save(folder / RESULTS_FILE)
            logger.info("saved the trained model, its card, %s and %s to %s", CURVE_FILE, RESULTS_FILE, output_dir)
            if not training_args.keep_checkpoints:
                _remove_checkpoints(folder)
    return TrainResult(model=model, run_result=run_result, output_dir=output_dir)

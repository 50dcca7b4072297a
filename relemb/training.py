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
of task ``train``) and the checkpoints to ``output_dir``.

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

import functools
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

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
from relemb.evaluation import AnalogyEvaluator, ValidationEvaluator, evaluate_analogy
from relemb.losses import RelationNCELoss, RelationTripletLoss
from relemb.model import RelBERT
from relemb.prompt_learning import PromptLearningArguments, learn_prompt
from relemb.results import DatasetSource, RunResult
from relemb.samplers import LABEL_COLUMN, RelationBatchSampler, encode_label
from relemb.train_config import SEMEVAL_SELECTION_METRIC, DataArguments, LossArguments, ModelArguments, TrainingOptions

__all__ = [
    "RelationTrainer",
    "RelationTrainingArguments",
    "TrainResult",
    "TrainingData",
    "build_datasets",
    "build_evaluators",
    "build_loss",
    "build_model",
    "records_to_dataset",
    "select_relations",
    "train",
]

logger = logging.getLogger("relemb.training")

RESULTS_FILE = "results.json"
LOSS_HEAD_FILE = "relemb_loss_head.safetensors"
SEMEVAL_VALIDATION_NAME = "semeval2012_validation"


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
        super().__post_init__()

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
    """
    types = [r.relation_type for r in records]
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
    weights (the classification head) in the checkpoint, so a resumed run loses nothing."""

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
        super()._load_from_checkpoint(resume_from_checkpoint)
        head_file = os.path.join(resume_from_checkpoint, LOSS_HEAD_FILE)
        if (
            os.path.isfile(head_file)
            and isinstance(self.loss, torch.nn.Module)
            and hasattr(self.loss, "head_state_dict")
        ):
            from safetensors.torch import load_file

            self.loss.load_state_dict(load_file(head_file, device=str(self.model.device)), strict=False)


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

    @property
    def results(self) -> dict[str, Any]:
        """A flat view of :attr:`run_result`: ``validation`` and ``test`` (the scores), the model fields
        (``base_model``, ``template``, ``pooling``, ...), ``recipe`` (the arguments) and the details
        (``best_checkpoint``, ``best_metric``, ``global_steps``, ``train_seconds``, ``train_loss``,
        ``history``)."""
        run = self.run_result
        return {**run.model, "recipe": run.arguments, **run.details, **run.scores}


def _resolve_resume(value: str | bool | None, output_dir: str) -> str | None:
    """``resume_from_checkpoint``: ``None``/``false`` = no; ``last``/``true`` = the newest checkpoint in
    ``output_dir``; else a checkpoint folder."""
    from transformers.trainer_utils import get_last_checkpoint

    if value is None or value is False or str(value).lower() in ("", "false", "no", "none"):
        return None
    if value is True or str(value).lower() in ("true", "last", "yes"):
        last = get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None
        if last is None:
            raise FileNotFoundError(
                f"resume_from_checkpoint={value!r}: no checkpoint-* folder in {output_dir!r} to resume from"
            )
        return last
    path = Path(str(value)).expanduser()
    if not (path / "trainer_state.json").is_file():
        raise FileNotFoundError(
            f"resume_from_checkpoint {str(value)!r} is not a training checkpoint (no trainer_state.json there)"
        )
    return str(path)


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
    datasets = ["relbert/semeval2012_relational_similarity"] if data_args.data.lower() == "semeval2012" else []
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


def train(
    model_args: ModelArguments,
    data_args: DataArguments,
    loss_args: LossArguments,
    training_args: RelationTrainingArguments,
    *,
    prompt_args: PromptLearningArguments | None = None,
    device: str | None = None,
    callbacks: list[Any] | None = None,
) -> TrainResult:
    """Fine-tune, select the best epoch, score the test sets, save everything to ``training_args.output_dir``.

    The loss is built once from ``loss_args`` (:func:`build_loss`). With ``prompt_args.prompt`` ``autoprompt``
    or ``ptuning``, a prompt is learned first with the encoder frozen, on the same rows and that same loss
    module (every option of ``loss_args``), replacing the template; the trainer then fine-tunes with it.
    ``prompt_args.prompt_only`` stops after prompt learning (no encoder fine-tuning).

    ``training_args.resume_from_checkpoint`` (``"last"`` or a checkpoint folder) continues a killed run;
    ``callbacks`` are ``transformers.TrainerCallback`` objects passed to the trainer. Process 0 writes the
    model and ``results.json`` (a :class:`~relemb.results.RunResult`, task ``train``).

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
    resume = _resolve_resume(training_args.resume_from_checkpoint, output_dir)
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
    start = time.perf_counter()
    model = build_model(model_args, device=device)
    loss = build_loss(loss_args, model, data)  # one loss module: prompt learning and fine-tuning
    prompt_info = None
    if learned is not None:
        learn_prompt(model, data, learned, loss=loss)  # encoder frozen inside; sets model.template
        prompt_info = model.config.training.get("prompt_learning")
    config = model.config
    config.training = recipe(model_args, data_args, loss_args, training_args, data)
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
    prompt_only = learned is not None and learned.prompt_only
    train_output = None if prompt_only else trainer.train(resume_from_checkpoint=resume)
    train_seconds = time.perf_counter() - start

    details: dict[str, Any] = {
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "best_metric": trainer.state.best_metric,
        "global_steps": trainer.state.global_step,
        "train_seconds": round(train_seconds, 1),
        "train_loss": None if train_output is None else train_output.training_loss,
        "history": [entry for entry in trainer.state.log_history if any(k.startswith("eval_") for k in entry)],
    }
    scores: dict[str, dict[str, Any]] = {"validation": {}, "test": {}, "test_intervals": {}, "test_n": {}}
    scores["validation_n"] = {name: len(questions) for name, questions in data.validation.items()}
    details["test"] = {}  # per test set: every question's prediction (for relemb-eval compare) and more
    if trainer.is_world_process_zero():
        model.encoder.eval()
        if evaluator is not None:
            scores["validation"] = dict(evaluator(model.encoder))
        for name, questions in data.test.items():
            result = evaluate_analogy(model, questions, "test", name=name, show_progress_bar=False)
            scores["test"][name] = result.accuracy
            scores["test_intervals"][name] = list(result.interval)
            scores["test_n"][name] = result.n_questions
            details["test"][name] = result.to_dict()
        config.results = {
            **{f"{k}": round(v, 4) for k, v in scores["validation"].items() if "_ci_" not in k},
            **{f"{name}_test_accuracy": round(v, 4) for name, v in scores["test"].items()},
        }
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
    if trainer.is_world_process_zero():
        model.save_pretrained(output_dir)
        run_result.save(Path(output_dir) / RESULTS_FILE)
        logger.info("saved the trained model and %s to %s", RESULTS_FILE, output_dir)
    return TrainResult(model=model, run_result=run_result, output_dir=output_dir)

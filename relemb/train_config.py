"""The argument dataclasses of ``relemb-train`` and how a flat dict of options becomes them.

Groups: :class:`ModelArguments` (base model, template, pooling, max length), :class:`DataArguments`
(training relations, validation and test sets, excluded relations), :class:`LossArguments` (loss and its
options), :class:`~relemb.prompt_learning.PromptLearningArguments` and :class:`RelationTrainingArguments`
(every ``SentenceTransformerTrainingArguments`` option, with RelBERT's defaults, which
:class:`TrainingOptions` declares). Each validates itself on creation, so a bad value fails before any
model is loaded.

This module is light: it imports neither torch nor transformers, so ``relemb-train --help`` is quick.
``RelationTrainingArguments`` (a ``SentenceTransformerTrainingArguments``) lives in
:mod:`relemb.training` and is importable from here too, loaded on first use.

>>> args = LossArguments(loss="triplet", margin=0.5)
>>> args.loss, args.margin
('triplet', 0.5)
>>> LossArguments(loss="cosine")
Traceback (most recent call last):
...
ValueError: unknown loss 'cosine'; choose one of nce, triplet
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional, get_type_hints

from relemb._compat import lazy_exports
from relemb.choices import LOSSES, POOLING_MODES, check_pooling_mode
from relemb.prompts import resolve_template

__all__ = [
    "DataArguments",
    "LossArguments",
    "ModelArguments",
    "QUICKSTART",
    "RelationTrainingArguments",  # noqa: F822 - loaded on first use (module __getattr__)
    "SEMEVAL_SELECTION_METRIC",
    "TrainingOptions",
    "RUN_ONLY_OPTIONS",
    "argument_dataclasses",
    "command_line",
    "option_aliases",
    "option_dataclasses",
    "parse_training_arguments",
    "quickstart_defaults",
    "read_config_file",
]

#: The metric ``relemb-train`` keeps the best checkpoint by (mean accuracy over its validation sets).
SEMEVAL_SELECTION_METRIC = "eval_validation_mean_accuracy"


@dataclass
class ModelArguments:
    """The relation model to fine-tune."""

    base_model: str = field(
        default="roberta-large",
        metadata={
            "help": "Encoder to start from: a Hub id, a local folder (a transformers checkpoint or a relemb model), "
            "or 'minilm' (the embedded all-MiniLM-L6-v2).",
            "aliases": ["--model"],
        },
    )
    template: str = field(
        default="d",
        metadata={
            "help": "Prompt template: an id a-e (RelBERT's manual templates) or a string with <subj>, <obj> "
            "and one <mask>."
        },
    )
    pooling: str = field(
        default="average_no_mask",
        metadata={"help": f"Pooling: {', '.join(POOLING_MODES)}."},
    )
    max_length: int = field(default=64, metadata={"help": "Truncation length of a prompt in tokens."})

    def __post_init__(self) -> None:
        if not isinstance(self.base_model, str) or not self.base_model.strip():
            raise ValueError("base_model is empty: give a Hub id, a local folder or 'minilm'")
        self.template = resolve_template(self.template)
        check_pooling_mode(self.pooling)
        if not isinstance(self.max_length, int) or self.max_length < 8:
            raise ValueError(f"max_length must be an integer >= 8, got {self.max_length!r}")


@dataclass
class DataArguments:
    """What to train on, what to select the best epoch by, what to report at the end."""

    data: str = field(
        default="semeval2012",
        metadata={
            "help": "Training relations: 'semeval2012', 'starter' (bundled, no download), a folder with "
            "train.jsonl/valid.jsonl, or a .jsonl file in the SemEval format."
        },
    )
    data_dir: Optional[str] = field(
        default=None,
        metadata={"help": "Local copy of the relbert datasets (default: $RELEMB_DATA_DIR, then the Hub)."},
    )
    validation_data: Optional[str] = field(
        default=None,
        metadata={
            "help": "Relations whose validation split becomes the model-selection questions (default: the "
            "validation split of --data; set it when --data is a single file)."
        },
    )
    eval_datasets: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Extra analogy datasets whose validation split joins model selection (e.g. u2 u4 google bats)."
        },
    )
    test_datasets: list[str] = field(
        default_factory=list,
        metadata={"help": "Analogy datasets scored (test split) with the final model; written to results.json."},
    )
    exclude_relations: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Relation types (e.g. 8/d) or whole parent classes (e.g. 1) left out of training and "
            "validation (RelBERT's memorization test)."
        },
    )

    def __post_init__(self) -> None:
        for name in ("eval_datasets", "test_datasets", "exclude_relations"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = value.split()
            if isinstance(value, (list, tuple)):  # YAML reads a parent class like 1 as a number
                value = [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
                raise ValueError(f"{name} must be a list of names, got {getattr(self, name)!r}")
            setattr(self, name, [v.strip() for v in value])
        if not isinstance(self.data, str) or not self.data.strip():
            raise ValueError("data is empty: give 'semeval2012', 'starter', a folder or a .jsonl file")
        if self.data_dir is not None and not Path(self.data_dir).expanduser().is_dir():
            raise FileNotFoundError(f"data_dir {self.data_dir!r} is not a folder (no such directory)")


@dataclass
class LossArguments:
    """The training objective."""

    loss: str = field(
        default="nce",
        metadata={"help": "nce (RelBERT 2023 InfoNCE, default) or triplet (EMNLP 2021).", "choices": list(LOSSES)},
    )
    temperature: float = field(default=0.05, metadata={"help": "InfoNCE temperature tau (0.05 = ST's scale 20)."})
    loob: bool = field(default=False, metadata={"help": "InfoLOOB: leave the positive out of the denominator."})
    negative_augmentation: bool = field(
        default=True,
        metadata={"help": "Use the positives of the other relations in the batch as negatives."},
    )
    cross_negatives: bool = field(
        default=False,
        metadata={
            "help": "Also use the other relations' negative pairs in the batch as negatives, as "
            "sentence-transformers' MultipleNegativesRankingLoss uses every row's hard negative."
        },
    )
    parent_contrast: bool = field(
        default=False,
        metadata={"help": "Add a parent-class-level InfoNCE term (relations of the same parent class attract)."},
    )
    margin: float = field(default=1.0, metadata={"help": "Triplet margin (Euclidean)."})
    classification_loss: bool = field(
        default=False,
        metadata={"help": "Add SBERT's classification term -log g(a,p) - log(1-g(a,n)) on [u; v; |u-v|]."},
    )

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        if not self.margin >= 0:
            raise ValueError(f"margin must be >= 0, got {self.margin!r}")
        if self.loss == "triplet" and self.parent_contrast:
            raise ValueError("parent_contrast is an option of the nce loss, not of triplet")


@dataclass
class TrainingOptions:
    """The trainer options relemb sets its own defaults for (RelBERT's): lr 5e-6, 10 epochs, 10 warm-up steps,
    constant learning rate, evaluation and a checkpoint every epoch, best epoch kept (by the mean accuracy
    over the validation sets). :class:`RelationTrainingArguments` adds every other
    ``SentenceTransformerTrainingArguments`` option; ``per_device_train_batch_size`` is the target number of
    word pairs per batch (whole relations).

    relemb's own run options are here too: ``overwrite_output_dir`` (train into a folder that holds a
    trained model), ``keep_checkpoints`` (keep the checkpoints of a finished run) and ``compare_to_base``
    (score the untrained base model on the test sets).
    """

    output_dir: Optional[str] = field(
        default=None, metadata={"help": "Output folder: the final model, results.json, checkpoints."}
    )
    learning_rate: float = field(default=5e-6, metadata={"help": "Peak learning rate.", "aliases": ["--lr"]})
    num_train_epochs: float = field(default=10.0, metadata={"help": "Training epochs.", "aliases": ["--epochs"]})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimizer steps (-1: use epochs)."})
    per_device_train_batch_size: int = field(
        default=128,
        metadata={
            "help": "Word pairs per batch and device (whole relations are kept together).",
            "aliases": ["--batch-size"],
        },
    )
    relations_per_batch: Optional[int] = field(
        default=None,
        metadata={
            "help": "In-batch InfoNCE batches: this many different relations per batch, each with "
            "--positives_per_relation positives (an anchor and its positive) and --negatives_per_relation hard "
            "negatives; default: batches of whole relations up to --batch-size pairs (RelBERT's)."
        },
    )
    positives_per_relation: int = field(
        default=2, metadata={"help": "Positives of each relation in a --relations_per_batch batch."}
    )
    negatives_per_relation: int = field(
        default=1, metadata={"help": "Hard negatives (the relation's own negatives) per relation in such a batch."}
    )
    warmup_steps: float = field(default=10, metadata={"help": "Linear warm-up steps (or a ratio < 1)."})
    lr_scheduler_type: str = field(default="constant_with_warmup", metadata={"help": "Learning-rate schedule."})
    eval_strategy: str = field(default="epoch", metadata={"help": "When to score the validation sets."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to write a checkpoint."})
    save_total_limit: Optional[int] = field(
        default=2, metadata={"help": "Checkpoints kept (the best one is always kept)."}
    )
    load_best_model_at_end: bool = field(default=True, metadata={"help": "Keep the best epoch's weights."})
    metric_for_best_model: Optional[str] = field(
        default=SEMEVAL_SELECTION_METRIC, metadata={"help": "Metric the best checkpoint is chosen by."}
    )
    greater_is_better: Optional[bool] = field(default=True, metadata={"help": "Higher metric is better."})
    logging_steps: float = field(default=10, metadata={"help": "Log the loss every N steps."})
    seed: int = field(default=42, metadata={"help": "Random seed of initialisation, batches and sampling."})
    # TrainingArguments' own type (it makes the value a list): None first, so HfArgumentParser parses a str
    report_to: None | str | list[str] = field(
        default="none", metadata={"help": "Logging integrations (none, tensorboard, wandb...)."}
    )
    # the Trainer's convention (transformers 5 dropped the option; relemb keeps it)
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Train into an --output_dir that already holds a trained model (results.json, model.safetensors "
            "or checkpoint-*): the old run's results, checkpoints and evaluation files are removed first."
        },
    )
    keep_checkpoints: bool = field(
        default=False,
        metadata={
            "help": "Keep the trainer's checkpoint-* folders (optimizer state included) once the final model is "
            "saved; by default they are removed when the run finishes (an interrupted run keeps them for "
            "--resume_from_checkpoint last)."
        },
    )
    compare_to_base: bool = field(
        default=True,
        metadata={
            "help": "Also score the untrained base model on --test_datasets (before training), for the results "
            "table and the model card."
        },
    )


# a SentenceTransformerTrainingArguments: loaded on first use, so this module stays light
__getattr__, __dir__ = lazy_exports(__name__, {"RelationTrainingArguments": "relemb.training"})


def option_dataclasses() -> tuple[type, ...]:
    """The light dataclasses whose fields are ``relemb-train``'s own options (shown by ``--help``), in order."""
    from relemb.prompt_learning.config import PromptLearningArguments

    return (ModelArguments, DataArguments, LossArguments, PromptLearningArguments, TrainingOptions)


def argument_dataclasses() -> tuple[type, ...]:
    """The dataclasses ``relemb-train``'s options are parsed into, in order (imports the trainer)."""
    from relemb.prompt_learning.config import PromptLearningArguments
    from relemb.training import RelationTrainingArguments

    return (ModelArguments, DataArguments, LossArguments, PromptLearningArguments, RelationTrainingArguments)


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML (``.yaml``/``.yml``) or JSON config file as a flat dict; keys may use ``-`` or ``_``.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp(), "c.yaml"); _ = p.write_text("base-model: minilm\\nlr: 1.0e-5\\n")
    >>> read_config_file(p)
    {'base_model': 'minilm', 'learning_rate': 1e-05}
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise ValueError(f"config file {str(path)!r}: use a .yaml, .yml or .json file")
    except (json.JSONDecodeError, Exception) as error:
        if isinstance(error, ValueError) and "use a .yaml" in str(error):
            raise
        raise ValueError(f"config file {str(path)!r} is not valid {path.suffix[1:].upper()}: {error}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"config file {str(path)!r} must hold a mapping of option names to values")
    aliases = option_aliases()
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).lstrip("-").replace("-", "_")
        out[aliases.get(name, name)] = value
    return out


def option_aliases() -> dict[str, str]:
    """Alias (``lr``, ``epochs``, ``batch_size``, ``model``) -> field name.

    >>> option_aliases()["lr"], option_aliases()["model"]
    ('learning_rate', 'base_model')
    """
    aliases = {}
    for dtype in option_dataclasses():
        for f in fields(dtype):
            for alias in f.metadata.get("aliases", []):
                aliases[alias.lstrip("-").replace("-", "_")] = f.name
    return aliases


#: ``relemb-train --quickstart``: the embedded MiniLM, SemEval-2012 when RELEMB_DATA_DIR is set (else the
#: bundled starter set); options given on the command line or in --config still win.
QUICKSTART: dict[str, Any] = {
    "base_model": "minilm",
    "template": "d",
    "pooling": "average_no_mask",
    "loss": "nce",
    "learning_rate": 2e-4,
    "num_train_epochs": 12,
    "per_device_train_batch_size": 128,
    "warmup_steps": 10,
    "output_dir": "relemb-quickstart",
    "save_total_limit": 1,
}


def quickstart_defaults(environ: dict[str, str] | None = None, data_dir: str | None = None) -> dict[str, Any]:
    """``--quickstart``'s options: SemEval-2012 + U2/U4/Google/BATS when a data folder is known, else the
    bundled starter set.

    >>> quickstart_defaults({})["data"], quickstart_defaults({"RELEMB_DATA_DIR": "/d"})["test_datasets"]
    ('starter', ['u2', 'u4', 'google', 'bats'])
    """
    environ = dict(os.environ if environ is None else environ)
    values = dict(QUICKSTART)
    if data_dir or environ.get("RELEMB_DATA_DIR"):
        values.update(data="semeval2012", test_datasets=["u2", "u4", "google", "bats"])
    else:
        values.update(data="starter", test_datasets=["starter"])
    return values


#: Options that say how to run, not what is trained: left out of the recorded command line.
RUN_ONLY_OPTIONS = frozenset({"resume_from_checkpoint", "overwrite_output_dir"})


def command_line(values: dict[str, Any], program: str = "relemb-train") -> str:
    """The command line that trains with the options ``values`` (a flat dict, as :func:`parse_training_arguments`
    takes: the merged command line, config file and ``--quickstart`` options), to record in the model's
    recipe and card. Every option is written out, so the command needs no config file; options that only say
    how to run (:data:`RUN_ONLY_OPTIONS`) and unset ones are left out.

    >>> command_line({"base_model": "minilm", "lr": 1e-4, "test_datasets": ["u2", "u4"], "loob": True,
    ...               "output_dir": "runs/my model", "resume_from_checkpoint": "last"})
    "relemb-train --base_model minilm --test_datasets u2 u4 --loob true --output_dir 'runs/my model' --learning_rate 0.0001"
    """
    import shlex

    aliases = option_aliases()
    order = {f.name: index for index, f in enumerate(f for dtype in option_dataclasses() for f in fields(dtype))}
    named = {aliases.get(key, key): value for key, value in values.items()}
    words = [program]
    # relemb's own options first, in --help's order; the other trainer options after them
    for name in sorted(named, key=lambda name: order.get(name, len(order))):
        value = named[name]
        if name in RUN_ONLY_OPTIONS or value is None:
            continue
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if not items:
            continue
        words.append(f"--{name}")
        for item in items:
            item = getattr(item, "value", item)  # the trainer's enums
            words.append(("true" if item else "false") if isinstance(item, bool) else str(item))
    return shlex.join(words)


def parse_training_arguments(values: dict[str, Any]) -> tuple[Any, Any, Any, Any, Any]:
    """``(ModelArguments, DataArguments, LossArguments, PromptLearningArguments, RelationTrainingArguments)``
    from a flat dict of options.

    Unknown keys are an error naming them.
    """
    from transformers import HfArgumentParser

    aliases = option_aliases()
    values = {aliases.get(k, k): v for k, v in values.items()}
    numeric = _numeric_fields()
    known = {f.name for dtype in argument_dataclasses() for f in fields(dtype) if f.init}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown training option(s): {', '.join(unknown)} (see relemb-train --help)")
    values = {name: _coerce(name, value, numeric) for name, value in values.items()}
    # transformers types the dataclasses as a NewType of Any, which no class matches
    parser = HfArgumentParser(argument_dataclasses())  # type: ignore[arg-type]
    model, data, loss, prompt, training = parser.parse_dict(values)
    return model, data, loss, prompt, training


def _numeric_fields() -> dict[str, type]:
    """Option name -> ``int`` or ``float`` for the numeric options (``Optional`` ones included)."""
    numeric: dict[str, type] = {}
    for dtype in argument_dataclasses():
        hints = get_type_hints(dtype)
        for f in fields(dtype):
            kinds = set(getattr(hints[f.name], "__args__", ())) | {hints[f.name]}
            for kind in (float, int):  # float first: an int value is a valid float option
                if kind in kinds:
                    numeric[f.name] = kind
                    break
    return numeric


def _coerce(name: str, value: Any, numeric: dict[str, type]) -> Any:
    """A string given for a numeric option (YAML reads ``5e-6`` as a string) becomes a number."""
    kind = numeric.get(name)
    if kind is None or not isinstance(value, str):
        return value
    try:
        return kind(float(value)) if kind is int and float(value).is_integer() else kind(value)
    except ValueError:
        raise ValueError(f"option {name}: expected a number, got {value!r}") from None

"""``relemb train`` / ``relemb-train``: fine-tune a relation model from the command line.

relemb's own options come from the light dataclasses of :mod:`relemb.train_config` (shown by ``--help``
without loading the trainer); every other ``SentenceTransformerTrainingArguments`` option also works
(``--fp16``, ``--gradient_accumulation_steps 4``, ``--save_steps``, ``--resume_from_checkpoint`` ...:
``--help-trainer`` lists them). Options also come from a YAML/JSON file (``--config``) and from
``--quickstart``'s defaults; precedence: command line > config file > quickstart > defaults. Every value is
checked, and every dataset loaded, before a model is loaded.

Examples::

    relemb-train --quickstart                                  # MiniLM, SemEval-2012 or the starter set
    relemb-train --config examples/minilm_semeval_nce.yaml --output_dir runs/minilm
    relemb-train --base-model roberta-large --data semeval2012 --loss triplet --output_dir runs/triplet
    torchrun --nproc_per_node 2 -m relemb train --config examples/minilm_semeval_nce.yaml --output_dir runs/ddp
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import types
import typing
from typing import Any

from relemb._io import markdown_table
from relemb.cli.options import interval_text, percent
from relemb.train_config import (
    command_line,
    option_dataclasses,
    parse_training_arguments,
    quickstart_defaults,
    read_config_file,
)
from relemb.training_curve import CURVE_FILE

__all__ = ["ACCEPTS_EXTRA_ARGUMENTS", "add_arguments", "format_results", "option_values", "run", "trainer_options"]

#: Options this command does not declare go to the trainer (``SentenceTransformerTrainingArguments``).
ACCEPTS_EXTRA_ARGUMENTS = True

_GROUP_TITLES = {
    "ModelArguments": "model",
    "DataArguments": "data",
    "LossArguments": "loss",
    "PromptLearningArguments": "prompt learning (AutoPrompt / P-tuning, encoder frozen; see docs/prompts.md)",
    "TrainingOptions": "training (RelBERT's defaults; every other trainer option works too, see --help-trainer)",
}
_DESTS_KEY = "_relemb_train_fields"


def _to_bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "y", "on"):
        return True
    if value in ("0", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _base_type(hint: Any) -> tuple[Any, bool]:
    """``(type, is_list)`` of a field's annotation, ``Optional`` removed."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        origin = typing.get_origin(hint)
    if origin in (list, tuple):
        return (typing.get_args(hint) or (str,))[0], True
    return hint, False


def _add_field(group: argparse._ArgumentGroup, f: dataclasses.Field, hint: Any) -> None:
    """One dataclass field as options ``--name``, ``--name-with-dashes`` and its aliases; the default stays in
    the dataclass (only options given reach the namespace), the help shows it."""
    names = list(dict.fromkeys([f"--{f.name}", f"--{f.name.replace('_', '-')}", *f.metadata.get("aliases", [])]))
    kind, is_list = _base_type(hint)
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        default = None  # a required field: no default to show
    text = f.metadata.get("help", "")
    if default not in (None, "", []) and kind is not bool:
        text = f"{text} (default: {default})".strip()
    options: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": text}
    if "choices" in f.metadata:
        options["choices"] = list(f.metadata["choices"])
    if kind is bool:
        group.add_argument(*names, type=_to_bool, nargs="?", const=True, metavar="BOOL", **options)
        if default is True:
            group.add_argument(
                f"--no_{f.name}", f"--no-{f.name.replace('_', '-')}", dest=f.name, action="store_false",
                default=argparse.SUPPRESS, help=f"Switch off --{f.name}.",
            )  # fmt: skip
        return
    if kind in (int, float, str):
        options["type"] = kind
    if is_list:
        options["nargs"] = "+"
    group.add_argument(*names, **options)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``--config``, ``--quickstart``, ``--help-trainer`` and every field of relemb's option
    dataclasses (``--name`` and ``--name-with-dashes``)."""
    parser.description = (
        "Fine-tune a relation model (RelBERT) on SemEval-2012, the starter set or any file in that format. "
        "Options: command line > --config file > --quickstart > defaults. Any other "
        "SentenceTransformerTrainingArguments option (--fp16, --gradient_accumulation_steps N, --save_steps N, "
        "--resume_from_checkpoint last ...) is passed to the trainer; --help-trainer lists them."
    )
    parser.add_argument(
        "--config", metavar="FILE", default=None, help="YAML or JSON file of options (keys as below, - or _)."
    )
    parser.add_argument(
        "--quickstart",
        action="store_true",
        help="Train the embedded MiniLM (SemEval-2012 with RELEMB_DATA_DIR/--data_dir set, else the bundled starter "
        "set) and print an analogy results table.",
    )
    parser.add_argument(
        "--help-trainer", action="store_true", help="List every trainer option (loads transformers) and exit."
    )
    dests: list[str] = []
    for dtype in option_dataclasses():
        group = parser.add_argument_group(_GROUP_TITLES.get(dtype.__name__, dtype.__name__))
        hints = typing.get_type_hints(dtype)
        for f in dataclasses.fields(dtype):
            if f.init:
                _add_field(group, f, hints[f.name])
                dests.append(f.name)
    parser.set_defaults(**{_DESTS_KEY: dests})


def _trainer_parser() -> Any:
    from transformers import HfArgumentParser

    from relemb.training import RelationTrainingArguments

    # transformers types the dataclasses as a NewType of Any, which no class matches
    parser = HfArgumentParser(RelationTrainingArguments, prog="relemb-train (trainer options)")  # type: ignore[arg-type]
    for action in parser._actions:
        action.default = argparse.SUPPRESS  # only options given on the command line reach the namespace
        action.required = False
    return parser


def trainer_options(arguments: list[str]) -> dict[str, Any]:
    """The trainer options among ``arguments`` (what relemb-train does not declare itself), parsed by the
    trainer's own ``HfArgumentParser``; an unknown option is a ``ValueError`` naming it."""
    if not arguments:
        return {}
    parser = _trainer_parser()
    namespace, unknown = parser.parse_known_args(arguments)
    if unknown:
        raise ValueError(f"unrecognized arguments: {' '.join(unknown)} (see relemb-train --help and --help-trainer)")
    return {key: value for key, value in vars(namespace).items() if key != "help"}


def format_results(results: dict[str, Any]) -> str:
    """A markdown table of the validation and test accuracies in ``results`` (a training run's scores): dataset,
    split, number of questions, accuracy and its 95% interval (percent), and the test mean; with the untrained
    base model's test scores (``untrained_test``), two more columns compare with it.

    >>> print(format_results({"validation": {"semeval2012_validation_accuracy": 0.5}, "test": {"u2": 0.25}}))
    | dataset     | split      | n | accuracy | 95% CI |
    |-------------|------------|---|----------|--------|
    | semeval2012 | validation |   | 50.0     |        |
    | u2          | test       |   | 25.0     |        |
    """
    validation, test = results.get("validation", {}), results.get("test", {})
    counts = {**results.get("validation_n", {}), **results.get("test_n", {})}
    untrained = results.get("untrained_test") or {}
    untrained_intervals = results.get("untrained_test_intervals") or {}
    compare = bool(untrained)
    rows = []
    for key, value in validation.items():
        if key.endswith("_accuracy"):
            name = key[: -len("_accuracy")]
            interval = [validation.get(f"{key}_ci_low"), validation.get(f"{key}_ci_high")]
            label = "mean" if name == "validation_mean" else name.replace("_validation", "")
            row = [label, "validation", counts.get(name, ""), percent(value), interval_text(interval)]
            rows.append(row + (["", ""] if compare else []))
    intervals = results.get("test_intervals", {})
    for name, value in test.items():
        row = [name, "test", counts.get(name, ""), percent(value), interval_text(intervals.get(name))]
        if compare:
            row += [percent(untrained.get(name)), interval_text(untrained_intervals.get(name))]
        rows.append(row)
    if len(test) > 1:
        row = ["mean", "test", "", percent(sum(test.values()) / len(test)), ""]
        if compare:
            shared = [untrained[name] for name in test if name in untrained]
            row += [percent(sum(shared) / len(shared)) if len(shared) == len(test) else "", ""]
        rows.append(row)
    headers = ["dataset", "split", "n", "accuracy", "95% CI"] + (["untrained", "95% CI "] if compare else [])
    return markdown_table(headers, rows)


def option_values(args: argparse.Namespace) -> dict[str, Any]:
    """Every option of a ``relemb-train`` command as one flat dict: the command line over the ``--config`` file
    over ``--quickstart``'s defaults (the trainer options it does not declare included), as
    :func:`~relemb.train_config.parse_training_arguments` takes them and
    :func:`~relemb.train_config.command_line` records them."""
    given = {name: getattr(args, name) for name in getattr(args, _DESTS_KEY, []) if hasattr(args, name)}
    values: dict[str, Any] = {}
    if args.quickstart:
        values.update(quickstart_defaults(data_dir=given.get("data_dir")))
    if args.config:
        values.update(read_config_file(args.config))
    values.update(trainer_options(list(getattr(args, "extra_arguments", []))))
    values.update(given)
    return values


def _set_logging(verbose: bool) -> None:
    """relemb-train's own lines (what it trains on, resuming, saving, skipped checkpoints) always; every relemb
    logger's INFO lines (data files loaded, each evaluator's score) only with ``-v``."""
    logging.getLogger("relemb").setLevel(logging.INFO if verbose else logging.WARNING)
    for name in ("relemb.training", "relemb.prompt_learning"):
        logging.getLogger(name).setLevel(logging.INFO)


def run(args: argparse.Namespace) -> int:
    """Parse and check every option, train, print the results table; returns 0."""
    if args.help_trainer:
        _trainer_parser().print_help()
        return 0
    verbose = bool(getattr(args, "verbose", False))
    _set_logging(verbose)
    values = option_values(args)
    model_args, data_args, loss_args, prompt_args, training_args = parse_training_arguments(values)
    if verbose and training_args.log_level == "passive":
        training_args.log_level = "info"  # the trainer's own log lines too

    from transformers.utils import logging as transformers_logging

    from relemb.training import train

    verbosity = transformers_logging.get_verbosity()
    try:
        result = train(
            model_args,
            data_args,
            loss_args,
            training_args,
            prompt_args=prompt_args,
            verbose=verbose,
            command=command_line(values),
        )
    finally:
        transformers_logging.set_verbosity(verbosity)  # the trainer sets it from --log_level
    main_process = int(os.environ.get("RANK", "0")) == 0
    if result.already_finished:
        if main_process:
            print(f"\n{training_args.output_dir} holds a finished run: nothing to resume. Its results:")
            print(format_results(result.results))
        return 0
    if result.results.get("validation") or result.results.get("test"):
        fine_tuned = result.results.get("train_loss") is not None
        how = "fine-tuned" if fine_tuned else "prompt learned, encoder not fine-tuned"
        print(f"\nanalogy accuracy of {training_args.output_dir} ({model_args.base_model}, {how}):")
        print(format_results(result.results))
    if main_process:
        curve = f", {CURVE_FILE}" if os.path.isfile(os.path.join(str(training_args.output_dir), CURVE_FILE)) else ""
        print(f"\nsaved: {training_args.output_dir} (model, results.json, model card{curve})")
        sys.stdout.flush()
    return 0

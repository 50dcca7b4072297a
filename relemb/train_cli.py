"""``relemb train`` / ``relemb-train``: fine-tune a relation model from the command line.

Options come from the argument dataclasses of :mod:`relemb.train_config` (through
``transformers.HfArgumentParser``, so every ``SentenceTransformerTrainingArguments`` option works:
``--fp16``, ``--gradient_accumulation_steps``, ``--save_steps``, ``--resume_from_checkpoint`` ...),
from a YAML/JSON file (``--config``), and from ``--quickstart``'s defaults. Precedence: command line
> config file > quickstart > defaults. Every value is checked, and every dataset loaded, before a
model is loaded.

Examples::

    relemb-train --quickstart                                  # MiniLM, SemEval-2012 or the starter set
    relemb-train --config examples/minilm_semeval_nce.yaml --output_dir runs/minilm
    relemb-train --base-model roberta-large --data semeval2012 --loss triplet --output_dir runs/triplet
    torchrun --nproc_per_node 2 -m relemb train --config examples/minilm_semeval_nce.yaml --output_dir runs/ddp
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import logging
import os
import sys
from typing import Any, get_type_hints

from relemb.train_config import QUICKSTART, argument_dataclasses, option_aliases, read_config_file

__all__ = ["add_arguments", "parse_training_arguments", "quickstart_defaults", "run", "format_results"]

_GROUP_TITLES = {
    "ModelArguments": "model",
    "DataArguments": "data",
    "LossArguments": "loss",
    "PromptLearningArguments": "prompt learning (AutoPrompt / P-tuning, encoder frozen; see docs/prompts.md)",
    "RelationTrainingArguments": "training (transformers/sentence-transformers trainer options)",
}
_DESTS_KEY = "_relemb_train_fields"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``--config``, ``--quickstart`` and every dataclass field (``--name`` and ``--name-with-dashes``)."""
    from transformers import HfArgumentParser

    parser.description = (
        "Fine-tune a relation model (RelBERT) on SemEval-2012, the starter set or any file in that format. "
        "Options: command line > --config file > --quickstart > defaults."
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
    dests: list[str] = []
    for dtype in argument_dataclasses():
        group = parser.add_argument_group(_GROUP_TITLES.get(dtype.__name__, dtype.__name__))
        hints = get_type_hints(dtype)
        for f in dataclasses.fields(dtype):
            if not f.init:
                continue
            f = copy.copy(f)
            f.type = hints[f.name]
            before = len(group._group_actions)
            HfArgumentParser._parse_dataclass_field(group, f)
            for action in group._group_actions[before:]:
                # defaults live in the dataclasses: only options given on the command line reach the namespace
                if isinstance(action, argparse._StoreFalseAction):
                    action.help = f"Switch off --{f.name}."
                elif action.default is not argparse.SUPPRESS and action.help is not argparse.SUPPRESS:
                    shown = action.default
                    action.help = (
                        f"{action.help or ''} (default: {shown})".strip() if shown not in (None, "") else action.help
                    )
                action.default = argparse.SUPPRESS
            dests.append(f.name)
    parser.set_defaults(**{_DESTS_KEY: dests})


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


def parse_training_arguments(values: dict[str, Any]) -> tuple[Any, Any, Any, Any, Any]:
    """``(ModelArguments, DataArguments, LossArguments, PromptLearningArguments, RelationTrainingArguments)``
    from a flat dict of options.

    Unknown keys are an error naming them.
    """
    from transformers import HfArgumentParser

    aliases = option_aliases()
    values = {aliases.get(k, k): v for k, v in values.items()}
    numeric = _numeric_fields()
    known = {f.name for dtype in argument_dataclasses() for f in dataclasses.fields(dtype) if f.init}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown training option(s): {', '.join(unknown)} (see relemb-train --help)")
    values = {name: _coerce(name, value, numeric) for name, value in values.items()}
    parser = HfArgumentParser(argument_dataclasses())
    return parser.parse_dict(values)


def _numeric_fields() -> dict[str, type]:
    """Option name -> ``int`` or ``float`` for the numeric options (``Optional`` ones included)."""
    numeric: dict[str, type] = {}
    for dtype in argument_dataclasses():
        hints = get_type_hints(dtype)
        for f in dataclasses.fields(dtype):
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


def format_results(results: dict[str, Any]) -> str:
    """A markdown table of the validation and test accuracies in ``results`` (percent)."""
    rows = []
    for key, value in results.get("validation", {}).items():
        if key.endswith("_accuracy") and key != "validation_mean_accuracy":
            rows.append((key[: -len("_accuracy")].replace("_validation", ""), "validation", value))
    test = results.get("test", {})
    for name, value in test.items():
        rows.append((name, "test", value))
    if len(test) > 1:
        rows.append(("mean", "test", sum(test.values()) / len(test)))
    lines = ["| dataset | split | accuracy (%) |", "|---|---|---|"]
    lines += [f"| {name} | {split} | {100 * value:.1f} |" for name, split, value in rows]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Parse and check every option, train, print the results table; returns 0."""
    logging.getLogger("relemb").setLevel(logging.INFO)
    given = {name: getattr(args, name) for name in getattr(args, _DESTS_KEY, []) if hasattr(args, name)}
    values: dict[str, Any] = {}
    if args.quickstart:
        values.update(quickstart_defaults(data_dir=given.get("data_dir")))
    if args.config:
        values.update(read_config_file(args.config))
    values.update(given)
    model_args, data_args, loss_args, prompt_args, training_args = parse_training_arguments(values)

    from relemb.train import train

    result = train(model_args, data_args, loss_args, training_args, prompt_args=prompt_args)
    if result.results.get("validation") or result.results.get("test"):
        print(f"\nanalogy accuracy of {training_args.output_dir} ({model_args.base_model}, fine-tuned):")
        print(format_results(result.results))
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"\nsaved: {training_args.output_dir} (model, results.json, model card)")
        sys.stdout.flush()
    return 0

"""Options shared by the commands (model, data, output, progress, batch size, pairs) and the helpers that read
them. Light: the model is loaded by :func:`load_model` only when a command runs.

>>> parser = argparse.ArgumentParser()
>>> add_pair_option(parser, "--pair")
>>> pairs_from(parser.parse_args(["--pair", "camera:photographer", "--pair", "Tokyo:Japan"]).pair)
[('camera', 'photographer'), ('Tokyo', 'Japan')]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

from relemb.choices import INFERENCE_BACKENDS, POOLING_MODES, WORD_LOSS_ACTIONS
from relemb.pairs import PAIR_METAVAR, Pair, check_pair, parse_pair

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "add_bootstrap_option",
    "add_data_dir_option",
    "add_deprecated_option",
    "add_model_options",
    "add_output_option",
    "add_pair_option",
    "add_progress_option",
    "check_folder",
    "check_output",
    "file_stem",
    "interval_text",
    "percent",
    "load_model",
    "model_info",
    "non_negative_int",
    "pairs_from",
    "positive_int",
    "progress",
    "run_arguments",
    "save_results",
]

#: Pairs per forward pass, for every command.
DEFAULT_BATCH_SIZE = 64


# ------------------------------------------------------------------------------------------- types
def _int_at_least(text: str, minimum: int, what: str) -> int:
    """``text`` as an integer >= ``minimum``; otherwise an ``ArgumentTypeError`` saying it is not ``what``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1.

    >>> positive_int("3")
    3
    """
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0 (0 usually means "no limit")."""
    return _int_at_least(text, 0, "a non-negative integer")


# ----------------------------------------------------------------------------------------- options
def add_model_options(
    group: argparse._ActionsContainer, *, model_help: str | None = None, embedding_options: bool = True
) -> None:
    """``--model``, ``--template``, ``--max-length``, ``--batch-size``, ``--device`` and, with
    ``embedding_options``, ``--pooling`` and ``--backend`` (read by :func:`load_model`)."""
    group.add_argument(
        "--model",
        required=True,
        help=model_help or "a relemb model folder, a Hub id, or 'minilm' (the embedded all-MiniLM-L6-v2)",
    )
    group.add_argument(
        "--template", default=None, help="template id a-e or a template string (default: the model's, else d)"
    )
    if embedding_options:
        group.add_argument("--pooling", default=None, choices=POOLING_MODES, help="default: the model's")
    group.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="truncation length in tokens, from what the template needs up to the model's maximum, checked when "
        "the model loads (default: the model's, else 64)",
    )
    group.add_argument(
        "--batch-size",
        type=positive_int,
        default=DEFAULT_BATCH_SIZE,
        help=f"inputs per forward pass (default {DEFAULT_BATCH_SIZE})",
    )
    group.add_argument(
        "--device",
        default=None,
        help="cpu, cuda, cuda:1, mps ...; one this machine lacks is an error (default: CUDA when available)",
    )
    if embedding_options:
        group.add_argument(
            "--on-word-loss",
            default="error",
            choices=WORD_LOSS_ACTIONS,
            help="a pair whose word would not reach the model as written (cut off by --max-length, only unknown "
            "tokens, a special token): error (default) or warn and embed it anyway",
        )
        group.add_argument(
            "--backend",
            default="torch",
            choices=INFERENCE_BACKENDS,
            help="inference backend (default torch; openvino needs the relemb[openvino] extra)",
        )


def add_data_dir_option(group: argparse._ActionsContainer) -> None:
    """``--data-dir``: a local copy of the relbert datasets."""
    group.add_argument(
        "--data-dir", default=None, help="local copy of the relbert datasets (default: $RELEMB_DATA_DIR, else the Hub)"
    )


def add_output_option(group: argparse._ActionsContainer, help_text: str, *names: str) -> None:
    """``--output`` (or ``names``): where the command writes its results."""
    group.add_argument(*(names or ("--output",)), default=None, help=help_text)


def add_progress_option(group: argparse._ActionsContainer) -> None:
    """``--no-progress``: hide progress bars."""
    group.add_argument("--no-progress", action="store_true", help="hide progress bars")


def file_stem(name: str) -> str:
    """A file name for results of dataset ``name`` (a name or a path).

    >>> file_stem("K&H+N"), file_stem("data/my pairs.jsonl")
    ('K_H_N', 'my_pairs')
    """
    base = Path(name).stem if ("/" in name or os.sep in name or name.endswith(".jsonl")) else name
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in base) or "dataset"


def check_folder(path: str | None, option: str) -> Path | None:
    """Check before any work that ``path`` is a folder or can be created as one (figures go there)."""
    if path is None:
        return None
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{option} {path!r} exists and is not a folder")
    check_output(str(folder / "check.png"), ".png", option)  # its parents can hold it and are writable
    return folder


def percent(value: float | None) -> str:
    """A share in [0, 1] as a percentage with one decimal (empty for ``None``).

    >>> percent(0.2812), percent(None)
    ('28.1', '')
    """
    return "" if value is None else f"{100 * value:.1f}"


def interval_text(interval: Sequence[float] | None) -> str:
    """A 95% interval in percent, ``low-high``.

    >>> interval_text([0.2531, 0.3102])
    '25.3-31.0'
    """
    if not interval or len(interval) != 2 or any(v is None for v in interval):
        return ""
    return f"{percent(interval[0])}-{percent(interval[1])}"


def add_bootstrap_option(group: argparse._ActionsContainer) -> None:
    """``--bootstrap-resamples``: the resamples of every 95% interval."""
    from relemb.evaluation.statistics import N_RESAMPLES

    group.add_argument(
        "--bootstrap-resamples",
        type=positive_int,
        default=N_RESAMPLES,
        help=f"bootstrap resamples of the 95%% intervals (default {N_RESAMPLES}, fixed seed)",
    )


def progress(args: argparse.Namespace) -> bool:
    """Whether to show progress bars."""
    return not getattr(args, "no_progress", False)


class _PairAction(argparse.Action):
    """Collects ``HEAD:TAIL`` values; the old spelling ``--pair HEAD TAIL`` (two words) still works, with a
    deprecation message. ``deprecated_names``: old option names that still work, with a message."""

    def __init__(self, *args: Any, deprecated_names: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deprecated_names = tuple(deprecated_names)

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: str | None = None):
        items = list(getattr(namespace, self.dest, None) or [])
        values = list(values)
        if len(values) == 2 and not any(":" in value for value in values):
            _deprecated(f"{option_string} {values[0]} {values[1]}", f"{self.option_strings[0]} {values[0]}:{values[1]}")
            items.append((values[0], values[1]))
        else:
            if option_string is not None and option_string in self.deprecated_names:
                _deprecated(option_string, self.option_strings[0])
            items.extend(values)
        setattr(namespace, self.dest, items)


class _DeprecatedOption(argparse.Action):
    """An old option name: stores into the new option's ``dest``, with a deprecation message naming the
    ``replacement``."""

    def __init__(self, *args: Any, replacement: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.replacement = replacement

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: str | None = None):
        _deprecated(str(option_string), self.replacement)
        setattr(namespace, self.dest, values)


def add_deprecated_option(group: argparse._ActionsContainer, old: str, new: str, dest: str, **kwargs: Any) -> None:
    """Keep ``old`` working for one release as another spelling of ``new`` (hidden from ``--help``)."""
    group.add_argument(old, dest=dest, action=_DeprecatedOption, replacement=new, help=argparse.SUPPRESS, **kwargs)


def _deprecated(old: str, new: str) -> None:
    message = f"'{old}' is deprecated and will be removed in the next release; write '{new}'"
    warnings.warn(message, DeprecationWarning, stacklevel=3)
    print(f"warning: {message}", file=sys.stderr)


def add_pair_option(
    group: argparse._ActionsContainer,
    name: str = "--pair",
    *aliases: str,
    deprecated: Sequence[str] = (),
    help_text: str = "a word pair (repeatable)",
    required: bool = False,
) -> None:
    """A repeatable pair option whose values are written ``HEAD:TAIL`` (the one pair syntax of every command);
    ``deprecated`` names still work, with a message."""
    group.add_argument(
        name,
        *aliases,
        *deprecated,
        dest=name.lstrip("-").replace("-", "_"),
        nargs="+",
        action=_PairAction,
        deprecated_names=tuple(deprecated),
        metavar=PAIR_METAVAR,
        required=required,
        help=f"{help_text}, written {PAIR_METAVAR}",
    )


def pairs_from(values: Sequence[str | tuple[str, str]] | None) -> list[Pair]:
    """The pairs of a pair option (``HEAD:TAIL`` each, or a pair given in the old two-word spelling);
    ``ValueError`` names a malformed one."""
    return [check_pair(value) if isinstance(value, tuple) else parse_pair(value) for value in values or []]


@overload
def check_output(path: None, suffixes: str | Sequence[str], option: str = ...) -> None: ...
@overload
def check_output(path: str, suffixes: str | Sequence[str], option: str = ...) -> Path: ...
def check_output(path: str | None, suffixes: str | Sequence[str], option: str = "--output") -> Path | None:
    """Check before any work that ``path`` can be written: not a folder, the right suffix, a writable folder
    (created later if missing). Errors name the option and the user's path; ``None`` passes through."""
    if path is None:
        return None
    from relemb._io import output_file

    try:
        return output_file(path, suffixes)
    except (OSError, ValueError) as error:
        raise type(error)(f"{option}: {error}") from None


def load_model(args: argparse.Namespace):
    """The :class:`~relemb.RelBERT` that the options of :func:`add_model_options` describe."""
    from relemb.model import RelBERT

    model = RelBERT.from_pretrained(
        args.model,
        template=args.template,
        pooling=args.pooling,
        device=args.device,
        max_length=args.max_length,
        backend=args.backend,
    )
    model.transformer.on_word_loss = getattr(args, "on_word_loss", "error")
    return model


def model_info(model: Any, args: argparse.Namespace) -> dict[str, Any]:
    """What a results file says about the model."""
    return {
        "model": args.model,
        "base_model": model.config.base_model,
        "template": model.template,
        "pooling": model.pooling,
        "max_length": model.max_length,
        "embedding_dim": model.embedding_dim,
        "device": str(model.device),
    }


def run_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The options of a run, as stored in its results file (internal entries left out)."""
    skip = {"command", "eval_command", "embed_action", "data_command", "extra_arguments", "debug", "verbose"}
    return {
        key: (os.fspath(value) if isinstance(value, os.PathLike) else value)
        for key, value in vars(args).items()
        if not key.startswith("_") and key not in skip
    }


def save_results(
    output: Path | None,
    task: str,
    args: argparse.Namespace,
    scores: dict[str, Any],
    *,
    model: dict[str, Any] | None = None,
    datasets: Sequence[Any] = (),
    seconds: float | None = None,
    started: float | None = None,
) -> None:
    """Write a :class:`~relemb.results.RunResult` of the run to ``output`` (nothing when it is ``None``);
    ``started`` (a ``time.perf_counter()`` value) gives ``seconds`` as the time since."""
    if output is None:
        return
    from relemb.results import RunResult

    if started is not None:
        seconds = time.perf_counter() - started
    result = RunResult.create(
        task, scores, model=model, datasets=list(datasets), arguments=run_arguments(args), seconds=seconds
    )
    result.save(output)
    print(f"wrote {output}", file=sys.stderr)

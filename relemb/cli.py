"""The command line: ``relemb <command>``, with ``relemb-train`` and ``relemb-eval`` as shortcuts.

Each command lives in the module of its concept, which provides ``add_arguments(parser)`` and
``run(args) -> int``; this module only wires them. Errors a user can fix are printed as one
``error: ...`` line with exit code 2, never as a traceback.

>>> main(["--version"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from relemb import __version__

#: command -> (module, help); the module provides add_arguments(parser) and run(args).
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("relemb.train_cli", "fine-tune a relation model (same as relemb-train)"),
    "eval": ("relemb.evaluation.cli", "evaluate a relation model (same as relemb-eval)"),
    "embed": (
        "relemb.embed_cli",
        "embed word pairs into a .npy matrix, build a pair index, find the most similar pairs",
    ),
    "data": ("relemb.data.cli", "list datasets, build the SemEval-2012 training set"),
}

#: Exceptions a user can fix from the message alone: printed without a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError, KeyError, ImportError)


def add_model_arguments(group: argparse._ActionsContainer) -> None:
    """The model options shared by ``relemb embed`` and ``relemb-eval``: ``--model``, ``--template``,
    ``--pooling``, ``--max-length``, ``--batch-size``, ``--device``, ``--backend`` (read by :func:`load_model`)."""
    from relemb.choices import POOLING_MODES
    from relemb.model import BACKENDS

    group.add_argument(
        "--model", required=True, help="a relemb model folder, a Hub id, or 'minilm' (embedded all-MiniLM-L6-v2)"
    )
    group.add_argument(
        "--template", default=None, help="template id a-e or a template string (default: the model's, else d)"
    )
    group.add_argument("--pooling", default=None, choices=POOLING_MODES, help="default: the model's")
    group.add_argument(
        "--max-length", type=int, default=None, help="truncation length in tokens (default: the model's, else 64)"
    )
    group.add_argument("--batch-size", type=int, default=64, help="pairs per forward pass (default 64)")
    group.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps ... (default: CUDA when available)")
    group.add_argument(
        "--backend",
        default="torch",
        choices=tuple(BACKENDS),
        help="inference backend (default torch; openvino needs the relemb[openvino] extra)",
    )


def load_model(args: argparse.Namespace):
    """The :class:`~relemb.RelBERT` that the options of :func:`add_model_arguments` describe."""
    from relemb.model import RelBERT

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be a positive integer, got {args.batch_size}")
    return RelBERT.from_pretrained(
        args.model,
        template=args.template,
        pooling=args.pooling,
        device=args.device,
        max_length=args.max_length,
        backend=args.backend,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relemb",
        description="relemb: relation embeddings (RelBERT) on sentence-transformers.",
    )
    parser.add_argument("--version", action="version", version=f"relemb {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def _execute(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return int(run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``relemb data list | head``): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except USER_ERRORS as error:
        if getattr(args, "debug", False):
            raise
        message = str(error).strip("'\"") if isinstance(error, KeyError) else str(error)
        print(f"error: {message}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``relemb`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0 if args.command is None else 2
    return _execute(args._run, args)


def _shortcut(command: str, argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return main([command, *argv])


def train_main(argv: Sequence[str] | None = None) -> int:
    """``relemb-train``: the same as ``relemb train``."""
    return _shortcut("train", argv)


def eval_main(argv: Sequence[str] | None = None) -> int:
    """``relemb-eval``: the same as ``relemb eval``."""
    return _shortcut("eval", argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

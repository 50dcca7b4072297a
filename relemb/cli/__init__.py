"""The command line: ``relemb <command>``, with ``relemb-train`` and ``relemb-eval`` as shortcuts.

One module per command (:mod:`relemb.cli.train`, :mod:`~relemb.cli.eval`, :mod:`~relemb.cli.embed`,
:mod:`~relemb.cli.data`; the attention studies are ``relemb eval attention-*``, in
:mod:`~relemb.cli.attention`), each with ``add_arguments(parser)`` and ``run(args) -> int``; the options
they share are in :mod:`relemb.cli.options`. Building the parser imports no torch, transformers or
sentence-transformers, so ``--help`` answers at once; a command imports what it needs when it runs.

One error path: a problem the user can fix (a bad value, a missing file or model, no network, a missing
extra) prints one ``error: ...`` line and exits with 2; ``--debug`` shows the traceback instead. Anything
else is a bug and shows its traceback. Ctrl-C exits with 130 and SIGTERM (``timeout``, schedulers, container
stops) with 143; both unwind the same way, so no half-written or hidden temporary file is left behind.

>>> main(["--version"])  # doctest: +SKIP
relemb 0.1.0
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from relemb import __version__

__all__ = ["COMMANDS", "USER_ERRORS", "build_parser", "eval_main", "main", "train_main"]

#: command -> (module, help); the module provides add_arguments(parser) and run(args).
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("relemb.cli.train", "fine-tune a relation model (same as relemb-train)"),
    "eval": ("relemb.cli.eval", "evaluate a relation model (same as relemb-eval)"),
    "embed": (
        "relemb.cli.embed",
        "embed word pairs into a .npy matrix, build a pair index, find the most similar pairs",
    ),
    "data": ("relemb.cli.data", "list datasets, build the SemEval-2012 training set"),
}

#: Exceptions a user can fix from the message alone: one ``error:`` line, exit code 2 (``--debug``: traceback).
#: ``ValueError`` covers bad values and malformed files, ``OSError`` missing files, models and networks,
#: ``ImportError`` a missing optional extra. Any other exception is a bug and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, ImportError)


def _add_global_options(parser: argparse.ArgumentParser, *, root: bool = False) -> None:
    """``-v``/``--verbose`` and ``--debug`` on ``parser`` and every parser below it, so they work before or
    after any command name (below the root their default is suppressed: a subcommand never resets them)."""
    default = False if root else argparse.SUPPRESS
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="log progress at INFO level")
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show the full traceback of any error (for bug reports)"
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _add_global_options(child)


def build_parser() -> argparse.ArgumentParser:
    """The ``relemb`` parser with every command (light: no model library is imported)."""
    parser = argparse.ArgumentParser(
        prog="relemb", description="relemb: relation embeddings (RelBERT) on sentence-transformers."
    )
    parser.add_argument("--version", action="version", version=f"relemb {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run, _accepts_extra_arguments=getattr(module, "ACCEPTS_EXTRA_ARGUMENTS", False))
    _add_global_options(parser, root=True)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every atomic writer cleans up as it unwinds."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def _execute(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(run(args) or 0)
    except KeyboardInterrupt as interrupt:
        terminated = isinstance(interrupt, Terminated)
        print("terminated" if terminated else "interrupted", file=sys.stderr)
        return 143 if terminated else 130
    except BrokenPipeError:
        # the reader went away (``relemb data list | head``): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except USER_ERRORS as error:
        if args.debug:
            raise
        message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        print(f"error: {message or type(error).__name__}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``relemb`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "_accepts_extra_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra_arguments = extra
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

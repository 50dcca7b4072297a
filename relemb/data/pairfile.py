"""Pair files: lists of ``(head, tail)`` word pairs in TSV, CSV or JSON lines, for embedding and search.

Formats (from the suffix, or given): ``.tsv``/``.txt`` (tab-separated ``head<TAB>tail``), ``.csv`` (two
columns) and ``.jsonl``/``.json`` (``["head", "tail"]`` or ``{"head": ..., "tail": ...}`` per line). Blank
lines are skipped, and so is a first row that reads ``head, tail``; a byte-order mark is ignored. ``-`` (or
``/dev/stdin``) reads standard input. Any other malformed line is a
:class:`~relemb.data.errors.DataFormatError` naming the file and line.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.tsv"
>>> _ = path.write_text("head\\ttail\\nbaker\\tbread\\n\\nice cream\\tcold\\n", encoding="utf-8")
>>> read_pairs(path)
[('baker', 'bread'), ('ice cream', 'cold')]
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from relemb.pairs import Pair, check_word

from .errors import DataFormatError
from .jsonl import utf8_lines

__all__ = ["PAIR_FILE_FORMATS", "STDIN_NAMES", "detect_format", "read_pairs"]

#: ``format`` values of :func:`read_pairs` (``auto``: from the file's suffix).
PAIR_FILE_FORMATS = ("auto", "tsv", "csv", "jsonl")
#: Paths that mean standard input.
STDIN_NAMES = ("-", "/dev/stdin")
_SUFFIX_FORMATS = {".tsv": "tsv", ".txt": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}


def detect_format(path: str | os.PathLike, fmt: str = "auto") -> str:
    """``fmt`` itself, or the format of ``path`` from its suffix when ``fmt`` is ``"auto"`` (standard input
    without ``fmt`` is read as TSV).

    >>> detect_format("pairs.csv"), detect_format("-"), detect_format("x.dat", "jsonl")
    ('csv', 'tsv', 'jsonl')
    """
    if fmt not in PAIR_FILE_FORMATS:
        raise ValueError(f"unknown pair file format {fmt!r}; choose one of {', '.join(PAIR_FILE_FORMATS)}")
    if fmt != "auto":
        return fmt
    if os.fspath(path) in STDIN_NAMES:
        return "tsv"
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_FORMATS:
        raise ValueError(
            f"cannot tell the format of {os.fspath(path)!r} from its suffix; use .tsv, .txt, .csv or .jsonl, or pass --format"
        )
    return _SUFFIX_FORMATS[suffix]


def _lines(path: str | os.PathLike, shown: str) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every line, decoded as UTF-8 (a BOM on line 1 dropped)."""
    if os.fspath(path) in STDIN_NAMES:
        handle = sys.stdin.buffer
        close = False
    else:
        if not Path(path).is_file():
            raise FileNotFoundError(f"pair file {shown!r} does not exist")
        handle = open(path, "rb")  # noqa: SIM115 - closed below
        close = True
    try:
        yield from utf8_lines(handle, shown)
    finally:
        if close:
            handle.close()


def _pair(row: list[Any], shown: str, number: int) -> Pair:
    if len(row) != 2:
        raise DataFormatError(shown, number, f"expected 2 columns (head, tail), got {len(row)}: {row!r}")
    head, tail = (value.strip() for value in row)
    try:
        return check_word(head, "head word"), check_word(tail, "tail word")
    except ValueError as error:
        raise DataFormatError(shown, number, str(error)) from None


def read_pairs(path: str | os.PathLike, fmt: str = "auto") -> list[Pair]:
    """The ``(head, tail)`` pairs of a pair file, in file order (duplicates kept).

    Raises ``FileNotFoundError`` for a missing file and :class:`~relemb.data.errors.DataFormatError` (a
    ``ValueError``) naming the file and line for a malformed one, or for a file without pairs.
    """
    fmt = detect_format(path, fmt)
    shown = "<stdin>" if os.fspath(path) in STDIN_NAMES else os.fspath(path)
    pairs: list[Pair] = []
    lines = _lines(path, shown)
    if fmt == "jsonl":
        for number, line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataFormatError(shown, number, f"not valid JSON ({error.msg})") from None
            if isinstance(record, dict):
                if "head" not in record or "tail" not in record:
                    raise DataFormatError(shown, number, "a JSON object needs 'head' and 'tail' keys")
                record = [record["head"], record["tail"]]
            if not isinstance(record, list) or not all(isinstance(word, str) for word in record):
                raise DataFormatError(shown, number, f"expected [head, tail] strings, got {record!r}")
            pairs.append(_pair(record, shown, number))
    else:
        numbers: list[int] = []

        def texts() -> Iterator[str]:
            for number, line in lines:
                numbers.append(number)
                yield line

        reader = csv.reader(texts(), delimiter="\t" if fmt == "tsv" else ",")
        for row in reader:
            number = numbers[-1] if numbers else 0
            if not row or not any(value.strip() for value in row):
                continue
            if not pairs and [value.strip().lower() for value in row] == ["head", "tail"]:
                continue
            pairs.append(_pair(row, shown, number))
    if not pairs:
        raise DataFormatError(shown, None, "the pair file holds no pairs")
    return pairs

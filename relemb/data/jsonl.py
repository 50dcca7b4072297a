"""Strict JSON-lines reading and writing (atomic, through :mod:`relemb._io`).

Every non-blank line must hold one valid record; a bad one raises :class:`DataFormatError` with the
file and 1-based line number. Nothing is dropped silently: blank lines are the only lines skipped.

>>> import tempfile, pathlib
>>> from relemb.data.records import LexicalPair
>>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.jsonl"
>>> write_jsonl(path, [{"head": "dog", "tail": "animal", "relation": "hyper"}])
>>> read_jsonl(path, LexicalPair.from_dict)
[LexicalPair(head='dog', tail='animal', relation='hyper')]
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from relemb._io import write_text

from .errors import DataFormatError

__all__ = ["dumps_jsonl", "read_jsonl", "utf8_lines", "write_jsonl"]

T = TypeVar("T")


def utf8_lines(handle: Iterable[bytes], shown: str) -> Iterator[tuple[int, str]]:
    """``(1-based line number, text)`` of every line of the binary ``handle``, decoded as UTF-8 (a byte-order
    mark on line 1 dropped); a line that is not UTF-8 raises :class:`DataFormatError` naming ``shown`` and it.

    >>> list(utf8_lines([b"\\xef\\xbb\\xbfhead\\n", b"tail\\n"], "pairs.tsv"))
    [(1, 'head\\n'), (2, 'tail\\n')]
    """
    for lineno, raw in enumerate(handle, start=1):
        try:
            yield lineno, raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise DataFormatError(shown, lineno, f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None


def read_jsonl(
    path: str | os.PathLike[str],
    parse: Callable[[Mapping[str, Any]], T],
    *,
    display_path: str | None = None,
    allow_empty: bool = False,
) -> list[T]:
    """Parse every non-blank line of ``path`` with ``parse`` (a ``from_dict``); errors name file and line.

    ``display_path`` replaces the path in error messages (e.g. a Hub address for a cached download).
    """
    shown = display_path or os.fspath(path)
    records: list[T] = []
    with open(path, "rb") as handle:
        for lineno, text in utf8_lines(handle, shown):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataFormatError(shown, lineno, f"malformed JSON: {exc.msg} (column {exc.colno})") from None
            if not isinstance(obj, dict):
                raise DataFormatError(shown, lineno, f"expected a JSON object, got {type(obj).__name__}")
            try:
                records.append(parse(obj))
            except (ValueError, TypeError) as exc:
                raise DataFormatError(shown, lineno, str(exc)) from None
    if not records and not allow_empty:
        raise DataFormatError(shown, None, "the file holds no records")
    return records


def dumps_jsonl(rows: Iterable[Mapping[str, Any] | Any]) -> str:
    """One ``json.dumps`` line per row (objects with ``to_dict`` are converted), newline-terminated.

    This is the exact byte layout of the Hub files (default separators, ASCII escapes).
    """
    lines = [json.dumps(row.to_dict() if hasattr(row, "to_dict") else row) for row in rows]
    return "".join(line + "\n" for line in lines)


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any] | Any]) -> None:
    """Write ``rows`` as JSON lines to ``path`` atomically."""
    write_text(path, dumps_jsonl(rows))

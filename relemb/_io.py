"""Writing results to disk: the one atomic writer of relemb, JSON conversion and Markdown tables.

Every file relemb writes (models, results, figures, ``.npy`` matrices, pair indexes, dataset files) goes
through :func:`atomic_output` or :func:`atomic_directory`: the content is written under a hidden temporary
name next to the target and renamed into place only when complete, so a failure (or Ctrl-C) leaves the
target as it was and nothing half-written. Files get the permissions the user's umask gives
(``0666 & ~umask``), whatever the library that wrote them chose. A light module (no torch import).

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out" / "results.json"
>>> write_json(target, {"accuracy": np.float32(0.5), "shape": (2, 3)})
>>> target.read_text()
'{\\n  "accuracy": 0.5,\\n  "shape": [\\n    2,\\n    3\\n  ]\\n}\\n'
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "atomic_directory",
    "atomic_output",
    "file_mode",
    "markdown_table",
    "output_file",
    "save_figure",
    "to_jsonable",
    "write_files",
    "write_json",
    "write_npy",
    "write_text",
]


def file_mode(directory: bool = False) -> int:
    """The permissions a new file (or folder) gets under the current umask: ``0666 & ~umask`` (``0777``)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder (created if needed); on success it replaces ``path`` with
    the umask's permissions, on error (``BaseException`` included) it is removed and ``path`` is untouched.

    ``suffix`` ends the temporary name (``.tmp.npy`` for writers that insist on a suffix).
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, file_mode())
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success its entries are moved into ``path`` (created if
    needed; entries of the same name are replaced, others kept) with the umask's permissions.

    On error the temporary folder is removed and ``path`` is left as it was.
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield staging
        _apply_umask(staging)
        target.mkdir(parents=True, exist_ok=True)
        for item in staging.iterdir():
            destination = target / item.name
            if destination.is_dir() and not destination.is_symlink():
                shutil.rmtree(destination)
            elif destination.exists() or destination.is_symlink():
                destination.unlink()
            os.replace(item, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _apply_umask(folder: Path) -> None:
    """Give every file and folder below ``folder`` the umask's permissions (libraries write some 0600)."""
    files, folders = file_mode(), file_mode(directory=True)
    for root, dirs, names in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), folders)
        for name in names:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), files)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically; returns the path."""
    target = Path(path).expanduser()
    with atomic_output(target) as temporary:
        with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    return target


_PathT = TypeVar("_PathT", bound="str | os.PathLike")


def write_files(files: Mapping[_PathT, str]) -> None:
    """Write several text files so that none is half-written: all are staged first and renamed into place
    only once every one was written (a failure leaves all targets as they were)."""
    with contextlib.ExitStack() as stack:
        staged = []
        for target, content in files.items():
            temporary = stack.enter_context(atomic_output(target))
            with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(content)
            staged.append(temporary)
        # leaving the stack renames every staged file (in reverse order); an error before here renames none


def write_json(path: str | os.PathLike, data: Any, *, indent: int | None = 2) -> None:
    """Write ``data`` (through :func:`to_jsonable`) as JSON to ``path`` atomically, ending in a newline."""
    write_text(path, json.dumps(to_jsonable(data), indent=indent, ensure_ascii=False) + "\n")


def write_npy(path: str | os.PathLike, shape: tuple[int, ...], fill: Callable[[np.ndarray], None]) -> np.ndarray:
    """Create the float32 ``.npy`` file ``path`` of ``shape``, filled by ``fill(memmap)``, atomically.

    The matrix is written to a memory-mapped temporary file in the same folder, so memory stays bounded
    whatever its size; the file appears only once ``fill`` has returned. Returns a read-only memory map.
    """
    from numpy.lib.format import open_memmap

    target = output_file(path, ".npy")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"the folder of {os.fspath(path)!r} does not exist")
    with atomic_output(target, suffix=".tmp.npy") as temporary:
        matrix = open_memmap(temporary, mode="w+", dtype=np.float32, shape=shape)
        fill(matrix)
        matrix.flush()
        del matrix
    return np.load(target, mmap_mode="r")


def output_file(path: str | os.PathLike, suffix: str | Sequence[str] | None = None) -> Path:
    """``path`` as a ``Path``, checked before any work is done: not an existing folder, ending in ``suffix``
    (one or several) when given, and inside a folder that exists or can be created and is writable.

    >>> output_file("figures/plot.pdf", ".png")
    Traceback (most recent call last):
    ...
    ValueError: 'figures/plot.pdf' should end in .png
    """
    shown = os.fspath(path)
    target = Path(shown).expanduser()
    if target.is_dir():
        raise IsADirectoryError(f"{shown!r} is a folder; give a file path")
    if suffix is not None:
        allowed = (suffix,) if isinstance(suffix, str) else tuple(suffix)
        if target.suffix.lower() not in allowed:
            raise ValueError(f"{shown!r} should end in {' or '.join(allowed)}")
    folder = target.absolute().parent
    while not folder.exists() and folder != folder.parent:  # the nearest existing ancestor decides
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(f"{shown!r} cannot be written: {str(folder)!r} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{shown!r} cannot be written: no write permission in {str(folder)!r}")
    return target


def save_figure(figure: Any, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Save a matplotlib ``Figure`` as PNG at ``path`` atomically (parents created; nothing half-written)."""
    target = output_file(path, ".png")
    with atomic_output(target) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi, bbox_inches="tight")
    return target


def to_jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays, tuples, paths and dataclasses turned into JSON types; non-finite
    floats become ``None`` (JSON has no NaN); mapping keys become strings.

    >>> to_jsonable({1: (np.int64(2), float("nan")), "a": np.arange(2)})
    {'1': [2, None], 'a': [0, 1]}
    """
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(value.to_dict() if hasattr(value, "to_dict") else dataclasses.asdict(value))
    return value


def markdown_table(headers: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table with padded columns (pastes into the docs as it is).

    >>> print(markdown_table(["a", "bb"], [[1, 2]]))
    | a | bb |
    |---|----|
    | 1 | 2  |
    """
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells[1:])])

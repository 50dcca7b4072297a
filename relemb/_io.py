"""Result output shared by the commands and benchmarks: files and figures written atomically (a temporary
file next to the target, renamed into place when complete) and Markdown tables. A light module (no
sentence-transformers import).

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out" / "results.json"
>>> with atomic_output(target) as temporary:
...     _ = temporary.write_text("{}")
>>> target.read_text()
'{}'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["atomic_output", "markdown_table", "output_file", "save_figure"]


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder (created if needed); on success it replaces ``path``
    with the usual permissions (``0666 & ~umask``), on error it is removed and ``path`` is left untouched."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, _default_mode())
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def output_file(path: str | os.PathLike, suffix: str | None = None) -> Path:
    """``path`` as a ``Path``, refused when it is an existing folder or (with ``suffix``) has another suffix.

    >>> output_file("figures/plot.pdf", ".png")
    Traceback (most recent call last):
    ...
    ValueError: 'figures/plot.pdf' should end in .png
    """
    target = Path(os.fspath(path)).expanduser()
    if target.is_dir():
        raise IsADirectoryError(f"{os.fspath(path)!r} is a folder; give a file path")
    if suffix is not None and target.suffix.lower() != suffix:
        raise ValueError(f"{os.fspath(path)!r} should end in {suffix}")
    return target


def save_figure(figure: Any, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Save a matplotlib ``Figure`` as PNG at ``path`` atomically (parents created; nothing half-written)."""
    target = output_file(path, ".png")
    with atomic_output(target) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi, bbox_inches="tight")
    return target


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

"""The two errors of the data layer: a dataset that cannot be found, a file that is malformed.

>>> err = DataFormatError("q.jsonl", 3, "answer 7 is out of range for 4 choices")
>>> str(err)
'q.jsonl, line 3: answer 7 is out of range for 4 choices'
>>> isinstance(err, ValueError)
True
"""

from __future__ import annotations

import os
from collections.abc import Sequence

__all__ = ["DataFormatError", "DatasetNotFoundError", "UnknownDatasetError"]

_FIX = (
    "Fix: pass a local copy with data_dir=DIR / --data-dir DIR, or set RELEMB_DATA_DIR=DIR, where DIR has the "
    "Hub's layout (DIR/<dataset repo>/<file>, e.g. DIR/analogy_questions/dataset/u2/test.jsonl); or go online "
    "(network access, HF_HUB_OFFLINE unset) so the file is downloaded from the Hugging Face Hub."
)


class DatasetNotFoundError(FileNotFoundError):
    """No source had the dataset: names the dataset, every place looked, and the fix.

    ``places`` holds one line per source tried, e.g.
    ``"/data/analogy_questions/dataset/u2/test.jsonl (RELEMB_DATA_DIR): no such file"``.

    >>> err = DatasetNotFoundError("u2 (split test)", ["$RELEMB_DATA_DIR: not set"])
    >>> "u2 (split test)" in str(err) and "RELEMB_DATA_DIR" in str(err)
    True
    """

    def __init__(
        self,
        dataset: str,
        places: Sequence[str] = (),
        detail: str | None = None,
        known: Sequence[str] | None = None,
        fix: str | None = None,
    ) -> None:
        self.dataset = dataset
        self.places = list(places)
        self.detail = detail
        self.known = list(known) if known is not None else None
        self.fix = fix
        lines = [f"dataset {dataset!s} was not found" + (f": {detail}" if detail else ".")]
        if self.places:
            lines.append("Looked in:")
            lines.extend(f"  - {place}" for place in self.places)
        if self.known is not None:
            lines.append("Known names: " + ", ".join(self.known))
        lines.append(fix if fix is not None else _FIX)
        super().__init__("\n".join(lines))

    def __reduce__(self):  # keep it picklable (multiprocessing, DDP workers)
        return (self.__class__, (self.dataset, self.places, self.detail, self.known, self.fix))


class UnknownDatasetError(DatasetNotFoundError, ValueError):
    """A name that is neither a known dataset nor an existing file; the message lists the known names.

    Both a :class:`DatasetNotFoundError` (so a ``FileNotFoundError``) and a ``ValueError``.
    """


class DataFormatError(ValueError):
    """A malformed record: names the file, the 1-based line number and the problem.

    ``line`` is ``None`` when the problem concerns the whole file (e.g. it holds no records).
    """

    def __init__(self, path: str | os.PathLike[str], line: int | None, problem: str) -> None:
        self.path = os.fspath(path)
        self.line = line
        self.problem = problem
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {problem}")

    def __reduce__(self):
        return (self.__class__, (self.path, self.line, self.problem))

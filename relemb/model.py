"""``RelBERT``: the relation model facade around a sentence-transformers encoder.

>>> from relemb import RelBERT                                # doctest: +SKIP
>>> model = RelBERT.from_pretrained("minilm")                # the embedded all-MiniLM-L6-v2
>>> model.get_embedding(("Tokyo", "Japan")).shape
(384,)
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from sentence_transformers import SentenceTransformer
from tqdm.auto import tqdm

from relemb import _compat
from relemb._compat import renamed_keyword
from relemb._io import atomic_directory, write_npy, write_text
from relemb.checkpoint import (
    RELEMB_CONFIG_NAME,
    IncompleteCheckpointError,
    RelBERTConfig,
    base_model_name,
    check_backbone_is_safe,
    check_modules_are_safe,
    inspect_checkpoint,
    is_relemb_modules,
    load_relemb_config,
    resolve_model_name,
)
from relemb.choices import EMBEDDING_DTYPES, INFERENCE_BACKENDS, WORD_LOSS_ACTIONS, check_choice
from relemb.hub import push_folder
from relemb.modules import (
    DEFAULT_POOLING,
    RelationPooling,
    RelationTransformer,
    WordLoss,
    check_pooling_mode,
    report_word_losses,
)
from relemb.neighbors import Neighbor, PairIndex, most_similar
from relemb.pairs import Pair, check_pairs, is_pair
from relemb.prompts import resolve_template

__all__ = ["DEFAULT_CHUNK_SIZE", "DEFAULT_MAX_LENGTH", "RelBERT", "available_devices", "check_device"]

DEFAULT_MAX_LENGTH = 64
#: Unique pairs per ``SentenceTransformer.encode`` call in ``get_embedding``: bounds peak memory and
#: sets how often the progress bar moves (pairs are length-sorted over the whole input first).
DEFAULT_CHUNK_SIZE = 2048
DEFAULT_COMMIT_MESSAGE = "Upload relemb relation model"

logger = logging.getLogger(__name__)


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
        #: The local folder this model was loaded from or trained into: where the figures its card links lie.
        self.source_folder: Path | None = None
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
            device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` ...; default: CUDA when available. A device
                that this machine does not have is a ``ValueError`` naming the ones it has (:func:`check_device`).
            max_length: truncation length in tokens; default: the checkpoint's, else 64. An integer from what the
                template needs to the model's maximum, else a ``ValueError`` naming that range
                (:func:`relemb.modules.check_max_length`).
            revision, token, cache_folder, local_files_only: Hub loading options.
            model_kwargs: passed to ``transformers.AutoModel.from_pretrained`` (e.g. ``torch_dtype``).
            backend: ``"torch"`` (default), ``"openvino"`` or ``"onnx"``: sentence-transformers' inference
                backends (extras ``relemb[openvino]`` / ``relemb[onnx]``; the model is exported on first use),
                checked by :func:`relemb._compat.check_backend`. Inference only: train with ``"torch"``.

        A saved relemb model is inspected before loading: only sentence-transformers and relemb modules, and no
        backbone ``auto_map``, are accepted (:mod:`relemb.checkpoint`). A local folder must be complete for what
        it is (:func:`relemb.checkpoint.check_checkpoint_folder`: ``IncompleteCheckpointError`` naming what is
        missing, ``DamagedCheckpointError`` naming a file that does not parse). The template, pooling and max
        length that ``relemb_config.json`` records must agree with the module configs, else a ``ValueError``
        names both values (an explicit argument settles it).

        >>> model = RelBERT.from_pretrained("minilm", template="a", pooling="mask")  # doctest: +SKIP
        """
        backend = _compat.check_backend(backend)
        device = check_device(device)
        if backend == "openvino":
            # OpenVINO runs in bf16 on CPUs that support it unless told otherwise: keep fp32 (equal embeddings)
            model_kwargs = {"ov_config": {"INFERENCE_PRECISION_HINT": "f32"}, **(model_kwargs or {})}
        if template is not None:
            template = resolve_template(template)
        if pooling is not None:
            check_pooling_mode(pooling)
        name = resolve_model_name(name_or_path)
        hub_kwargs = dict(revision=revision, token=token, cache_dir=cache_folder, local_files_only=local_files_only)
        modules, backbone_config = inspect_checkpoint(name, backend=backend, **hub_kwargs)
        if is_relemb_modules(modules):
            check_modules_are_safe(modules, name)
            check_backbone_is_safe(backbone_config, name)
            config = load_relemb_config(name, **hub_kwargs)
            if config is None:  # a local folder without one is refused by inspect_checkpoint already
                raise IncompleteCheckpointError(f"{name}: a relemb model without {RELEMB_CONFIG_NAME}")
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
            given = {"template": template, "pooling": pooling, "max_length": max_length}
            _check_recorded_settings(
                config, encoder, name, explicit={key for key, value in given.items() if value is not None}
            )
            model = cls(encoder, config)
            model.transformer.configure(template=template, max_seq_length=max_length)
            if pooling is not None:
                model.pooler.pooling_mode = pooling
            model._sync_config()
            if Path(name).is_dir():
                model.source_folder = Path(name)
            return model

        legacy = (backbone_config or {}).get("relbert_config") or {}
        template = template or legacy.get("template")
        pooling = pooling or legacy.get("aggregation_mode") or DEFAULT_POOLING
        check_pooling_mode(pooling)
        transformer = RelationTransformer(
            name,
            template=template,
            max_seq_length=DEFAULT_MAX_LENGTH if max_length is None else max_length,
            model_kwargs={**hub_kwargs, **(model_kwargs or {})},
            processor_kwargs=dict(hub_kwargs),
            config_kwargs=dict(hub_kwargs),
            backend=backend,
        )
        pooler = RelationPooling(transformer.get_embedding_dimension(), transformer.mask_token_id, pooling)
        encoder = SentenceTransformer(modules=[transformer, pooler], device=device, backend=backend)
        return cls(encoder, RelBERTConfig(base_model=base_model_name(name_or_path)))

    # ------------------------------------------------------------------ properties
    @property
    def transformer(self) -> RelationTransformer:
        return cast(RelationTransformer, self.encoder[0])  # a relation model's input module

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
        return self.transformer.max_seq_length

    @max_length.setter
    def max_length(self, value: int) -> None:
        self.transformer.max_seq_length = value  # checked: relemb.modules.check_max_length
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
        dtype: str = "float32",
        precision: str | None = None,
        on_word_loss: str | None = None,
        device: str | Sequence[str] | None = None,
    ) -> np.ndarray:
        """Relation embeddings: one pair gives shape ``(d,)``, a list of ``n`` pairs ``(n, d)`` (float32).

        Duplicate pairs are encoded once; an empty list gives ``(0, d)``. The unique pairs are sorted by
        length over the whole input and encoded ``chunk_size`` at a time through
        ``SentenceTransformer.encode`` (dynamically padded batches of ``batch_size``), so padding is
        minimal and memory stays bounded for very long lists. With ``output`` (a ``.npy``
        path) the matrix is written there instead of held in memory: the file appears only once complete
        (written under a temporary name, then renamed) and a read-only memory map of it is returned.

        ``dtype`` is the compute dtype (:data:`~relemb.choices.EMBEDDING_DTYPES`): ``"bfloat16"`` (or
        ``"float16"``) runs the forward pass under ``torch.autocast``: much faster where the hardware has bf16
        matrix units (recent Xeons with AMX, GPUs), at the cost of exactness (embeddings differ from fp32 by
        about 1e-2 at most, cosine > 0.9999 on MiniLM); the default ``"float32"`` equals the unbatched fp32
        path to < 1e-4. Results are float32 either way (this is not ``SentenceTransformer.encode``'s
        ``precision=``, which quantizes the output to int8/binary). ``precision=`` is the deprecated name of
        ``dtype=`` here and still works, with a ``DeprecationWarning``.

        Every word must reach the model as written. Before anything is encoded, each pair is checked
        (:meth:`relemb.modules.RelationTransformer.word_losses`): a head or tail cut off by truncation at
        ``max_length``, a word that the tokenizer knows only as its unknown token (an emoji for a WordPiece
        vocabulary), a word that is one of its special tokens (``[SEP]``, ``<s>``) or that it drops entirely.
        ``on_word_loss="error"`` (the default, ``model.transformer.on_word_loss``) raises
        :class:`~relemb.modules.LostWordError` for the first such pair; ``"warn"`` embeds them as tokenized and
        issues one :class:`~relemb.modules.LostWordWarning` naming them. A prompt whose mask token is truncated
        raises :class:`~relemb.modules.MaskTruncatedError` either way, and a word of only invisible characters is
        an empty word (``ValueError``). Messages name a pair by its index in ``pairs``.

        ``device``: a list of devices (``["cuda:0", "cuda:1"]``, or ``["cpu", "cpu"]`` for CPU processes) shards
        the unique pairs over a pool of worker processes, one per device (sentence-transformers' multi-process
        encoding: ``start_multi_process_pool``), with every guarantee of the one-process path (deduplication,
        input order, streaming to ``output``, the word checks, identical fp32 vectors); ``None`` (default) or
        the model's own device uses this process. Workers run fp32 only.

        >>> model.get_embedding([("camera", "photographer"), ("baker", "bread")]).shape  # doctest: +SKIP
        (2, 384)
        >>> model.get_embedding([("tokyo", "japan"), ("\U0001f600", "\U0001f642")])  # doctest: +SKIP
        Traceback (most recent call last):
        relemb.modules.LostWordError: pair 1 ('😀', '🙂'): the head word is unknown to the tokenizer: every token ...
        >>> model.get_embedding(pairs, output="pairs.npy", show_progress_bar=True)  # doctest: +SKIP
        """
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        keyword = "dtype" if precision is None else "precision"  # errors name the keyword the caller used
        dtype = check_choice(
            renamed_keyword(dtype, precision, new="dtype", old="precision", default="float32"),
            EMBEDDING_DTYPES,
            keyword,
        )
        devices = self._worker_devices(device)
        if devices and dtype != "float32":
            raise ValueError(f"{keyword}={dtype!r} is autocast in this process; device= a list of devices runs fp32")
        backend = getattr(self.transformer, "backend", "torch")
        if dtype != "float32" and backend != "torch":
            raise ValueError(
                f"{keyword}={dtype!r} is autocast for the torch backend; this model runs on {backend!r} in fp32 "
                "(for OpenVINO bf16 load it with model_kwargs={'ov_config': {'INFERENCE_PRECISION_HINT': 'bf16'}})"
            )
        if is_pair(pairs):
            if output is not None:
                raise ValueError("output= writes a matrix: pass a list of pairs, not a single pair")
            head, tail = cast(Sequence[str], pairs)  # two strings: is_pair checked it
            return self.get_embedding(
                [(head, tail)],
                batch_size,
                normalize,
                show_progress_bar,
                chunk_size=chunk_size,
                dtype=dtype,
                on_word_loss=on_word_loss,
                device=device,
            )[0]
        checked = self.validate_pairs(pairs)
        unique: dict[Pair, int] = {}
        inverse = np.fromiter((unique.setdefault(pair, len(unique)) for pair in checked), dtype=np.int64)
        shape = (len(checked), self.embedding_dim)
        unique_pairs = list(unique)
        first_row = _first_rows(inverse, len(unique_pairs))
        self._check_words(unique_pairs, first_row, on_word_loss, chunk_size)  # before any work, in input order

        def encode_into(target: np.ndarray) -> None:
            self._encode_into(
                target,
                unique_pairs,
                inverse,
                batch_size=batch_size,
                normalize=normalize,
                show_progress_bar=show_progress_bar,
                chunk_size=chunk_size,
                dtype=dtype,
                devices=devices,
            )

        if output is None:
            result = np.empty(shape, dtype=np.float32)
            encode_into(result)
            return result
        return write_npy(output, shape, encode_into)

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
        dtype: str,
        devices: list[str] | None = None,
    ) -> None:
        """Encode ``unique`` pairs chunk by chunk; row ``i`` of ``target`` gets the embedding of ``unique[inverse[i]]``.

        The unique pairs are sorted by length over the whole input (longest first, as
        ``SentenceTransformer.encode`` does within one call), so every chunk, and every batch in it, holds
        pairs of nearly equal token length: little padding, whatever the chunk size. With ``devices``, each
        chunk is sharded over a pool of worker processes (started once, stopped on any exit).
        """
        if not unique:
            return
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() <= logging.INFO
        lengths = np.fromiter((len(head) + len(tail) for head, tail in unique), dtype=np.int64, count=len(unique))
        by_length = np.argsort(-lengths, kind="stable")
        # the first row of each unique pair; duplicate rows are copied from it at the end
        first_row = _first_rows(inverse, len(unique))
        rows = np.arange(len(inverse), dtype=np.int64)
        with contextlib.ExitStack() as stack:
            progress = stack.enter_context(
                tqdm(total=len(unique), unit="pair", desc="Embedding", disable=not show_progress_bar)
            )
            stack.enter_context(self.transformer.words_checked())  # get_embedding checked every pair already
            pool = None
            if devices:  # workers get the model as it is now: the words checked, so not checked again
                with _cpu_worker_threads(devices):
                    pool = self.encoder.start_multi_process_pool(target_devices=devices)
                stack.callback(self.encoder.stop_multi_process_pool, pool)
            for start in range(0, len(unique), chunk_size):
                ids = by_length[start : start + chunk_size]
                with self._autocast(dtype):
                    embeddings = self.encoder.encode(
                        [unique[i] for i in ids],
                        batch_size=batch_size,
                        show_progress_bar=False,
                        normalize_embeddings=normalize,
                        convert_to_numpy=True,
                        pool=pool,
                    )
                target[first_row[ids]] = np.asarray(embeddings, dtype=np.float32)
                progress.update(len(ids))
        duplicates = np.flatnonzero(first_row[inverse] != rows)
        for start in range(0, len(duplicates), chunk_size):
            block = duplicates[start : start + chunk_size]
            target[block] = target[first_row[inverse[block]]]

    def _check_words(
        self, unique: list[Pair], first_row: np.ndarray, on_word_loss: str | None, chunk_size: int
    ) -> None:
        """Check the words of every unique pair (:meth:`RelationTransformer.word_losses`), ``chunk_size`` at a
        time, and raise or warn once (:func:`relemb.modules.report_word_losses`), naming each pair by the index
        of its first occurrence in the caller's input (``first_row``)."""
        action = check_choice(
            self.transformer.on_word_loss if on_word_loss is None else on_word_loss, WORD_LOSS_ACTIONS, "on_word_loss"
        )
        losses: list[WordLoss] = []
        for start in range(0, len(unique), chunk_size):
            found = self.transformer.word_losses(unique[start : start + chunk_size])
            losses += [dataclasses.replace(loss, index=start + loss.index) for loss in found]
            if losses and (action == "error" or any(loss.role == "mask token" for loss in losses)):
                break  # the first refused pair is enough
        report_word_losses(losses, action, first_row)

    def _worker_devices(self, device: str | Sequence[str] | None) -> list[str] | None:
        """The devices of a multi-process pool asked for by ``get_embedding(device=...)``, or ``None`` for this
        process; every device must exist here (:func:`check_device`)."""
        if device is None:
            return None
        if isinstance(device, str):
            if check_device(device) != str(self.device) and device != self.device.type:
                raise ValueError(
                    f"device={device!r}: the model is on {str(self.device)!r}; load it there with "
                    "from_pretrained(device=...), or pass a list of devices for worker processes"
                )
            return None
        devices = [str(check_device(str(d))) for d in device]
        if not devices:
            raise ValueError("device= an empty list: give one device per worker process, e.g. ['cpu', 'cpu']")
        return devices

    def _autocast(self, dtype: str):
        """``torch.autocast`` to ``dtype`` on the model's device, or a no-op for float32."""
        if dtype == "float32":
            return contextlib.nullcontext()
        import torch

        return torch.autocast(device_type=self.device.type, dtype=getattr(torch, dtype))

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

        The folder is written in a staging folder first, so a failure leaves nothing half-written; its files get
        the permissions of the user's umask (:func:`relemb._io.atomic_directory`). ``model_id`` names the model in
        the model card (default: ``path``). The figures the card links (the learning curve of a training run) are
        copied from :attr:`source_folder` when they are there, so the card saved elsewhere or pushed to the Hub
        shows them too.

        >>> model.save_pretrained("runs/my-relation-model")  # doctest: +SKIP
        'runs/my-relation-model'
        """
        from relemb.model_card import card_figures

        path = Path(path)
        self._sync_config()
        with atomic_directory(path) as staging:
            self.encoder.save(str(staging), create_model_card=False, safe_serialization=True)
            self._write_card(staging, model_id or str(path))
            for name in card_figures(self.config):
                figure = None if self.source_folder is None else self.source_folder / name
                if figure is not None and figure.is_file():
                    shutil.copyfile(figure, staging / name)
        return str(path)

    def save_card(self, path: str | os.PathLike | None = None, model_id: str | None = None) -> str:
        """Rewrite only the model card and ``relemb_config.json`` of the saved model at ``path`` (default:
        :attr:`source_folder`), e.g. after adding results or figures to ``config.results``; the weights are
        left as they are. Returns the folder.

        >>> model.config.results["relation_space"] = [{"file": "relation_space_BLESS.png"}]  # doctest: +SKIP
        >>> model.save_card()  # doctest: +SKIP
        'runs/my-relation-model'
        """
        folder = Path(path) if path is not None else self.source_folder
        if folder is None or not (folder / RELEMB_CONFIG_NAME).is_file():
            raise ValueError(
                f"save_card needs the folder of a saved relemb model (with {RELEMB_CONFIG_NAME}), got "
                f"{os.fspath(folder) if folder is not None else 'a model not loaded from a local folder'!r}"
            )
        self._sync_config()
        with atomic_directory(folder) as staging:
            self._write_card(staging, model_id or str(folder))
        return str(folder)

    def _write_card(self, folder: Path, model_id: str) -> None:
        """Write ``relemb_config.json`` and the model card (``README.md``) into ``folder``."""
        from relemb.model_card import build_model_card

        self.config.save(folder)
        write_text(folder / "README.md", build_model_card(self.config, model_id, self.embedding_dim))

    def push_to_hub(
        self,
        repo_id: str,
        token: bool | str | None = None,
        private: bool | None = None,
        *,
        commit_message: str | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        exist_ok: bool = True,
    ) -> str:
        """Upload the model with its model card to the Hugging Face Hub; returns the commit URL (the pull
        request's with ``create_pr=True``).

        The leading arguments are those of ``SentenceTransformer.push_to_hub`` (``repo_id``, ``token``,
        ``private``); the others are keyword-only: ``commit_message``, ``revision`` (a branch, created if
        missing), ``create_pr`` (open a pull request instead of committing) and ``exist_ok`` (default ``True``,
        unlike sentence-transformers: pushing a new version to an existing repo works; ``False`` refuses an
        existing repo). Without network this fails within seconds with a ``ConnectionError`` saying so.

        >>> model.push_to_hub("me/relbert-minilm", private=True, commit_message="epoch 3")  # doctest: +SKIP
        'https://huggingface.co/me/relbert-minilm/commit/...'
        """
        return push_folder(
            repo_id,
            lambda folder, full_repo_id: self.save_pretrained(folder, model_id=full_repo_id),
            token=token,
            private=private,
            commit_message=commit_message or DEFAULT_COMMIT_MESSAGE,
            revision=revision,
            create_pr=create_pr,
            exist_ok=exist_ok,
        )


@contextlib.contextmanager
def _cpu_worker_threads(devices: Sequence[str]) -> Iterator[None]:
    """While a pool starts: CPU workers get their share of this process's torch threads (``OMP_NUM_THREADS`` of
    the spawned interpreters), not one thread per core each, which oversubscribes the cores. A value the user
    set is kept."""
    import torch

    cpu_workers = sum(1 for device in devices if str(device).split(":")[0] == "cpu")
    if not cpu_workers or "OMP_NUM_THREADS" in os.environ:
        yield
        return
    os.environ["OMP_NUM_THREADS"] = str(max(1, torch.get_num_threads() // cpu_workers))
    try:
        yield
    finally:
        os.environ.pop("OMP_NUM_THREADS", None)


def _first_rows(inverse: np.ndarray, n_unique: int) -> np.ndarray:
    """For each unique pair, the first row of the input that holds it (``inverse`` maps rows to unique pairs)."""
    first_row = np.full(n_unique, -1, dtype=np.int64)
    rows = np.arange(len(inverse), dtype=np.int64)
    first_row[inverse[::-1]] = rows[::-1]
    return first_row


def available_devices() -> list[str]:
    """The torch devices of this machine: ``cpu``, then each CUDA GPU, MPS, and XPU where present."""
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        devices += [f"xpu:{index}" for index in range(xpu.device_count())]
    return devices


def check_device(device: Any) -> str | None:
    """``device`` as a string if this machine has it (``None`` passes: sentence-transformers picks one); else a
    one-line ``ValueError`` naming it and the devices there are (:func:`available_devices`).

    >>> check_device("cpu"), check_device(None)
    ('cpu', None)
    >>> check_device("tpu:7")
    Traceback (most recent call last):
    ...
    ValueError: unknown device 'tpu:7' (available here: cpu)
    """
    if device is None:
        return None
    import torch

    name = str(device)
    try:
        parsed = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"unknown device {name!r} (available here: {', '.join(available_devices())})") from None
    if parsed.type == "cpu":
        return name
    available = available_devices()
    kind = parsed.type
    present = [entry for entry in available if entry.split(":")[0] == kind]
    index_ok = parsed.index is None or f"{kind}:{parsed.index}" in present or (kind == "mps" and parsed.index == 0)
    if not present or not index_ok:
        raise ValueError(f"device {name!r} is not available (available here: {', '.join(available)})")
    return name


def _check_recorded_settings(
    config: RelBERTConfig, encoder: SentenceTransformer, source: str, *, explicit: set[str]
) -> None:
    """Refuse a relemb model whose ``relemb_config.json`` records a template, pooling or max length other than
    the module configs hold, naming both values (a field given explicitly to ``from_pretrained`` is not
    compared: the argument replaces both)."""
    transformer = encoder[0]
    pooler = next(module for module in encoder if isinstance(module, RelationPooling))
    held = {
        "template": (transformer.template, "sentence_bert_config.json"),
        "pooling": (pooler.pooling_mode, "the pooling module's config.json"),
        "max_length": (transformer.max_seq_length, "tokenizer_config.json's model_max_length"),
    }
    for key, (value, where) in held.items():
        recorded = getattr(config, key)
        if key in explicit or not config.records(key) or (key == "template" and not recorded):
            continue
        if recorded != value:
            raise ValueError(
                f"{source}: {RELEMB_CONFIG_NAME} records {key}={recorded!r} but {where} says {value!r}; "
                f"pass {key}= to choose, or correct the file"
            )


#: Old names of this module -> (what replaces them, the value they still give, with a DeprecationWarning).
_DEPRECATED: dict[str, tuple[str, Any]] = {
    "BACKENDS": (
        "relemb.choices.INFERENCE_BACKENDS (packages: relemb._compat.INFERENCE_BACKEND_PACKAGES)",
        lambda: {name: _compat.INFERENCE_BACKEND_PACKAGES.get(name) for name in INFERENCE_BACKENDS},
    ),
    "PRECISIONS": ("relemb.choices.EMBEDDING_DTYPES", lambda: EMBEDDING_DTYPES),
    "check_backend": ("relemb._compat.check_backend", lambda: _compat.check_backend),
}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        replacement, value = _DEPRECATED[name]
        warnings.warn(f"relemb.model.{name} is deprecated; use {replacement}", DeprecationWarning, stacklevel=2)
        return value()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

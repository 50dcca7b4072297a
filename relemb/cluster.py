"""Embedding pair files that do not fit one machine, with Ray Data (extra ``relemb[ray]``).

The recipe is Ray Data's own batch-inference pattern: read the pair file(s) as a dataset
(``ray.data.read_csv`` / ``read_parquet``), ``map_batches`` a callable class that holds one relemb model
per actor (:class:`PairEmbedder`), and write Parquet shards, one row per pair with its ``head``, ``tail``
(and any other input column, e.g. an ``id``) and its ``embedding`` (a fixed-size list of float32, readable by
any Parquet reader, with or without Ray). :func:`embed_dataset` wires it up; :func:`relemb.neighbors.read_embedding_shards`
reads the shards back in order (with pyarrow only) and :meth:`relemb.neighbors.PairIndex.from_shards` builds a
search index from them.

Ray is imported only here, and only when a function needs it: ``import relemb`` and ``relemb.model`` never
import it.

Example (a local Ray, or a cluster: ``ray.init(address="auto")``)::

    import ray
    from relemb.cluster import embed_dataset, read_pair_dataset
    from relemb.neighbors import PairIndex

    ray.init()                                                       # or ray.init(address="auto")
    dataset = read_pair_dataset("/shared/pairs/")                    # CSV/TSV with a head,tail header, or Parquet
    embed_dataset(dataset, "/shared/models/my-relbert", "/shared/embeddings/", concurrency=8, num_cpus=4)
    index = PairIndex.from_shards("/shared/embeddings/", backend="faiss")   # pyarrow only, no Ray

Any filesystem Ray reads and writes works for the pairs and the shards (``s3://...``, ``gs://...``); the
index is built from a local (or mounted) copy of the shards.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from relemb._compat import requires
from relemb._io import write_json
from relemb.neighbors import EMBEDDING_COLUMN, SHARD_METADATA_FILE

__all__ = ["PairEmbedder", "embed_dataset", "read_pair_dataset"]

logger = logging.getLogger(__name__)


def _ray() -> Any:
    return requires("ray.data", "ray[data]", "ray", purpose="embedding with Ray Data (relemb.cluster)")


class PairEmbedder:
    """The callable class of ``Dataset.map_batches``: one relemb model per Ray actor.

    Each actor loads ``RelBERT.from_pretrained(model, **load_kwargs)`` once, then embeds every batch it gets
    with ``RelBERT.get_embedding`` (``batch_size``, ``dtype``): the same vectors as one process would give.
    A batch is a ``pyarrow.Table`` with the ``head`` and ``tail`` columns; the result is that table with an
    ``embedding`` column added (other columns are kept). ``threads`` sets ``torch.set_num_threads`` in the
    actor (match the CPUs Ray gives it, ``num_cpus``, or the actors oversubscribe the cores).

    >>> embedder = PairEmbedder("minilm", threads=1)                        # doctest: +SKIP
    >>> embedder(pyarrow.table({"head": ["baker"], "tail": ["bread"]}))     # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | os.PathLike,
        *,
        head_column: str = "head",
        tail_column: str = "tail",
        batch_size: int = 64,
        dtype: str = "float32",
        threads: int | None = None,
        load_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if threads is not None:
            import torch

            torch.set_num_threads(int(threads))
        from relemb.model import RelBERT

        self.model = RelBERT.from_pretrained(model, **dict(load_kwargs or {}))
        self.head_column, self.tail_column = head_column, tail_column
        self.batch_size, self.dtype = batch_size, dtype

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        heads = batch.column(self.head_column).to_pylist()
        tails = batch.column(self.tail_column).to_pylist()
        pairs = list(zip(heads, tails))
        vectors = self.model.get_embedding(pairs, batch_size=self.batch_size, dtype=self.dtype)
        values = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
        column = pa.FixedSizeListArray.from_arrays(values, self.model.embedding_dim)
        return batch.append_column(EMBEDDING_COLUMN, column)


def read_pair_dataset(paths: str | os.PathLike | Sequence[str | os.PathLike], fmt: str = "auto", **read_kwargs: Any):
    """A Ray dataset of pairs from CSV, TSV or Parquet files (a file, a folder, a list; local or remote).

    CSV and TSV files need a header row naming the ``head`` and ``tail`` columns (``relemb.data.read_pairs``'
    header-less two-column files: pass ``read_kwargs`` with ``read_options=pyarrow.csv.ReadOptions(
    column_names=["head", "tail"])``). ``fmt`` is ``csv``, ``tsv`` or ``parquet`` (``auto``: from the first
    path's suffix). ``read_kwargs`` go to ``ray.data.read_csv`` / ``read_parquet``.

    >>> dataset = read_pair_dataset("pairs/part-*.tsv")                     # doctest: +SKIP
    """
    ray_data = _ray()
    items = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]
    if not items:
        raise ValueError("no pair files given")
    if fmt == "auto":
        suffix = Path(items[0]).suffix.lower()
        fmt = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".parquet": "parquet"}.get(suffix, "")
        if not fmt:
            raise ValueError(
                f"cannot tell the format of {items[0]!r} from its suffix; pass fmt='csv', 'tsv' or 'parquet'"
            )
    if fmt == "parquet":
        return ray_data.read_parquet(items, **read_kwargs)
    if fmt in ("csv", "tsv"):
        if fmt == "tsv" and "parse_options" not in read_kwargs:
            from pyarrow import csv

            read_kwargs["parse_options"] = csv.ParseOptions(delimiter="\t")
        return ray_data.read_csv(items, **read_kwargs)
    raise ValueError(f"unknown pair dataset format {fmt!r}; choose one of auto, csv, tsv, parquet")


def embed_dataset(
    dataset: Any,
    model: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    head_column: str = "head",
    tail_column: str = "tail",
    batch_size: int = 64,
    rows_per_batch: int = 4096,
    concurrency: int = 1,
    num_cpus: float = 1,
    num_gpus: float = 0,
    dtype: str = "float32",
    load_kwargs: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    preserve_order: bool = True,
) -> str:
    """Embed the pairs of a Ray ``dataset`` with ``concurrency`` actors and write Parquet shards to ``output_dir``.

    Args:
        dataset: a ``ray.data.Dataset`` with ``head_column`` and ``tail_column`` (e.g. from
            :func:`read_pair_dataset`); other columns are carried into the shards.
        model: what each actor loads with ``RelBERT.from_pretrained`` (a folder every node can read, a Hub id,
            ``"minilm"``); ``load_kwargs`` go with it (``backend="openvino"``, ``model_kwargs={"file_name":
            ...}`` for an int8 model, ``device``...).
        output_dir: the shards' folder (local or remote, any filesystem Ray writes to).
        batch_size, dtype: ``RelBERT.get_embedding``'s, inside each actor.
        rows_per_batch: the rows each ``map_batches`` call gets (``get_embedding`` sorts and pads within it).
        concurrency, num_cpus, num_gpus: the actor pool size and each actor's resources; an actor runs torch on
            ``max(1, int(num_cpus))`` threads. Leave at least one CPU of the cluster to Ray Data's read and
            write tasks: actors holding every CPU wait for them forever (a warning says so).
        metadata: what :data:`SHARD_METADATA_FILE` records (default: the model's template, pooling, dimension and base
            model, read from one model loaded here on the driver).
        preserve_order: keep the input order in the output shards (Ray's ``execution_options.preserve_order``, set
            on the context ``dataset`` was created with, which the datasets derived from it share).

    Returns ``output_dir``. Read the shards with :func:`relemb.neighbors.read_embedding_shards` or
    ``PairIndex.from_shards``.

    >>> embed_dataset(read_pair_dataset("pairs.csv"), "minilm", "out/", concurrency=2)  # doctest: +SKIP
    'out/'
    """
    _ray()  # ray.data installed, or an error naming the extra
    if metadata is None:
        from relemb.model import RelBERT
        from relemb.neighbors import model_metadata

        metadata = model_metadata(RelBERT.from_pretrained(model, **dict(load_kwargs or {})))
    ray = requires("ray")
    if ray.is_initialized():
        total = float(ray.cluster_resources().get("CPU", 0))
        if total and concurrency * num_cpus > total - 1:
            logger.warning(
                "embed_dataset: %d actors x %s CPUs leave less than one of the cluster's %s CPUs to the read and "
                "write tasks; on a fixed-size cluster the job waits forever (lower concurrency or num_cpus)",
                concurrency,
                num_cpus,
                total,
            )
    embedded = dataset.map_batches(
        PairEmbedder,
        fn_constructor_args=(os.fspath(model),),
        fn_constructor_kwargs={
            "head_column": head_column,
            "tail_column": tail_column,
            "batch_size": batch_size,
            "dtype": dtype,
            "threads": max(1, int(num_cpus)),
            "load_kwargs": dict(load_kwargs or {}),
        },
        batch_size=rows_per_batch,
        batch_format="pyarrow",
        concurrency=concurrency,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
    )
    # A dataset runs with the DataContext it was created with (a copy of the current one, shared by the datasets
    # derived from it): the option goes on that context, not on DataContext.get_current(), which a dataset made
    # before this call would never see.
    embedded.context.execution_options.preserve_order = preserve_order
    target = os.fspath(output_dir)
    embedded.write_parquet(target)
    if "://" not in target:  # a local folder: the metadata file goes beside the shards
        write_json(Path(target) / SHARD_METADATA_FILE, dict(metadata))
    else:
        import pyarrow.fs

        filesystem, path = pyarrow.fs.FileSystem.from_uri(target)
        with filesystem.open_output_stream(f"{path.rstrip('/')}/{SHARD_METADATA_FILE}") as stream:
            stream.write(json.dumps(dict(metadata), ensure_ascii=False, indent=2).encode("utf-8"))
    return target

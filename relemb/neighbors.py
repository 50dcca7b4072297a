"""Nearest-neighbour search over relation embeddings: "barista:coffee" -> "baker:bread", "brewer:beer".

A :class:`PairIndex` holds candidate pairs with their L2-normalised embeddings and answers cosine
top-k queries, exactly (one matrix product, the default) or through a FAISS ``IndexFlatIP`` when
``faiss`` is installed (``pip install 'relemb[faiss]'``; same results, for large candidate sets).
It saves to and loads from one ``.npz`` file, and builds from the Parquet shards that
:func:`relemb.cluster.embed_dataset` writes (:meth:`PairIndex.from_shards`, read with pyarrow). The model
is anything with the few members of :class:`RelationModel` (a :class:`relemb.RelBERT` has them); this module imports neither the model nor torch.

>>> import numpy as np
>>> index = PairIndex([("baker", "bread"), ("cat", "dog")], np.array([[1.0, 0.0], [0.0, 1.0]]))
>>> pair, score = index.search(np.array([0.9, 0.1]), k=1)[0]
>>> pair, round(score, 3)
(('baker', 'bread'), 0.994)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol, cast, runtime_checkable

import numpy as np

from relemb._compat import renamed_keyword, requires
from relemb._io import atomic_output, output_file
from relemb.choices import INDEX_BACKENDS, check_choice
from relemb.pairs import Pair, check_pairs, is_pair

__all__ = [
    "EMBEDDING_COLUMN",
    "INDEX_FORMAT_VERSION",
    "SHARD_METADATA_FILE",
    "Neighbor",
    "PairIndex",
    "RelationModel",
    "check_compatible",
    "model_metadata",
    "most_similar",
    "read_embedding_shards",
    "shard_files",
]

INDEX_FORMAT_VERSION = 1
#: The column of embedding shards (:func:`read_embedding_shards`) holding each pair's vector (a list of floats).
EMBEDDING_COLUMN = "embedding"
#: The JSON file beside embedding shards that records the model's template, pooling, dimension and base model
#: (:func:`model_metadata`), so an index built from them knows which model made them.
SHARD_METADATA_FILE = "relemb_embeddings.json"
#: Query rows scored per matrix product in exact search (bounds the (queries x candidates) score block).
_QUERY_BLOCK = 256


class Neighbor(NamedTuple):
    """One search hit: the candidate ``pair`` and its cosine ``score`` (unpacks as ``pair, score``)."""

    pair: Pair
    score: float


class _ModelConfig(Protocol):
    base_model: str | None


@runtime_checkable
class RelationModel(Protocol):
    """What the pair index needs of a relation model: :class:`relemb.RelBERT` has it all.

    >>> isinstance(object(), RelationModel)
    False
    """

    @property
    def template(self) -> str: ...

    @property
    def pooling(self) -> str: ...

    @property
    def embedding_dim(self) -> int: ...

    @property
    def config(self) -> _ModelConfig: ...

    def validate_pairs(self, pairs: Iterable[Any]) -> list[Pair]: ...

    def get_embedding(
        self,
        pairs: Pair | Sequence[Pair],
        batch_size: int = ...,
        normalize: bool = ...,
        show_progress_bar: bool | None = ...,
        *,
        dtype: str = ...,
    ) -> np.ndarray: ...


def _normalize_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class PairIndex:
    """Candidate pairs and their embeddings, searchable by cosine similarity.

    Args:
        pairs: the candidate ``(head, tail)`` pairs; duplicates are dropped (first occurrence kept).
        embeddings: one row per pair (``(n, d)``); rows are L2-normalised on the way in.
        backend: ``"exact"`` (a matrix product, default) or ``"faiss"`` (``IndexFlatIP``; needs faiss).
        metadata: free-form JSON-able facts kept with the index (``model_from`` fills the model's
            template, pooling and dimension, which :meth:`RelBERT.most_similar` checks).

    Example::

        index = PairIndex.from_model(model, [("baker", "bread"), ("brewer", "beer")])
        index.save("candidates.npz")
        PairIndex.load("candidates.npz").search(model.get_embedding(("barista", "coffee")), k=5)
    """

    def __init__(
        self,
        pairs: Sequence[Sequence[str]],
        embeddings: np.ndarray,
        *,
        backend: str = "exact",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        check_choice(backend, INDEX_BACKENDS, "index backend")
        checked = check_pairs(pairs)
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2:
            raise ValueError(f"embeddings must be a (n, d) matrix, got shape {embeddings.shape}")
        if embeddings.shape[0] != len(checked):
            raise ValueError(f"got {len(checked)} pairs but {embeddings.shape[0]} embedding rows")
        if not np.isfinite(embeddings).all():
            raise ValueError("embeddings contain NaN or infinite values")
        keep: dict[Pair, int] = {}
        for row, pair in enumerate(checked):
            keep.setdefault(pair, row)
        rows = np.fromiter(keep.values(), dtype=np.int64, count=len(keep))
        self.pairs: list[Pair] = list(keep)
        self.embeddings: np.ndarray = np.ascontiguousarray(_normalize_rows(embeddings[rows].astype(np.float32)))
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.backend = backend
        self._positions = {pair: position for position, pair in enumerate(self.pairs)}
        self._faiss_index = None
        if backend == "faiss":
            faiss = requires("faiss", "faiss-cpu", "faiss", purpose="the 'faiss' index backend")
            self._faiss_index = faiss.IndexFlatIP(self.dim)
            if len(self.pairs):
                self._faiss_index.add(self.embeddings)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_model(
        cls,
        model: RelationModel,
        pairs: Iterable[Sequence[str]],
        *,
        batch_size: int = 64,
        show_progress_bar: bool | None = None,
        backend: str = "exact",
        dtype: str = "float32",
        precision: str | None = None,
    ) -> PairIndex:
        """Embed ``pairs`` with ``model`` and index them; ``dtype`` is the compute dtype of
        ``RelBERT.get_embedding`` (``precision=`` is its deprecated name).

        >>> index = PairIndex.from_model(model, [("baker", "bread"), ("brewer", "beer")])  # doctest: +SKIP
        """
        dtype = renamed_keyword(dtype, precision, new="dtype", old="precision", default="float32")
        pairs = model.validate_pairs(pairs)
        embeddings = model.get_embedding(pairs, batch_size=batch_size, show_progress_bar=show_progress_bar, dtype=dtype)
        return cls(pairs, embeddings, backend=backend, metadata=model_metadata(model))

    @classmethod
    def from_shards(
        cls,
        path: str | os.PathLike,
        *,
        backend: str = "exact",
        head_column: str = "head",
        tail_column: str = "tail",
        embedding_column: str = EMBEDDING_COLUMN,
    ) -> PairIndex:
        """Index the pairs and embeddings of Parquet shards (a folder of ``*.parquet`` files, or one file), as
        :func:`relemb.cluster.embed_dataset` writes them; the metadata comes from :data:`SHARD_METADATA_FILE`
        beside them. Needs pyarrow (a dependency of ``datasets``), not Ray. The whole index is held in memory.

        >>> index = PairIndex.from_shards("embeddings/", backend="faiss")  # doctest: +SKIP
        """
        pairs, embeddings, metadata = read_embedding_shards(
            path, head_column=head_column, tail_column=tail_column, embedding_column=embedding_column
        )
        return cls(pairs, embeddings, backend=backend, metadata=metadata)

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def __len__(self) -> int:
        return len(self.pairs)

    def __contains__(self, pair: object) -> bool:
        return isinstance(pair, (tuple, list)) and tuple(pair) in self._positions

    def __repr__(self) -> str:
        return f"PairIndex(n={len(self)}, dim={self.dim}, backend={self.backend!r})"

    # ------------------------------------------------------------------ search
    def search(
        self,
        queries: np.ndarray,
        k: int = 10,
        exclude: Pair | Sequence[Pair | None] | None = None,
    ) -> list[Neighbor] | list[list[Neighbor]]:
        """The ``k`` candidates most cosine-similar to each query vector, best first.

        ``queries`` is one vector ``(d,)`` (returns a list of hits) or a matrix ``(m, d)`` (a list per row).
        ``exclude`` names a pair to leave out of the hits (one per query row for a matrix), typically the
        query pair itself. ``k`` larger than the index gives every candidate. Ties keep index order.
        """
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        queries = np.asarray(queries, dtype=np.float32)
        single = queries.ndim == 1
        matrix = queries[None, :] if single else queries
        if matrix.ndim != 2 or matrix.shape[1] != self.dim:
            raise ValueError(f"query vectors must have dimension {self.dim} (the index's), got shape {queries.shape}")
        if not np.isfinite(matrix).all():
            raise ValueError("query vectors contain NaN or infinite values")
        excluded = self._excluded_positions(exclude, len(matrix), single)
        # Search one extra hit per query when its excluded pair is in the index, then drop it.
        fetch = min(int(k) + 1, len(self)) if any(e is not None for e in excluded) else min(int(k), len(self))
        if fetch == 0:
            hits: list[list[Neighbor]] = [[] for _ in range(len(matrix))]
        else:
            normalized = np.ascontiguousarray(_normalize_rows(matrix))
            if self._faiss_index is not None:
                scores, positions = self._faiss_index.search(normalized, fetch)
            else:
                scores, positions = self._exact_top(normalized, fetch)
            hits = []
            for row_scores, row_positions, skip in zip(scores, positions, excluded):
                row = [
                    Neighbor(self.pairs[int(p)], float(s))
                    for s, p in zip(row_scores, row_positions)
                    if p >= 0 and p != skip
                ]
                hits.append(row[:k])
        return hits[0] if single else hits

    def _excluded_positions(self, exclude: Any, n_queries: int, single: bool) -> list[int | None]:
        if exclude is None:
            return [None] * n_queries
        if single or is_pair(exclude):
            if not is_pair(exclude):
                raise TypeError(f"exclude must be one (head, tail) pair for a single query, got {exclude!r}")
            items = [exclude] * n_queries
        else:
            items = list(exclude)
            if len(items) != n_queries:
                raise ValueError(f"exclude has {len(items)} entries for {n_queries} queries")
        return [None if item is None else self._positions.get(tuple(item)) for item in items]

    def _exact_top(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` scores and positions per query row by blocked matrix products (ties: lower position first)."""
        n = len(self)
        all_scores = np.empty((len(queries), k), dtype=np.float32)
        all_positions = np.empty((len(queries), k), dtype=np.int64)
        for start in range(0, len(queries), _QUERY_BLOCK):
            block = queries[start : start + _QUERY_BLOCK] @ self.embeddings.T
            if k < n:
                part = np.argpartition(-block, k - 1, axis=1)[:, :k]
                # ties at the k-th score: take every position scoring >= it, then keep the lowest positions
                for row, scores in enumerate(block):
                    threshold = scores[part[row]].min()
                    candidates = np.flatnonzero(scores >= threshold)
                    order = np.lexsort((candidates, -scores[candidates]))[:k]
                    all_positions[start + row] = candidates[order]
                    all_scores[start + row] = scores[candidates[order]]
            else:
                order = np.argsort(-block, axis=1, kind="stable")
                all_positions[start : start + len(block)] = order
                all_scores[start : start + len(block)] = np.take_along_axis(block, order, axis=1)
        return all_scores, all_positions

    # ------------------------------------------------------------------ saving
    def save(self, path: str | os.PathLike) -> str:
        """Write the index to one ``.npz`` file (pairs, normalised embeddings, metadata), atomically; returns
        the path. Parent folders are created.

        >>> import tempfile, pathlib
        >>> index = PairIndex([("baker", "bread")], np.array([[3.0, 4.0]]), metadata={"pooling": "mask"})
        >>> path = index.save(pathlib.Path(tempfile.mkdtemp()) / "sub" / "index.npz")
        >>> loaded = PairIndex.load(path)
        >>> loaded.pairs, np.allclose(loaded.embeddings, [[0.6, 0.8]]), loaded.metadata
        ([('baker', 'bread')], True, {'pooling': 'mask'})
        """
        try:
            target = output_file(path, ".npz")
        except ValueError:
            raise ValueError(f"a PairIndex is saved as a .npz file, got {os.fspath(path)!r}") from None
        heads = np.array([h for h, _ in self.pairs], dtype=np.str_)
        tails = np.array([t for _, t in self.pairs], dtype=np.str_)
        meta = json.dumps({"format_version": INDEX_FORMAT_VERSION, **self.metadata}, ensure_ascii=False)
        with atomic_output(target, suffix=".tmp.npz") as temporary, open(temporary, "wb") as stream:
            np.savez(stream, embeddings=self.embeddings, heads=heads, tails=tails, metadata=np.array(meta))
        return str(target)

    @classmethod
    def load(cls, path: str | os.PathLike, *, backend: str = "exact") -> PairIndex:
        """Read an index written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no PairIndex file at {str(path)!r}")
        try:
            with np.load(path, allow_pickle=False) as data:
                embeddings, heads, tails = data["embeddings"], data["heads"], data["tails"]
                metadata = json.loads(str(data["metadata"]))
        except (KeyError, ValueError, OSError) as error:
            raise ValueError(f"{str(path)!r} is not a PairIndex file ({error})") from None
        version = metadata.pop("format_version", None)
        if version != INDEX_FORMAT_VERSION:
            raise ValueError(
                f"{str(path)!r} has PairIndex format version {version!r}; this relemb reads {INDEX_FORMAT_VERSION}"
            )
        return cls(list(zip(heads.tolist(), tails.tolist())), embeddings, backend=backend, metadata=metadata)


def shard_files(path: str | os.PathLike) -> list[Path]:
    """The ``.parquet`` shards of a folder in name order (Ray Data names them by write task, in input order),
    or ``[path]`` for one file.

    >>> shard_files("no/such/folder")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no embedding shards (*.parquet) at 'no/such/folder'
    """
    path = Path(path)
    if path.is_file():
        return [path]
    files = sorted(path.glob("*.parquet")) if path.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no embedding shards (*.parquet) at {os.fspath(path)!r}")
    return files


def read_embedding_shards(
    path: str | os.PathLike,
    *,
    head_column: str = "head",
    tail_column: str = "tail",
    embedding_column: str = EMBEDDING_COLUMN,
) -> tuple[list[Pair], np.ndarray, dict[str, Any]]:
    """The pairs (in shard order, duplicates kept), their ``(n, d)`` float32 embeddings and the metadata
    (:data:`SHARD_METADATA_FILE`, ``{}`` when absent) of Parquet embedding shards: a folder or one file.

    >>> import tempfile, pathlib, pyarrow as pa, pyarrow.parquet as pq
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> vectors = pa.FixedSizeListArray.from_arrays(pa.array([1.0, 0.0, 0.0, 1.0], pa.float32()), 2)
    >>> pq.write_table(pa.table({"head": ["baker", "cat"], "tail": ["bread", "dog"], "embedding": vectors}),
    ...                folder / "part-0.parquet")
    >>> pairs, embeddings, metadata = read_embedding_shards(folder)
    >>> pairs, embeddings.tolist(), metadata
    ([('baker', 'bread'), ('cat', 'dog')], [[1.0, 0.0], [0.0, 1.0]], {})
    """
    parquet = requires("pyarrow.parquet", "pyarrow", purpose="reading embedding shards")
    files = shard_files(path)
    pairs: list[Pair] = []
    blocks: list[np.ndarray] = []
    for file in files:
        table = parquet.read_table(file, columns=[head_column, tail_column, embedding_column])
        heads, tails = table.column(head_column).to_pylist(), table.column(tail_column).to_pylist()
        pairs.extend(zip(heads, tails))
        column = table.column(embedding_column).combine_chunks()  # a (fixed-size) list column
        values = np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
        if len(column) and len(values) % len(column):
            raise ValueError(f"{os.fspath(file)!r}: the rows of column {embedding_column!r} differ in length")
        blocks.append(values.reshape(len(column), -1))
    widths = {block.shape[1] for block in blocks if len(block)}
    if len(widths) > 1:
        raise ValueError(f"the shards at {os.fspath(path)!r} hold embeddings of different sizes: {sorted(widths)}")
    embeddings = np.concatenate([block for block in blocks if len(block)] or [np.zeros((0, 0), np.float32)])
    folder = files[0].parent if Path(path).is_file() else Path(path)
    metadata_path = folder / SHARD_METADATA_FILE
    metadata = json.loads(metadata_path.read_text(encoding="utf-8")) if metadata_path.is_file() else {}
    return pairs, embeddings, metadata


def model_metadata(model: RelationModel) -> dict[str, Any]:
    """The facts that make embeddings comparable: template, pooling, dimension and base model.

    >>> model_metadata(model)  # doctest: +SKIP
    {'template': 'Today, I finally discovered the relation between <subj> and <obj> ...', 'pooling': ...}
    """
    return {
        "template": model.template,
        "pooling": model.pooling,
        "dim": model.embedding_dim,
        "base_model": model.config.base_model,
    }


def check_compatible(index: PairIndex, model: RelationModel) -> None:
    """Raise ``ValueError`` when ``index`` was built with a different dimension, template or pooling.

    >>> check_compatible(PairIndex.load("candidates.npz"), model)  # doctest: +SKIP
    """
    if index.dim != model.embedding_dim:
        raise ValueError(
            f"the index holds {index.dim}-dimensional embeddings but the model gives {model.embedding_dim}"
        )
    expected = model_metadata(model)
    for key in ("template", "pooling"):
        if key in index.metadata and index.metadata[key] != expected[key]:
            raise ValueError(
                f"the index was built with {key} {index.metadata[key]!r} but the model uses {expected[key]!r}; "
                "rebuild the index with this model"
            )


def most_similar(
    model: RelationModel,
    query: Sequence[str],
    candidates: PairIndex | Iterable[Sequence[str]],
    k: int = 10,
    *,
    batch_size: int = 64,
    show_progress_bar: bool | None = None,
    exclude_query: bool = True,
) -> list[Neighbor]:
    """The ``k`` candidate pairs whose relation is most similar (cosine) to ``query``'s, best first.

    ``candidates`` is a list of pairs (embedded now) or a prebuilt :class:`PairIndex` (for repeated
    queries). The query pair itself is left out of the hits when it is among the candidates, unless
    ``exclude_query=False``.

    >>> most_similar(model, ("barista", "coffee"), [("baker", "bread"), ("cat", "dog")], k=1)  # doctest: +SKIP
    [Neighbor(pair=('baker', 'bread'), score=0.93)]
    """
    if not is_pair(query):
        raise TypeError(f"query must be one (head, tail) pair of strings, got {query!r}")
    head, tail = model.validate_pairs([query])[0]
    pair: Pair = (head, tail)
    if isinstance(candidates, PairIndex):
        index = candidates
        check_compatible(index, model)
        vector = model.get_embedding(pair)
    else:
        pairs = model.validate_pairs(candidates)
        # one call: the query's embedding comes with the candidates' (deduplicated if it is one of them)
        embeddings = model.get_embedding([pair, *pairs], batch_size=batch_size, show_progress_bar=show_progress_bar)
        vector = embeddings[0]
        index = PairIndex(pairs, embeddings[1:], metadata=model_metadata(model))
    # one query vector (d,) gives one list of hits
    return cast("list[Neighbor]", index.search(vector, k=k, exclude=pair if exclude_query else None))

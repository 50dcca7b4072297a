"""``relemb embed``: embed word pairs from a file, build a pair index, find the most similar pairs.

::

    relemb embed pairs  pairs.tsv --model minilm --output pairs.npy         # row i = pair on line i
    relemb embed index  candidates.tsv --model minilm --output candidates.npz
    relemb embed similar --model minilm --query barista:coffee --candidates candidates.npz -k 5

Pair files are read by :func:`relemb.data.read_pairs`: ``.tsv``/``.txt``, ``.csv`` or ``.jsonl``, or ``-``
for standard input. A pair on the command line is written ``HEAD:TAIL``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import cast

from relemb.choices import EMBEDDING_DTYPES
from relemb.cli.options import (
    add_deprecated_option,
    add_model_options,
    add_pair_option,
    add_progress_option,
    check_output,
    load_model,
    pairs_from,
    positive_int,
    progress,
)
from relemb.data.pairfile import PAIR_FILE_FORMATS, read_pairs


# ---------------------------------------------------------------------- arguments
def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    add_model_options(group)
    add_progress_option(group)


def _add_input_arguments(parser: argparse.ArgumentParser, name: str, help_text: str) -> None:
    parser.add_argument(name, help=f"{help_text}; - reads standard input")
    parser.add_argument(
        "--format", choices=PAIR_FILE_FORMATS, default="auto", help="pair file format (default: from suffix)"
    )


def _add_dtype_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dtype",
        choices=EMBEDDING_DTYPES,
        default="float32",
        help="compute dtype: float32 (exact, default) or bfloat16/float16 autocast (faster on AMX CPUs and GPUs, "
        "inexact)",
    )
    add_deprecated_option(parser, "--precision", "--dtype", "dtype", choices=EMBEDDING_DTYPES)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``pairs``, ``index`` and ``similar`` under ``relemb embed``."""
    actions = parser.add_subparsers(dest="embed_action", metavar="ACTION", required=True)

    pairs = actions.add_parser("pairs", help="embed the pairs of a file into a .npy matrix (row i = pair i)")
    _add_input_arguments(pairs, "input", "pair file (.tsv/.txt, .csv or .jsonl)")
    pairs.add_argument("--output", "-o", required=True, help="the .npy file to write (float32, one row per pair)")
    pairs.add_argument("--normalize", action="store_true", help="L2-normalise the embeddings")
    pairs.add_argument(
        "--chunk-size", type=positive_int, default=None, help="unique pairs encoded per chunk (memory bound)"
    )
    _add_dtype_argument(pairs)
    pairs.add_argument(
        "--devices",
        nargs="+",
        default=None,
        metavar="DEVICE",
        help="shard the pairs over worker processes, one per device (cuda:0 cuda:1, or cpu cpu); fp32",
    )
    _add_model_arguments(pairs)
    pairs.set_defaults(embed_run=_run_pairs)

    index = actions.add_parser("index", help="embed candidate pairs into a reusable .npz pair index")
    _add_input_arguments(index, "input", "candidate pair file (.tsv/.txt, .csv or .jsonl)")
    index.add_argument("--output", "-o", required=True, help="the .npz index file to write")
    _add_dtype_argument(index)
    _add_model_arguments(index)
    index.set_defaults(embed_run=_run_index)

    similar = actions.add_parser("similar", help="the candidate pairs most similar to a query pair")
    add_pair_option(similar, "--query", "-q", help_text="the query pair (repeatable)", required=True)
    similar.add_argument("--candidates", "-c", required=True, help="a pair file, or a .npz index from 'embed index'")
    similar.add_argument(
        "--format", choices=PAIR_FILE_FORMATS, default="auto", help="candidate file format (default: suffix)"
    )
    similar.add_argument("-k", type=positive_int, default=10, help="how many neighbours per query (default 10)")
    similar.add_argument("--faiss", action="store_true", help="search with a FAISS IndexFlatIP (needs faiss-cpu)")
    similar.add_argument("--include-query", action="store_true", help="keep the query pair among the hits")
    similar.add_argument("--json", action="store_true", help="print one JSON object per hit")
    _add_model_arguments(similar)
    similar.set_defaults(embed_run=_run_similar)


# ---------------------------------------------------------------------- running
def _run_pairs(args: argparse.Namespace) -> int:
    from relemb.model import DEFAULT_CHUNK_SIZE

    check_output(args.output, ".npy")
    pairs = read_pairs(args.input, args.format)
    model = load_model(args)
    matrix = model.get_embedding(
        pairs,
        batch_size=args.batch_size,
        normalize=args.normalize,
        show_progress_bar=progress(args),
        output=args.output,
        chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE,
        dtype=args.dtype,
        device=args.devices,
    )
    print(f"wrote {args.output}: {matrix.shape[0]} x {matrix.shape[1]} float32 ({len(set(pairs))} unique pairs)")
    return 0


def _run_index(args: argparse.Namespace) -> int:
    from relemb.neighbors import PairIndex

    check_output(args.output, ".npz")
    pairs = read_pairs(args.input, args.format)
    model = load_model(args)
    index = PairIndex.from_model(
        model, pairs, batch_size=args.batch_size, show_progress_bar=progress(args), dtype=args.dtype
    )
    index.save(args.output)
    print(f"wrote {args.output}: {len(index)} pairs, dim {index.dim}")
    return 0


def _run_similar(args: argparse.Namespace) -> int:
    from relemb.neighbors import Neighbor, PairIndex, check_compatible

    queries = pairs_from(args.query)
    backend = "faiss" if args.faiss else "exact"
    # read the candidates before loading the model, so a bad file fails fast
    if str(args.candidates).endswith(".npz"):
        index = PairIndex.load(args.candidates, backend=backend)
        model = load_model(args)
        check_compatible(index, model)
    else:
        pairs = read_pairs(args.candidates, args.format)
        model = load_model(args)
        index = PairIndex.from_model(
            model, pairs, batch_size=args.batch_size, show_progress_bar=progress(args), backend=backend
        )
    vectors = model.get_embedding(queries, batch_size=args.batch_size, show_progress_bar=False)
    exclude = None if args.include_query else queries
    # a matrix of query vectors (n, d) gives a list of hits per query
    results = cast("list[list[Neighbor]]", index.search(vectors, k=args.k, exclude=exclude))
    for query, hits in zip(queries, results):
        if args.json:
            for rank, (pair, score) in enumerate(hits, start=1):
                record = {"query": list(query), "rank": rank, "pair": list(pair), "score": round(score, 6)}
                print(json.dumps(record, ensure_ascii=False))
        else:
            print(f"{query[0]}:{query[1]}")
            for rank, (pair, score) in enumerate(hits, start=1):
                print(f"  {rank:>3}. {pair[0]}:{pair[1]}\t{score:.4f}")
    sys.stdout.flush()
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen ``relemb embed`` action; returns the exit code."""
    return args.embed_run(args)

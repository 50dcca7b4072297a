"""``relemb embed``: embed word pairs from a file, build a pair index, find the most similar pairs.

::

    relemb embed pairs  pairs.tsv --model minilm --output pairs.npy         # row i = pair on line i
    relemb embed index  candidates.tsv --model minilm --output candidates.npz
    relemb embed similar --model minilm --query barista:coffee --candidates candidates.npz -k 5

Pair files: ``.tsv``/``.txt`` (tab-separated ``head<TAB>tail``), ``.csv`` (two columns) or ``.jsonl``
(``["head", "tail"]`` or ``{"head": ..., "tail": ...}`` per line). Blank lines are skipped, and so is a
first row that reads ``head, tail``. Any other malformed line is an error naming the file and line.
"""

from __future__ import annotations

import argparse
import json
import sys

from relemb.cli import add_model_arguments, load_model
from relemb.data.pairfile import PAIR_FILE_FORMATS, read_pairs
from relemb.pairs import parse_pair

FORMATS = PAIR_FILE_FORMATS


# ---------------------------------------------------------------------- arguments
def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    add_model_arguments(group)
    group.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _add_input_arguments(parser: argparse.ArgumentParser, name: str, help_text: str) -> None:
    parser.add_argument(name, help=help_text)
    parser.add_argument("--format", choices=FORMATS, default="auto", help="pair file format (default: from suffix)")


def _add_precision_argument(parser: argparse.ArgumentParser) -> None:
    from relemb.model import PRECISIONS

    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="float32 (exact, default) or bfloat16/float16 autocast (faster on AMX CPUs and GPUs, inexact)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``pairs``, ``index`` and ``similar`` under ``relemb embed``."""
    actions = parser.add_subparsers(dest="embed_action", metavar="ACTION", required=True)

    pairs = actions.add_parser("pairs", help="embed the pairs of a file into a .npy matrix (row i = pair i)")
    _add_input_arguments(pairs, "input", "pair file (.tsv/.txt, .csv or .jsonl)")
    pairs.add_argument("--output", "-o", required=True, help="the .npy file to write (float32, one row per pair)")
    pairs.add_argument("--normalize", action="store_true", help="L2-normalise the embeddings")
    pairs.add_argument("--chunk-size", type=int, default=None, help="unique pairs encoded per chunk (memory bound)")
    _add_precision_argument(pairs)
    _add_model_arguments(pairs)
    pairs.set_defaults(embed_run=_run_pairs)

    index = actions.add_parser("index", help="embed candidate pairs into a reusable .npz pair index")
    _add_input_arguments(index, "input", "candidate pair file (.tsv/.txt, .csv or .jsonl)")
    index.add_argument("--output", "-o", required=True, help="the .npz index file to write")
    _add_precision_argument(index)
    _add_model_arguments(index)
    index.set_defaults(embed_run=_run_index)

    similar = actions.add_parser("similar", help="the candidate pairs most similar to a query pair")
    similar.add_argument("--query", "-q", action="append", required=True, help="query pair head:tail (repeatable)")
    similar.add_argument("--candidates", "-c", required=True, help="a pair file, or a .npz index from 'embed index'")
    similar.add_argument("--format", choices=FORMATS, default="auto", help="candidate file format (default: suffix)")
    similar.add_argument("-k", type=int, default=10, help="how many neighbours per query (default 10)")
    similar.add_argument("--faiss", action="store_true", help="search with a FAISS IndexFlatIP (needs faiss-cpu)")
    similar.add_argument("--include-query", action="store_true", help="keep the query pair among the hits")
    similar.add_argument("--json", action="store_true", help="print one JSON object per hit")
    _add_model_arguments(similar)
    similar.set_defaults(embed_run=_run_similar)


# ---------------------------------------------------------------------- running
def _progress(args: argparse.Namespace) -> bool:
    return not args.no_progress


def _run_pairs(args: argparse.Namespace) -> int:
    from relemb.model import DEFAULT_CHUNK_SIZE

    if not str(args.output).endswith(".npy"):
        raise ValueError(f"--output must be a .npy file, got {args.output!r}")
    pairs = read_pairs(args.input, args.format)
    model = load_model(args)
    matrix = model.get_embedding(
        pairs,
        batch_size=args.batch_size,
        normalize=args.normalize,
        show_progress_bar=_progress(args),
        output=args.output,
        chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE,
        precision=args.precision,
    )
    print(f"wrote {args.output}: {matrix.shape[0]} x {matrix.shape[1]} float32 ({len(set(pairs))} unique pairs)")
    return 0


def _run_index(args: argparse.Namespace) -> int:
    from relemb.neighbors import PairIndex

    if not str(args.output).endswith(".npz"):
        raise ValueError(f"--output must be a .npz file, got {args.output!r}")
    pairs = read_pairs(args.input, args.format)
    model = load_model(args)
    index = PairIndex.from_model(
        model, pairs, batch_size=args.batch_size, show_progress_bar=_progress(args), precision=args.precision
    )
    index.save(args.output)
    print(f"wrote {args.output}: {len(index)} pairs, dim {index.dim}")
    return 0


def _run_similar(args: argparse.Namespace) -> int:
    from relemb.neighbors import PairIndex, check_compatible

    if args.k < 1:
        raise ValueError(f"-k must be a positive integer, got {args.k}")
    queries = [parse_pair(text) for text in args.query]
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
            model, pairs, batch_size=args.batch_size, show_progress_bar=_progress(args), backend=backend
        )
    vectors = model.get_embedding(queries, batch_size=args.batch_size, show_progress_bar=False)
    exclude = None if args.include_query else queries
    results = index.search(vectors, k=args.k, exclude=exclude)
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

"""The cluster recipe end to end (relemb.cluster, extra ``relemb[ray]``): a pair file -> Ray Data -> Parquet shards
-> ``PairIndex.from_shards``, timed, with the shards checked against one process's ``get_embedding`` on a sample.

It writes ``--n`` generated pairs (MiniLM vocabulary words) to a Parquet file, starts Ray (a local one with
``--num-cpus``, or ``--address`` of a running cluster), embeds them with ``--actors`` actors of ``--cpus-per-actor``
CPUs and ``--gpus-per-actor`` GPUs each, and reports pairs/s (from the call of ``embed_dataset`` to the last
shard written: actor start-up and model loading included, Ray's own start-up not), the shard count, the index
build time and the largest difference from the single-process vectors.

    flock /tmp/relemb-heavy.lock python benchmarks/embed_ray.py --n 20000 --num-cpus 2 --actors 1 --cpus-per-actor 1
    python benchmarks/embed_ray.py --n 1000000 --actors 4 --gpus-per-actor 1 --device cuda --dtype bfloat16 \\
        --batch-size 512      # one actor per GPU: the multi-device path
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relemb._io import write_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--address", default=None, help="a running Ray cluster (default: start a local one)")
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    parser.add_argument("--actors", type=int, default=1)
    parser.add_argument("--cpus-per-actor", type=float, default=1)
    parser.add_argument("--gpus-per-actor", type=float, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rows-per-batch", type=int, default=4096)
    parser.add_argument("--check", type=int, default=200, help="rows compared with one process's get_embedding")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)

    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray
    from embed_throughput import generated_pairs

    from relemb import RelBERT
    from relemb.cluster import embed_dataset, read_pair_dataset
    from relemb.neighbors import PairIndex, read_embedding_shards

    model = RelBERT.from_pretrained(args.model, device="cpu")
    pairs = generated_pairs(model, args.n, seed=2)
    with tempfile.TemporaryDirectory(prefix="embed-ray-") as folder:
        source = Path(folder) / "pairs.parquet"
        pq.write_table(pa.table({"head": [h for h, _ in pairs], "tail": [t for _, t in pairs]}), source)
        start = time.perf_counter()
        ray.init(address=args.address, num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - start
        load_kwargs = {"device": args.device}
        options = dict(
            concurrency=args.actors,
            num_cpus=args.cpus_per_actor,
            num_gpus=args.gpus_per_actor,
            batch_size=args.batch_size,
            rows_per_batch=args.rows_per_batch,
            dtype=args.dtype,
            load_kwargs=load_kwargs,
        )
        start = time.perf_counter()
        embed_dataset(read_pair_dataset(source), args.model, Path(folder) / "shards", **options)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        index = PairIndex.from_shards(Path(folder) / "shards")
        index_seconds = time.perf_counter() - start
        got, vectors, _ = read_embedding_shards(Path(folder) / "shards")
        shards = len(list((Path(folder) / "shards").glob("*.parquet")))
        ray.shutdown()
    assert got == pairs, "the shards lost the input order"
    rows = np.unique(np.linspace(0, len(pairs) - 1, min(args.check, len(pairs))).astype(int))
    single = RelBERT.from_pretrained(args.model, device=args.device).get_embedding(
        [pairs[i] for i in rows], args.batch_size, dtype=args.dtype
    )
    result = {
        "benchmark": "embed_ray",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {key: value for key, value in vars(args).items() if key != "output"},
        "ray": ray.__version__,
        "ray_start_seconds": ray_start,
        "seconds_including_actor_start": seconds,
        "pairs_per_s_including_actor_start": len(pairs) / seconds,
        "shards": shards,
        "index_build_seconds": index_seconds,
        "index_size": len(index),
        "max_abs_diff_vs_one_process": float(np.abs(vectors[rows] - single).max()),
    }
    print(
        f"{len(pairs)} pairs in {seconds:.1f}s with {args.actors} actors ({len(pairs) / seconds:.0f} pairs/s, actor "
        f"start-up included); {shards} shards; index {index_seconds:.1f}s; max abs diff vs one process "
        f"{result['max_abs_diff_vs_one_process']:.1e}"
    )
    output = Path(args.output) if args.output else RESULTS / f"embed_ray_{args.device}.json"
    write_json(output, result)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

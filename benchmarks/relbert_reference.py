"""Times the real RelBERT 2.0.2 ``get_embedding`` in its own interpreter (the child of ``embed_throughput.py
--reference-venv PATH``): relbert cannot be installed next to relemb (it needs transformers<5).

It loads ``relbert.RelBERT(model, template=..., aggregation_mode=..., max_length=64)`` from a local folder,
offline: relbert pings http://google.com on construction to decide ``local_files_only``; that check is
replaced by ``False`` here (nothing else is patched). Then it embeds the pairs of ``--pairs`` (a JSON list)
``--repeats`` times after one warm-up call on the first batch, exactly as a user would call it
(``get_embedding(pairs, batch_size=...)``: its multiprocessing tokenization, padding to 64, DataLoader,
forward, sum pooling and ``.tolist()`` included), prints one JSON line with the timings and writes the
embeddings to ``--embeddings`` (``.npy``).

    /tmp/relbert-venv/bin/python benchmarks/relbert_reference.py --model DIR --template "..." \\
        --pairs pairs.json --embeddings out.npy --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from importlib import metadata

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a local model folder")
    parser.add_argument("--template", required=True, help="the template string (<subj>, <obj>, <mask>)")
    parser.add_argument("--pooling", default="average_no_mask")
    parser.add_argument("--pairs", required=True, help="JSON file: a list of [head, tail]")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--embeddings", default=None, help="write the last run's embeddings here (.npy)")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    import relbert
    import relbert.lm

    relbert.lm.internet_connection = lambda: False  # offline: load from the folder (local_files_only=True)
    start = time.perf_counter()
    model = relbert.RelBERT(args.model, max_length=64, aggregation_mode=args.pooling, template=args.template)
    model.eval()
    load_seconds = time.perf_counter() - start
    with open(args.pairs, encoding="utf-8") as handle:
        pairs = [tuple(pair) for pair in json.load(handle)]
    model.get_embedding(pairs[: args.batch_size], batch_size=args.batch_size)  # warm-up
    seconds = []
    vectors = None
    for _ in range(args.repeats):
        start = time.perf_counter()
        vectors = model.get_embedding(pairs, batch_size=args.batch_size)
        seconds.append(time.perf_counter() - start)
    if args.embeddings:
        np.save(args.embeddings, np.asarray(vectors, dtype=np.float32))
    import transformers

    print(
        json.dumps(
            {
                "seconds": seconds,
                "pairs": len(pairs),
                "load_seconds": load_seconds,
                "device": model.device,
                "torch_threads": torch.get_num_threads(),
                "pool_processes": os.cpu_count(),
                "versions": {
                    "relbert": metadata.version("relbert"),
                    "torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "python": sys.version.split()[0],
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where the time of one ``get_embedding`` batch goes, in fp32, bf16 autocast and bf16 weights (torch.profiler).

For each path it times (best of ``--repeats``) one batch of ``--batch-size`` BATS test pairs end to end
(``get_embedding``), the input side alone (``RelationTransformer.preprocess``: rendering, checks,
tokenization) and the forward alone (``SentenceTransformer.forward`` on the ready features, under
``inference_mode``, with autocast for the autocast path); then profiles ``--profile-batches`` calls of
``get_embedding`` and sums the operators' self CPU time into groups: matrix products, dtype casts (the
``aten::to``/``_to_copy``/``copy_`` that autocast inserts), attention, GELU, layer norm, other elementwise
ops. The rest of the end-to-end time (end to end - input - forward) is Python and ``encode``'s own work per
batch. It also reports the matrix products' achieved FLOP/s against the ``torch.matmul`` peak.

    flock /tmp/relemb-heavy.lock python benchmarks/profile_bf16.py --output benchmarks/results/profile_bf16_cpu.json
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed_throughput import bats_pairs, forward_flops, matmul_rate, token_counts  # noqa: E402

from relemb import RelBERT  # noqa: E402
from relemb._io import write_json  # noqa: E402

GROUPS = {
    "matmul": ("addmm", "aten::mm", "bmm", "matmul", "linear", "mkldnn", "onednn"),
    "cast": ("aten::to", "_to_copy", "copy_", "aten::type_as"),
    "attention": ("scaled_dot_product", "softmax", "flash_attention"),
    "gelu": ("gelu",),
    "layer_norm": ("layer_norm",),
    "embedding": ("embedding", "index_select"),
}


def group_of(name: str) -> str:
    for group, needles in GROUPS.items():
        if any(needle in name for needle in needles):
            return group
    return "other ops"


def best_time(function, repeats: int) -> float:
    function()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--data-dir", default=os.environ.get("RELEMB_DATA_DIR", "/work/shared/data/relbert"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--profile-batches", type=int, default=10)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    fp32 = RelBERT.from_pretrained(args.model, device="cpu")
    bf16 = RelBERT.from_pretrained(args.model, device="cpu", model_kwargs={"dtype": torch.bfloat16})
    bf16_eager = RelBERT.from_pretrained(
        args.model, device="cpu", model_kwargs={"dtype": torch.bfloat16, "attn_implementation": "eager"}
    )
    pairs = bats_pairs(args.data_dir, 2000)[: args.batch_size]
    counts = token_counts(fp32, pairs)
    flops = forward_flops(counts, fp32.transformer.auto_model.config)
    peaks = {"float32": matmul_rate(torch.device("cpu"), torch.float32)}
    peaks["bfloat16"] = matmul_rate(torch.device("cpu"), torch.bfloat16)
    paths = {
        "fp32": (fp32, "float32", "float32"),
        "bf16 autocast": (fp32, "bfloat16", "bfloat16"),
        "bf16 weights": (bf16, "float32", "bfloat16"),
        "bf16 weights, eager attention": (bf16_eager, "float32", "bfloat16"),
    }
    report: dict = {
        "batch_pairs": len(pairs),
        "tokens_per_pair": float(counts.mean()),
        "forward_flops_per_batch": flops,
        "matmul_peak_flops_per_s": peaks,
        "threads": args.threads,
        "torch": torch.__version__,
        "paths": {},
    }
    print(
        f"batch of {len(pairs)} BATS pairs, {counts.mean():.1f} tokens/pair, {flops / 1e9:.2f} GFLOP forward; "
        f"matmul peak fp32 {peaks['float32'] / 1e9:.0f}, bf16 {peaks['bfloat16'] / 1e9:.0f} GFLOP/s",
        flush=True,
    )
    for name, (model, dtype, precision) in paths.items():
        features = model.transformer.preprocess(pairs)

        def autocast(dtype=dtype):
            if dtype == "float32":
                return contextlib.nullcontext()
            return torch.autocast("cpu", dtype=getattr(torch, dtype))

        def forward(model=model, features=features, autocast=autocast):
            with torch.inference_mode(), autocast():
                model.encoder.forward(dict(features))

        total = best_time(
            lambda model=model, dtype=dtype: model.get_embedding(pairs, args.batch_size, dtype=dtype), args.repeats
        )
        inputs = best_time(lambda model=model: model.transformer.preprocess(pairs), args.repeats)
        forward_only = best_time(forward, args.repeats)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
            for _ in range(args.profile_batches):
                model.get_embedding(pairs, args.batch_size, dtype=dtype)
        groups: dict[str, float] = {}
        top: list[tuple[str, float, int]] = []
        for event in profiler.key_averages():
            seconds = event.self_cpu_time_total / 1e6 / args.profile_batches
            if seconds <= 0:
                continue
            groups[group_of(event.key)] = groups.get(group_of(event.key), 0.0) + seconds
            top.append((event.key, seconds, event.count // args.profile_batches))
        top.sort(key=lambda item: -item[1])
        profiled = sum(groups.values())
        matmul_seconds = groups.get("matmul", 0.0)
        roofline = flops / peaks[precision]
        entry = {
            "get_embedding_seconds": total,
            "pairs_per_s": len(pairs) / total,
            "fraction_of_roofline": roofline / total,
            "input_seconds": inputs,
            "forward_seconds": forward_only,
            "python_and_encode_seconds": max(total - inputs - forward_only, 0.0),
            "profiled_op_seconds": profiled,
            "op_groups_seconds": dict(sorted(groups.items(), key=lambda item: -item[1])),
            "op_groups_share": {group: seconds / profiled for group, seconds in groups.items()},
            "matmul_flops_per_s": flops / matmul_seconds if matmul_seconds else None,
            "matmul_fraction_of_peak": (flops / matmul_seconds) / peaks[precision] if matmul_seconds else None,
            "top_ops": [{"op": op, "seconds": sec, "calls_per_batch": calls} for op, sec, calls in top[:15]],
        }
        report["paths"][name] = entry
        shares = ", ".join(
            f"{group} {share:.0%}" for group, share in sorted(entry["op_groups_share"].items(), key=lambda x: -x[1])
        )
        print(
            f"\n{name}: {entry['pairs_per_s']:.0f} pairs/s ({entry['fraction_of_roofline']:.0%} of the {precision} "
            f"roofline); batch {total * 1e3:.1f} ms = input {inputs * 1e3:.1f} + forward {forward_only * 1e3:.1f} + "
            f"Python/encode {entry['python_and_encode_seconds'] * 1e3:.1f} ms",
            flush=True,
        )
        print(f"  ops (self CPU, profiled {profiled * 1e3:.1f} ms/batch): {shares}")
        if entry["matmul_flops_per_s"]:
            print(
                f"  matrix products {matmul_seconds * 1e3:.1f} ms/batch: {entry['matmul_flops_per_s'] / 1e9:.0f} GFLOP/s "
                f"= {entry['matmul_fraction_of_peak']:.0%} of the {precision} matmul peak"
            )
        for item in entry["top_ops"][:8]:
            print(f"    {item['op']:<55} {item['seconds'] * 1e3:7.2f} ms  x{item['calls_per_batch']}")
    if args.output:
        write_json(args.output, report)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

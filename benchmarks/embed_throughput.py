"""Embedding throughput: relemb's ``get_embedding`` vs the reference RelBERT algorithm vs the roofline.

Times, in one process and on the same model, N unique word pairs (BATS test pairs when a data
folder is given, else generated pairs):

(a) ``RelBERT.get_embedding`` (relemb's path);
(b) the reference RelBERT 2.0.2 algorithm re-implemented: every prompt tokenized on its own and padded
    to 64 tokens, one forward per batch, pooled;
(c) the roofline: the encoder forward's FLOPs for the actual (unpadded) token counts divided by the
    matmul rate measured on this machine at the start of the run.

It checks that (a) equals the plain path (the same model, one pair at a time, no padding, fp32) on a
sample, and with ``--stream N`` embeds N generated pairs to a ``.npy`` file in a fresh process and reports
its peak RSS. Timings are the best of ``--repeats`` interleaved runs (the machine may be shared).

    flock /tmp/relemb-heavy.lock python benchmarks/embed_throughput.py --data-dir /work/shared/data/relbert
    python benchmarks/embed_throughput.py --device cuda --dtype bfloat16 --batch-size 512
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from relemb import RelBERT, __version__  # noqa: E402
from relemb._compat import INFERENCE_BACKEND_PACKAGES  # noqa: E402
from relemb._io import write_json  # noqa: E402
from relemb.choices import EMBEDDING_DTYPES  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: The compute dtypes of ``get_embedding(dtype=...)`` as torch dtypes (for the matmul roofline).
DTYPES = {name: getattr(torch, name) for name in EMBEDDING_DTYPES}
REFERENCE_MAX_LENGTH = 64


# ---------------------------------------------------------------------- inputs
def bats_pairs(data_dir: str, n: int) -> list[tuple[str, str]]:
    """The first ``n`` unique pairs (stems, then choices, in file order) of the BATS test questions."""
    try:
        from relemb.data import load_analogy

        questions = [(q.stem, q.choice) for q in load_analogy("bats", "test", data_dir)]
    except ImportError:  # the data layer is not installed: read the mirror's file directly
        path = Path(data_dir) / "analogy_questions" / "dataset" / "bats" / "test.jsonl"
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        questions = [(r["stem"], r["choice"]) for r in records]
    unique: dict[tuple[str, str], None] = {}
    for stem, choices in questions:
        for pair in (stem, *choices):
            unique.setdefault((pair[0], pair[1]), None)
    pairs = list(unique)
    if len(pairs) < n:
        raise SystemExit(f"BATS test has only {len(pairs)} unique pairs; ask for --n {len(pairs)} or fewer")
    return pairs[:n]


def generated_pairs(model: RelBERT, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` unique pairs of alphabetic whole-word vocabulary entries, drawn reproducibly."""
    vocab = sorted(word for word in model.tokenizer.get_vocab() if word.isascii() and word.isalpha() and len(word) >= 3)
    if len(vocab) ** 2 < 2 * n:
        raise SystemExit(f"the tokenizer has too few whole words ({len(vocab)}) to draw {n} unique pairs")
    rng = random.Random(seed)
    unique: dict[tuple[str, str], None] = {}
    while len(unique) < n:
        head, tail = rng.choice(vocab), rng.choice(vocab)
        if head != tail:
            unique.setdefault((head, tail), None)
    return list(unique)


# ---------------------------------------------------------------------- the three measurements
def matmul_rate(device: torch.device, dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """Best observed FLOP/s of ``size x size`` matmuls (the machine's matmul peak in practice)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    iters = 10 if device.type == "cpu" else 100
    best = float("inf")
    for _ in range(repeats + 1):  # the first round warms up
        synchronize(device)
        start = time.perf_counter()
        for _ in range(iters):
            torch.matmul(a, b)
        synchronize(device)
        best = min(best, (time.perf_counter() - start) / iters)
    return 2 * size**3 / best


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_flops(token_counts: np.ndarray, config) -> float:
    """Encoder forward FLOPs for sequences of ``token_counts`` tokens (no padding).

    Per layer and sequence of L tokens: Q, K, V and output projections 4*2*L*h^2, feed-forward
    2*2*L*h*i, attention scores and context 2*2*L^2*h. Embeddings, norms and activations are left out.
    """
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    lengths = token_counts.astype(np.float64)
    per_layer = 8 * lengths * h * h + 4 * lengths * h * i + 4 * lengths**2 * h
    return float(layers * per_layer.sum())


def reference_embed(model: RelBERT, pairs: list[tuple[str, str]], batch_size: int) -> np.ndarray:
    """The RelBERT 2.0.2 algorithm: per-prompt tokenization padded to 64, a forward per batch, pooling.

    The reference sums the pooled hidden states; this divides by the token count (a mean) so the
    result can be compared with relemb's. Pooling follows ``model.pooling``.
    """
    tokenizer, encoder = model.tokenizer, model.transformer.auto_model
    texts = model.transformer.render(pairs)
    encoded = [
        tokenizer(text, max_length=REFERENCE_MAX_LENGTH, truncation=True, padding="max_length") for text in texts
    ]
    device = encoder.device
    outputs = []
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            batch = encoded[start : start + batch_size]
            features = {key: torch.tensor([e[key] for e in batch], device=device) for key in batch[0]}
            hidden = encoder(**features, return_dict=True)["last_hidden_state"].float()
            ids, attention = features["input_ids"], features["attention_mask"]
            is_mask = ids == tokenizer.mask_token_id
            if model.pooling == "mask":
                labels = is_mask
            elif model.pooling == "average":
                labels = attention.bool()
            else:
                labels = attention.bool() & ~is_mask
            labels = labels.unsqueeze(-1).float()
            outputs.append(((hidden * labels).sum(1) / labels.sum(1)).cpu())
    return torch.cat(outputs).numpy()


def plain_embed(model: RelBERT, pairs: list[tuple[str, str]]) -> np.ndarray:
    """The plain path: one pair at a time (unbatched, no padding) through the same encoder."""
    return np.stack([model.encoder.encode([pair], batch_size=1, convert_to_numpy=True)[0] for pair in pairs])


def token_counts(model: RelBERT, pairs: list[tuple[str, str]]) -> np.ndarray:
    texts = model.transformer.render(pairs)
    ids = model.tokenizer(texts, truncation=True, max_length=model.max_length)["input_ids"]
    return np.array([len(row) for row in ids])


# ---------------------------------------------------------------------- streaming (child process)
def stream_child(args: argparse.Namespace) -> None:
    """Embed ``args.stream`` generated pairs to a .npy file; print one JSON line with time and peak RSS."""
    torch.set_num_threads(args.threads)
    model = load_model(args)
    pairs = generated_pairs(model, args.stream, seed=1)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with tempfile.TemporaryDirectory(dir=args.stream_dir) as folder:
        target = Path(folder) / "stream.npy"
        start = time.perf_counter()
        matrix = model.get_embedding(
            pairs,
            batch_size=args.batch_size,
            output=target,
            chunk_size=args.chunk_size,
            show_progress_bar=args.progress,
            dtype=args.dtype,
        )
        seconds = time.perf_counter() - start
        check_rows = np.linspace(0, len(pairs) - 1, 8).astype(int)
        sample = model.get_embedding([pairs[i] for i in check_rows], batch_size=args.batch_size, dtype=args.dtype)
        stream_vs_memory = float(np.abs(np.asarray(matrix[check_rows]) - sample).max())
        shape, size = list(matrix.shape), target.stat().st_size
        del matrix
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "pairs": len(pairs),
                "seconds": seconds,
                "pairs_per_s": len(pairs) / seconds,
                "peak_rss_bytes": peak,
                "rss_after_model_load_bytes": rss_before,
                "output_shape": shape,
                "output_bytes": size,
                "chunk_size": args.chunk_size,
                "precision": args.dtype,
                "max_abs_diff_stream_vs_memory": stream_vs_memory,
            }
        )
    )


def run_stream(args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        "--stream-child",
        "--stream",
        str(args.stream),
        "--model",
        args.model,
        "--template",
        args.template,
        "--batch-size",
        str(args.batch_size),
        "--device",
        args.device,
        "--dtype",
        args.dtype,
        "--threads",
        str(args.threads),
        "--chunk-size",
        str(args.chunk_size),
    ]
    if args.stream_dir:
        command += ["--stream-dir", args.stream_dir]
    if args.progress:
        command.append("--progress")
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------- main
def load_model(args: argparse.Namespace) -> RelBERT:
    """The model in fp32 weights; lower precisions run through ``get_embedding(dtype=...)`` (autocast)."""
    return RelBERT.from_pretrained(args.model, template=args.template, device=args.device)


def machine_info(threads: int, device: torch.device) -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "relemb": __version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": threads,
    }
    try:
        import sentence_transformers
        import transformers

        info["sentence_transformers"] = sentence_transformers.__version__
        info["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover
        pass
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        names = [line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")]
        info["cpu_model"] = names[0] if names else platform.processor()
    except (OSError, subprocess.CalledProcessError):
        info["cpu_model"] = platform.processor()
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="minilm", help="model (default: the embedded MiniLM)")
    parser.add_argument("--data-dir", default=os.environ.get("RELEMB_DATA_DIR"), help="relbert data mirror")
    parser.add_argument("--n", type=int, default=2000, help="unique pairs to embed (default 2000)")
    parser.add_argument("--template", default="d")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--dtype",
        "--precision",
        dest="dtype",
        choices=EMBEDDING_DTYPES,
        default="float32",
        help="also time get_embedding(dtype=...) in this lower precision (autocast); fp32 is always timed "
        "(--precision is the old name)",
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds; the best counts")
    parser.add_argument("--check", type=int, default=200, help="pairs compared with the plain path")
    parser.add_argument("--stream", type=int, default=0, help="also stream this many pairs to .npy (fresh process)")
    parser.add_argument("--chunk-size", type=int, default=2048, help="get_embedding chunk size for --stream")
    parser.add_argument("--stream-dir", default=None, help="folder for the streamed .npy (default: temp dir)")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    parser.add_argument("--output", default=None, help="JSON path (default: results/embed_throughput_<device>.json)")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time fp32 with the encoder under torch.compile(dynamic=True, options={'freezing': True})",
    )
    parser.add_argument(
        "--backend",
        default=None,
        choices=tuple(INFERENCE_BACKEND_PACKAGES),
        help="also time fp32 through this sentence-transformers backend (extra relemb[openvino] / relemb[onnx])",
    )
    parser.add_argument("--stream-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.stream_child:
        stream_child(args)
        return 0
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    precisions = ["float32"] + ([args.dtype] if args.dtype != "float32" else [])
    peaks = {p: matmul_rate(device, DTYPES[p]) for p in precisions}

    model = load_model(args)
    source = "bats/test" if args.data_dir else "generated"
    pairs = bats_pairs(args.data_dir, args.n) if args.data_dir else generated_pairs(model, args.n)
    counts = token_counts(model, pairs)
    flops = forward_flops(counts, model.transformer.auto_model.config)
    peak_text = ", ".join(f"{p} {rate / 1e9:.1f}" for p, rate in peaks.items())
    print(
        f"{len(pairs)} unique pairs ({source}), tokens/pair mean {counts.mean():.1f} (min {counts.min()}, "
        f"max {counts.max()}); {flops / 1e12:.3f} TFLOP of forward; matmul peak GFLOP/s: {peak_text} "
        f"({args.threads} threads, {device})",
        flush=True,
    )

    methods = {
        f"relemb {p}": (
            lambda p=p: model.get_embedding(pairs, args.batch_size, dtype=p, show_progress_bar=args.progress)
        )
        for p in precisions
    }
    compile_seconds = None
    if args.compile:
        compiled = load_model(args)
        compiled.encoder.compile(dynamic=True, options={"freezing": True})
        start = time.perf_counter()
        compiled.get_embedding(pairs[: args.batch_size], args.batch_size)  # compiles
        compile_seconds = time.perf_counter() - start
        print(f"torch.compile: first call {compile_seconds:.1f}s", flush=True)
        methods["relemb float32 compiled"] = lambda: compiled.get_embedding(pairs, args.batch_size)
    backend_seconds = None
    if args.backend:
        start = time.perf_counter()
        exported = RelBERT.from_pretrained(args.model, template=args.template, device=args.device, backend=args.backend)
        backend_seconds = time.perf_counter() - start
        print(f"backend {args.backend}: load and export {backend_seconds:.1f}s", flush=True)
        methods[f"relemb float32 {args.backend}"] = lambda: exported.get_embedding(pairs, args.batch_size)
    methods["reference float32"] = lambda: reference_embed(model, pairs, args.batch_size)
    for name in methods:  # warm-up (allocator, kernels, autocast caches)
        if name == "reference float32":
            reference_embed(model, pairs[: args.batch_size], args.batch_size)
        elif name.startswith("relemb float32 compiled"):
            compiled.get_embedding(pairs[: args.batch_size], args.batch_size)
        elif args.backend and name == f"relemb float32 {args.backend}":
            exported.get_embedding(pairs[: args.batch_size], args.batch_size)
        else:
            model.get_embedding(pairs[: args.batch_size], args.batch_size, dtype=name.split()[1])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    times: dict[str, list[float]] = {name: [] for name in methods}
    embeddings: dict[str, np.ndarray] = {}
    for round_ in range(args.repeats):
        for name, method in methods.items():
            synchronize(device)
            start = time.perf_counter()
            embeddings[name] = method()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items()), flush=True)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    # equality with the plain fp32 path on a sample spread over the whole list
    rows = np.unique(np.linspace(0, len(pairs) - 1, min(args.check, len(pairs))).astype(int))
    plain = plain_embed(model, [pairs[i] for i in rows])
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    reference_best = min(times["reference float32"])
    reference_median = float(np.median(times["reference float32"]))
    paths = {}
    for name, values in times.items():
        precision = name.split()[1]
        best, median = min(values), float(np.median(values))
        roofline_seconds = flops / peaks[precision]
        paths[name] = {
            "precision": precision,
            "seconds_best": best,
            "seconds_median": median,
            "seconds_all": values,
            "pairs_per_s": len(pairs) / best,
            "speedup_vs_reference": reference_best / best,
            "speedup_vs_reference_median": reference_median / median,
            "roofline_pairs_per_s": len(pairs) / roofline_seconds,
            "fraction_of_roofline": roofline_seconds / best,
            "achieved_flops_per_s": flops / best,
            "max_abs_diff_vs_plain_fp32": float(np.abs(embeddings[name][rows] - plain).max()),
        }
    result = {
        "benchmark": "embed_throughput",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(args.threads, device),
        "settings": {
            "model": args.model,
            "template": args.template,
            "pooling": model.pooling,
            "batch_size": args.batch_size,
            "device": args.device,
            "precisions": precisions,
            "pairs": len(pairs),
            "pair_source": source,
            "repeats": args.repeats,
            "compile_first_call_seconds": compile_seconds,
            "backend": args.backend,
            "backend_load_seconds": backend_seconds,
            "pairs_checked_against_plain": int(len(rows)),
            "load_average_1min_before_after": [load, load_after],
        },
        "tokens_per_pair": {"mean": float(counts.mean()), "min": int(counts.min()), "max": int(counts.max())},
        "forward_flops": flops,
        "matmul_peak_flops_per_s": peaks,
        "paths": paths,
        "targets_float32": {
            "speedup_vs_reference": paths["relemb float32"]["speedup_vs_reference"],
            "fraction_of_roofline": paths["relemb float32"]["fraction_of_roofline"],
            "max_abs_diff_vs_plain_fp32": paths["relemb float32"]["max_abs_diff_vs_plain_fp32"],
        },
        "peak_rss_bytes": peak_rss,
    }
    if args.stream:
        print(f"streaming {args.stream} pairs to .npy in a fresh process ...", flush=True)
        result["stream"] = run_stream(args)

    print()
    print("| path | pairs/s (best) | vs reference (best / median) | of roofline | max abs diff vs plain fp32 |")
    print("|---|---|---|---|---|")
    for name, path in paths.items():
        print(
            f"| {name} | {path['pairs_per_s']:.1f} | {path['speedup_vs_reference']:.2f}x / "
            f"{path['speedup_vs_reference_median']:.2f}x | {path['fraction_of_roofline']:.0%} | "
            f"{path['max_abs_diff_vs_plain_fp32']:.1e} |"
        )
    for precision, rate in peaks.items():
        seconds = flops / rate
        print(
            f"| roofline {precision} ({rate / 1e9:.0f} GFLOP/s) | {len(pairs) / seconds:.1f} | "
            f"{reference_best / seconds:.2f}x | 100% | |"
        )
    print(f"peak RSS {peak_rss / 2**20:.0f} MiB; load average {load} -> {load_after}")
    if args.stream:
        stream = result["stream"]
        print(
            f"stream: {stream['pairs']} pairs in {stream['seconds']:.0f}s ({stream['pairs_per_s']:.1f} pairs/s), "
            f"peak RSS {stream['peak_rss_bytes'] / 2**20:.0f} MiB, .npy {stream['output_bytes'] / 2**20:.0f} MiB"
        )
    output = Path(args.output) if args.output else RESULTS / f"embed_throughput_{device.type}.json"
    write_json(output, result)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

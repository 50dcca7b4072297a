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

``--precisions`` times several inference precisions in one run (see :data:`PRECISIONS`: fp32, bf16 autocast,
bf16 weights, OpenVINO fp32/bf16, int8 through :func:`relemb.quantization.export_int8`) and scores each on the
analogy test sets against fp32 (accuracy with its 95% interval, and the paired difference with its interval
and McNemar's p), for ``--model`` and for a ``--trained`` model. ``--reference-venv PATH`` also times the real
relbert 2.0.2 ``get_embedding`` in that environment's interpreter (``benchmarks/relbert_reference.py``), once
per round, on the same pairs.

    flock /tmp/relemb-heavy.lock python benchmarks/embed_throughput.py --data-dir /work/shared/data/relbert
    flock /tmp/relemb-heavy.lock /tmp/ov-venv/bin/python benchmarks/embed_throughput.py \
        --precisions fp32 bf16 bf16-weights ov-fp32 ov-bf16 int8 --trained RUN_DIR \
        --reference-venv /tmp/relbert-venv --output benchmarks/results/embed_precisions_cpu.json
    python benchmarks/embed_throughput.py --device cuda --precisions fp32 bf16 bf16-weights --batch-size 512
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from relemb import RelBERT, __version__  # noqa: E402
from relemb._compat import INFERENCE_BACKEND_PACKAGES, is_installed  # noqa: E402
from relemb._io import write_json  # noqa: E402
from relemb.choices import EMBEDDING_DTYPES  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: The compute dtypes of ``get_embedding(dtype=...)`` as torch dtypes (for the matmul roofline).
DTYPES = {name: getattr(torch, name) for name in EMBEDDING_DTYPES}
DTYPES["int8"] = torch.int8
REFERENCE_MAX_LENGTH = 64
#: The inference paths of ``--precisions``: name -> (path label, compute precision of its matmuls, backend).
PRECISIONS: dict[str, tuple[str, str, str]] = {
    "fp32": ("relemb float32", "float32", "torch"),
    "bf16": ("relemb bfloat16 autocast", "bfloat16", "torch"),
    "bf16-weights": ("relemb bfloat16 weights", "bfloat16", "torch"),
    "bf16-weights-eager": ("relemb bfloat16 weights eager attention", "bfloat16", "torch"),
    "ov-fp32": ("relemb float32 openvino", "float32", "openvino"),
    "ov-bf16": ("relemb bfloat16 openvino", "bfloat16", "openvino"),
    "int8": ("relemb int8 openvino", "int8", "openvino"),
    "int8-bf16": ("relemb int8+bf16 openvino", "int8", "openvino"),
}
ANALOGY_SETS = ("u2", "u4", "google", "bats")


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
    if dtype == torch.int8:  # torch's int8 GEMM (int32 accumulation): a lower bound of the int8 peak
        a = torch.randint(-128, 127, (size, size), device=device, dtype=dtype)
        b = torch.randint(-128, 127, (size, size), device=device, dtype=dtype)
        matmul = torch._int_mm
    else:
        a = torch.randn(size, size, device=device, dtype=dtype)
        b = torch.randn(size, size, device=device, dtype=dtype)
        matmul = torch.matmul
    iters = 10 if device.type == "cpu" else 100
    best = float("inf")
    for _ in range(repeats + 1):  # the first round warms up
        synchronize(device)
        start = time.perf_counter()
        for _ in range(iters):
            matmul(a, b)
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
def load_model(args: argparse.Namespace, name: str | None = None, **kwargs: Any) -> RelBERT:
    """The model in fp32 weights (``kwargs`` go to ``from_pretrained``); lower precisions run through
    ``get_embedding(dtype=...)`` (autocast) unless the path loads them otherwise (:func:`build_paths`)."""
    template = args.template if name in (None, args.model) else None  # a trained model keeps its own template
    return RelBERT.from_pretrained(name or args.model, template=template, device=args.device, **kwargs)


# ---------------------------------------------------------------------- precisions
@dataclass
class InferencePath:
    """One way of embedding: a loaded model and the ``get_embedding`` dtype it runs with."""

    key: str  # the --precisions name (or a legacy path's)
    name: str  # the label in tables and JSON
    precision: str  # the matmul precision, for the roofline: float32 | bfloat16 | int8
    model: RelBERT
    dtype: str = "float32"
    load_seconds: float = 0.0
    details: dict = field(default_factory=dict)

    def get_embedding(self, pairs, batch_size: int = 64, show_progress_bar: bool | None = None) -> np.ndarray:
        return self.model.get_embedding(pairs, batch_size, show_progress_bar=show_progress_bar, dtype=self.dtype)


def ov_config(precision_hint: str, threads: int) -> dict:
    """OpenVINO's compile options: the precision hint of the ops that are not int8, and the thread count."""
    return {"INFERENCE_PRECISION_HINT": precision_hint, "INFERENCE_NUM_THREADS": str(threads)}


def build_paths(
    args: argparse.Namespace, name: str, keys: list[str], base: RelBERT, int8_root: Path, tag: str
) -> dict[str, InferencePath]:
    """The inference paths ``keys`` (of :data:`PRECISIONS`) of model ``name``; ``base`` is its fp32 torch model.
    The int8 model is exported once into ``int8_root / tag`` with :func:`relemb.quantization.export_int8`."""
    paths: dict[str, InferencePath] = {}
    int8_folder = None
    for key in keys:
        label, precision, backend = PRECISIONS[key]
        start = time.perf_counter()
        details: dict = {}
        if key == "fp32":
            model, dtype = base, "float32"
        elif key == "bf16":
            model, dtype = base, "bfloat16"
        elif key.startswith("bf16-weights"):  # the encoder's own dtype: no autocast, no per-op casts
            kwargs: dict[str, Any] = {"dtype": torch.bfloat16}
            if key.endswith("eager"):
                kwargs["attn_implementation"] = "eager"
            model, dtype = load_model(args, name, model_kwargs=kwargs), "float32"
            details["model_kwargs"] = {key: str(value) for key, value in kwargs.items()}
        elif key in ("ov-fp32", "ov-bf16"):
            hint = "f32" if key == "ov-fp32" else "bf16"
            config = ov_config(hint, args.threads)
            model = load_model(args, name, backend="openvino", model_kwargs={"ov_config": config})
            dtype, details["ov_config"] = "float32", config
        else:  # int8, int8-bf16
            from relemb.quantization import INT8_FILE_NAME, export_int8, load_int8

            if int8_folder is None:
                int8_folder = int8_root / tag
                if (int8_folder / INT8_FILE_NAME).is_file() and args.reuse_int8:
                    export_seconds = None
                else:
                    export_start = time.perf_counter()
                    export_int8(
                        base,
                        int8_folder,
                        calibration=args.calibration,
                        num_samples=args.calibration_samples,
                        data_dir=args.data_dir,
                    )
                    export_seconds = time.perf_counter() - export_start
                    print(f"{tag}: int8 export {export_seconds:.1f}s -> {int8_folder}", flush=True)
                start = time.perf_counter()
            hint = "f32" if key == "int8" else "bf16"
            config = ov_config(hint, args.threads)
            model = load_int8(int8_folder, device=args.device, model_kwargs={"ov_config": config})
            dtype = "float32"
            details.update(
                ov_config=config,
                folder=str(int8_folder),
                export_seconds=export_seconds,
                calibration=args.calibration,
                calibration_samples=args.calibration_samples,
            )
        paths[key] = InferencePath(key, label, precision, model, dtype, time.perf_counter() - start, details)
    return paths


def score_analogies(path: InferencePath, datasets: list[str], args: argparse.Namespace) -> dict:
    from relemb.evaluation import evaluate_analogy

    return {
        dataset: evaluate_analogy(path, dataset, "test", data_dir=args.data_dir, batch_size=args.batch_size)
        for dataset in datasets
    }


def accuracy_table(scores: dict[str, dict], datasets: list[str]) -> dict:
    """Per path and dataset: accuracy with its interval, and the paired difference against fp32."""
    from relemb.evaluation.statistics import paired_comparison

    base = scores["fp32"]
    table: dict = {}
    for key, results in scores.items():
        table[key] = {}
        for dataset in datasets:
            result = results[dataset]
            entry = {
                "accuracy": result.accuracy,
                "interval": list(result.interval),
                "n_questions": result.n_questions,
                "questions_sha256": result.questions_sha256,
            }
            if key != "fp32":
                entry["vs_fp32"] = paired_comparison(base[dataset].correct, result.correct).to_dict()
            table[key][dataset] = entry
    return table


def score_all(
    args: argparse.Namespace, paths: dict[str, InferencePath], datasets: list[str], int8_root: Path
) -> dict[str, dict]:
    """The accuracy tables of ``paths`` (the model's) and of the same paths on ``--trained``."""
    accuracy: dict[str, dict] = {}
    if not datasets:
        return accuracy
    print(f"scoring {', '.join(paths)} on {', '.join(datasets)} (test) ...", flush=True)
    scores = {key: score_analogies(path, datasets, args) for key, path in paths.items()}
    accuracy[args.model] = accuracy_table(scores, datasets)
    if args.trained:
        trained = load_model(args, args.trained)
        trained_paths = build_paths(args, args.trained, list(paths), trained, int8_root, "trained")
        trained_scores = {key: score_analogies(path, datasets, args) for key, path in trained_paths.items()}
        accuracy[args.trained] = accuracy_table(trained_scores, datasets)
    return accuracy


def print_accuracy(tag: str, table: dict, datasets: list[str]) -> None:
    print(f"\nanalogy accuracy ({tag}, test; [95% interval]; difference vs fp32 [paired 95% interval], McNemar p)")
    print("| path | " + " | ".join(datasets) + " |")
    print("|---|" + "---|" * len(datasets))
    for key, results in table.items():
        cells = []
        for dataset in datasets:
            entry = results[dataset]
            low, high = entry["interval"]
            cell = f"{entry['accuracy']:.1%} [{low:.1%}, {high:.1%}]"
            if "vs_fp32" in entry:
                comparison = entry["vs_fp32"]
                d_low, d_high = comparison["interval"]
                cell += f"; {comparison['difference'] * 100:+.1f} [{d_low * 100:+.1f}, {d_high * 100:+.1f}] p={comparison['p_value']:.2f}"
            cells.append(cell)
        print(f"| {key} | " + " | ".join(cells) + " |")


# ---------------------------------------------------------------------- the real reference (relbert 2.0.2)
def reference_python(venv: str) -> str:
    python = Path(venv) / "bin" / "python"
    if not python.is_file():
        raise SystemExit(f"--reference-venv {venv}: no bin/python there (see docs/performance.md to build it)")
    return str(python)


def model_folder(name: str) -> str:
    """A local folder of the model for the reference (which cannot load relemb's embedded ``minilm`` name)."""
    from relemb.checkpoint import resolve_model_name

    folder = resolve_model_name(name)
    if not Path(folder).is_dir():
        raise SystemExit(f"--reference-venv needs a local model folder, got {name!r}")
    return folder


def run_reference(args: argparse.Namespace, model: RelBERT, pairs_file: str, embeddings_file: str | None) -> dict:
    """One timed call of relbert 2.0.2 ``get_embedding`` in the reference interpreter (after its own warm-up)."""
    command = [
        reference_python(args.reference_venv),
        str(Path(__file__).resolve().parent / "relbert_reference.py"),
        "--model",
        model_folder(args.model),
        "--template",
        model.template,
        "--pooling",
        model.pooling,
        "--pairs",
        pairs_file,
        "--batch-size",
        str(args.batch_size),
        "--threads",
        str(args.threads),
    ]
    if embeddings_file:
        command += ["--embeddings", embeddings_file]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": ""}
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


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


def result_header(benchmark: str, args: argparse.Namespace, device: torch.device) -> dict:
    return {
        "benchmark": benchmark,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(args.threads, device),
    }


def model_settings(args: argparse.Namespace) -> dict:
    return {"model": args.model, "trained": args.trained, "template": args.template}


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
    parser.add_argument(
        "--precisions",
        nargs="+",
        choices=tuple(PRECISIONS),
        default=None,
        help="time these inference paths in one run and score each on the analogy test sets against fp32 "
        "(fp32 is always included; ov-*/int8* need the openvino extra, int8* also nncf)",
    )
    parser.add_argument("--trained", default=None, help="also score the precisions on this trained model")
    parser.add_argument(
        "--accuracy",
        nargs="*",
        default=None,
        help=f"analogy test sets scored with --precisions (default: {' '.join(ANALOGY_SETS)}; none: skip)",
    )
    parser.add_argument(
        "--calibration",
        default=None,
        help="int8 calibration pairs (default: semeval2012 with --data-dir, else starter)",
    )
    parser.add_argument("--calibration-samples", type=int, default=300)
    parser.add_argument("--int8-dir", default=None, help="where the int8 folders are written (default: a temp dir)")
    parser.add_argument("--reuse-int8", action="store_true", help="reuse int8 folders already in --int8-dir")
    parser.add_argument("--reference-venv", default=None, help="also time relbert 2.0.2 in this virtual env")
    parser.add_argument(
        "--devices",
        nargs="+",
        default=None,
        help="also time fp32 get_embedding(device=[...]) over a pool of processes, one per device (cpu cpu, "
        "cuda:0 cuda:1); the pool is started inside every timed call, as a user's call does",
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
    parser.add_argument(
        "--skip-timing",
        action="store_true",
        help="only score the --precisions on the analogy sets (no timing: it needs no quiet machine)",
    )
    parser.add_argument("--stream-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.stream_child:
        stream_child(args)
        return 0
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    keys = ["fp32"] + [key for key in dict.fromkeys(args.precisions or []) if key != "fp32"]
    if args.dtype != "float32" and not args.precisions:
        keys.append("bf16" if args.dtype == "bfloat16" else "fp16")
    if args.backend == "openvino" and "ov-fp32" not in keys:
        keys.append("ov-fp32")
    needs_openvino = [key for key in keys if PRECISIONS.get(key, ("", "", "torch"))[2] == "openvino"]
    if needs_openvino and not is_installed("optimum.intel"):
        raise SystemExit(f"{', '.join(needs_openvino)} need the openvino extra: pip install 'relemb[openvino]' nncf")
    if any(key.startswith("int8") for key in keys) and not is_installed("nncf"):
        raise SystemExit("int8 needs nncf: pip install 'relemb[int8]'")
    if args.calibration is None:
        args.calibration = "semeval2012" if args.data_dir else "starter"
    datasets = list(ANALOGY_SETS if args.accuracy is None else args.accuracy) if args.precisions else []
    if datasets and not args.data_dir:
        raise SystemExit("scoring the precisions needs the analogy sets: pass --data-dir (or --accuracy with no sets)")
    precisions = list(dict.fromkeys(["float32"] + [PRECISIONS.get(k, ("", "float16", ""))[1] for k in keys]))
    peaks = {} if args.skip_timing else {p: matmul_rate(device, DTYPES[p]) for p in precisions}

    model = load_model(args)
    source = "bats/test" if args.data_dir else "generated"
    pairs = bats_pairs(args.data_dir, args.n) if args.data_dir else generated_pairs(model, args.n)
    counts = token_counts(model, pairs)
    flops = forward_flops(counts, model.transformer.auto_model.config)
    peak_text = ", ".join(f"{p} {rate / 1e9:.1f}" for p, rate in peaks.items())
    print(
        f"{len(pairs)} unique pairs ({source}), tokens/pair mean {counts.mean():.1f} (min {counts.min()}, "
        f"max {counts.max()}); {flops / 1e12:.3f} TFLOP of forward; matmul peak GFLOP/s (int8: GOP/s): {peak_text} "
        f"({args.threads} threads, {device})",
        flush=True,
    )

    temporary = tempfile.TemporaryDirectory(prefix="embed-throughput-")
    int8_root = Path(args.int8_dir) if args.int8_dir else Path(temporary.name)
    if "fp16" in keys:  # legacy --dtype float16: autocast
        PRECISIONS.setdefault("fp16", ("relemb float16 autocast", "float16", "torch"))
    legacy = [key for key in keys if key == "fp16"]
    paths = build_paths(args, args.model, [key for key in keys if key not in legacy], model, int8_root, "model")
    for key in legacy:
        paths[key] = InferencePath(key, PRECISIONS[key][0], "float16", model, "float16")
    for path in paths.values():
        if path.load_seconds > 1:
            print(f"{path.name}: loaded in {path.load_seconds:.1f}s", flush=True)

    if args.skip_timing:
        accuracy = score_all(args, paths, datasets, int8_root)
        for tag, table in accuracy.items():
            print_accuracy(tag, table, datasets)
        summary = {
            **result_header("embed_accuracy", args, device),
            "settings": {
                **model_settings(args),
                "paths": keys,
                "calibration": args.calibration,
                "calibration_samples": args.calibration_samples,
                "datasets": datasets,
            },
            "paths": {path.key: {"name": path.name, **path.details} for path in paths.values()},
            "analogy_accuracy": accuracy,
        }
        output = Path(args.output) if args.output else RESULTS / f"embed_accuracy_{device.type}.json"
        write_json(output, summary)
        print(f"wrote {output}")
        temporary.cleanup()
        return 0

    methods: dict[str, Callable[[], np.ndarray]] = {
        path.name: (lambda path=path: path.get_embedding(pairs, args.batch_size, show_progress_bar=args.progress))
        for path in paths.values()
    }
    method_precision = {path.name: path.precision for path in paths.values()}
    warmups: dict[str, Callable[[], Any]] = {
        path.name: (lambda path=path: path.get_embedding(pairs[: args.batch_size], args.batch_size))
        for path in paths.values()
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
        warmups["relemb float32 compiled"] = lambda: compiled.get_embedding(pairs[: args.batch_size], args.batch_size)
        method_precision["relemb float32 compiled"] = "float32"
    if args.devices:
        pooled = f"relemb float32 {len(args.devices)} processes ({' '.join(args.devices)})"
        methods[pooled] = lambda: model.get_embedding(pairs, args.batch_size, device=args.devices)
        warmups[pooled] = lambda: None  # every call starts its own pool: nothing to warm up in this process
        method_precision[pooled] = "float32"
    methods["reference float32"] = lambda: reference_embed(model, pairs, args.batch_size)
    warmups["reference float32"] = lambda: reference_embed(model, pairs[: args.batch_size], args.batch_size)
    method_precision["reference float32"] = "float32"
    pairs_file = None
    if args.reference_venv:
        pairs_file = str(Path(temporary.name) / "pairs.json")
        with open(pairs_file, "w", encoding="utf-8") as handle:
            json.dump([list(pair) for pair in pairs], handle)
    for warmup in warmups.values():  # allocator, kernels, autocast caches, OpenVINO compilation
        warmup()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    times: dict[str, list[float]] = {name: [] for name in methods}
    embeddings: dict[str, np.ndarray] = {}
    reference_runs: list[dict] = []
    reference_name = "relbert 2.0.2 get_embedding"
    if args.reference_venv:
        times[reference_name] = []
        method_precision[reference_name] = "float32"
    for round_ in range(args.repeats):
        for name, method in methods.items():
            synchronize(device)
            start = time.perf_counter()
            embeddings[name] = method()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
        if args.reference_venv:  # its own process: model load and warm-up untimed, one timed call per round
            assert pairs_file is not None
            last = round_ == args.repeats - 1
            vectors_file = str(Path(temporary.name) / "reference.npy") if last else None
            run = run_reference(args, model, pairs_file, vectors_file)
            reference_runs.append(run)
            times[reference_name].append(run["seconds"][0])
            if vectors_file:
                embeddings[reference_name] = np.load(vectors_file)
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items()), flush=True)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    # equality with the plain fp32 path on a sample spread over the whole list
    rows = np.unique(np.linspace(0, len(pairs) - 1, min(args.check, len(pairs))).astype(int))
    plain = plain_embed(model, [pairs[i] for i in rows])
    fp32_all = embeddings["relemb float32"]
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    reference_best = min(times["reference float32"])
    reference_median = float(np.median(times["reference float32"]))
    results = {}
    for name, values in times.items():
        precision = method_precision[name]
        best, median = min(values), float(np.median(values))
        roofline_seconds = flops / peaks[precision]
        entry = {
            "precision": precision,
            "seconds_best": best,
            "seconds_median": median,
            "seconds_all": values,
            "pairs_per_s": len(pairs) / best,
            "speedup_vs_reference": reference_best / best,
            "speedup_vs_reference_median": reference_median / median,
            "speedup_vs_relemb_fp32": min(times["relemb float32"]) / best,
            "roofline_pairs_per_s": len(pairs) / roofline_seconds,
            "fraction_of_roofline": roofline_seconds / best,
            "achieved_flops_per_s": flops / best,
        }
        if name == reference_name:  # sums, not means: compare directions
            entry["min_cosine_vs_relemb_fp32"] = float(cosine_rows(embeddings[name], fp32_all).min())
        else:
            entry["max_abs_diff_vs_plain_fp32"] = float(np.abs(embeddings[name][rows] - plain).max())
            entry["min_cosine_vs_relemb_fp32"] = float(cosine_rows(embeddings[name], fp32_all).min())
        results[name] = entry
    for path in paths.values():
        results[path.name].update(key=path.key, load_seconds=path.load_seconds, **path.details)
    if args.reference_venv:
        reference_real = min(times[reference_name])
        results[reference_name]["runs"] = reference_runs
        for name in results:
            results[name]["speedup_vs_relbert_2_0_2"] = reference_real / min(times[name])
        print(f"relbert 2.0.2 (real, {args.reference_venv}): {len(pairs) / reference_real:.1f} pairs/s", flush=True)

    accuracy = score_all(args, paths, datasets, int8_root)

    result = {
        **result_header("embed_throughput", args, device),
        "settings": {
            **model_settings(args),
            "pooling": model.pooling,
            "batch_size": args.batch_size,
            "device": args.device,
            "paths": keys,
            "precisions": precisions,
            "pairs": len(pairs),
            "pair_source": source,
            "repeats": args.repeats,
            "compile_first_call_seconds": compile_seconds,
            "backend": args.backend,
            "calibration": args.calibration if any(k.startswith("int8") for k in keys) else None,
            "calibration_samples": args.calibration_samples if any(k.startswith("int8") for k in keys) else None,
            "reference_venv": args.reference_venv,
            "devices": args.devices,
            "pairs_checked_against_plain": int(len(rows)),
            "load_average_1min_before_after": [load, load_after],
        },
        "tokens_per_pair": {"mean": float(counts.mean()), "min": int(counts.min()), "max": int(counts.max())},
        "forward_flops": flops,
        "matmul_peak_flops_per_s": peaks,
        "paths": results,
        "targets_float32": {
            "speedup_vs_reference": results["relemb float32"]["speedup_vs_reference"],
            "fraction_of_roofline": results["relemb float32"]["fraction_of_roofline"],
            "max_abs_diff_vs_plain_fp32": results["relemb float32"]["max_abs_diff_vs_plain_fp32"],
        },
        "analogy_accuracy": accuracy,
        "peak_rss_bytes": peak_rss,
    }
    if args.stream:
        print(f"streaming {args.stream} pairs to .npy in a fresh process ...", flush=True)
        result["stream"] = run_stream(args)

    print()
    real = " | vs relbert 2.0.2" if args.reference_venv else ""
    print(
        f"| path | pairs/s (best) | vs relemb fp32 | vs reference algorithm (best / median){real} | of roofline | "
        "max abs diff vs plain fp32 | min cosine vs fp32 |"
    )
    print("|---|---|---|---|" + ("---|" if real else "") + "---|---|---|")
    for name, path in results.items():
        diff = path.get("max_abs_diff_vs_plain_fp32")
        cells = [
            name,
            f"{path['pairs_per_s']:.1f}",
            f"{path['speedup_vs_relemb_fp32']:.2f}x",
            f"{path['speedup_vs_reference']:.2f}x / {path['speedup_vs_reference_median']:.2f}x",
        ]
        if real:
            cells.append(f"{path['speedup_vs_relbert_2_0_2']:.2f}x")
        cells += [
            f"{path['fraction_of_roofline']:.0%} of {path['precision']}",
            "" if diff is None else f"{diff:.1e}",
            f"{path['min_cosine_vs_relemb_fp32']:.6f}",
        ]
        print("| " + " | ".join(cells) + " |")
    for precision, rate in peaks.items():
        seconds = flops / rate
        print(
            f"| roofline {precision} ({rate / 1e9:.0f} G{'OP' if precision == 'int8' else 'FLOP'}/s) | "
            f"{len(pairs) / seconds:.1f} | | {reference_best / seconds:.2f}x | |"
            + (" |" if real else "")
            + " 100% | | |"
        )
    for tag, table in accuracy.items():
        print_accuracy(tag, table, datasets)
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
    temporary.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The attention study of docs/attention.md: MiniLM untrained vs fine-tuned vs a random-init control.

Runs, on this machine and in one script:

1. attention-feature probes (binary related/random and multiclass relation type) on BLESS, CogALexV,
   EVALution, K&H+N and ROOT09 for the untrained embedded MiniLM and (``--trained``) a relemb model
   fine-tuned from it, each against the same randomly initialised control, with per-layer hidden-state
   probes;
2. layer-wise attention tracing and rollout from the mask token of a few pairs, for all three encoders;
3. head statistics on a stratified sample of BLESS test, for all three encoders;

prints the tables, writes JSON (``benchmarks/results/attention_minilm.json``) and the figures of the
docs (``docs/figures/attention/``).

Usage::

    RELEMB_DATA_DIR=/work/shared/data/relbert python benchmarks/attention_minilm.py --trained runs/minilm-nce
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from relemb._io import atomic_output, markdown_table  # noqa: E402
from relemb.attention import (  # noqa: E402
    AttentionEncoder,
    analyze_heads,
    plot_dendrogram,
    plot_head_map,
    plot_head_statistics,
    plot_importance,
    plot_layer_scores,
    plot_token_scores,
    probe_relations,
    trace,
)
from relemb.data import LEXICAL_DATASETS, load_lexical, load_lexical_splits, stratified_sample  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TRACE_PAIRS = [("camera", "photographer"), ("barista", "coffee"), ("Tokyo", "Japan")]


def _rounded(value: object) -> object:
    """Floats to 6 decimals, recursively (the JSON is for reading numbers, not for bit-exact replay)."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--trained", default=None, help="a relemb model fine-tuned from MiniLM (e.g. the issue-5 recipe)"
    )
    parser.add_argument("--data-dir", default=os.environ.get("RELEMB_DATA_DIR"), help="relbert data mirror")
    parser.add_argument("--datasets", nargs="+", default=list(LEXICAL_DATASETS))
    parser.add_argument("--max-train", type=int, default=2000, help="probe training pairs per dataset (default 2000)")
    parser.add_argument("--max-test", type=int, default=1000, help="probe test pairs per dataset (default 1000)")
    parser.add_argument(
        "--head-pairs", type=int, default=500, help="BLESS test pairs for head statistics (default 500)"
    )
    parser.add_argument("--figure-dataset", default="BLESS", help="dataset whose probe figures go to the docs")
    parser.add_argument("--figures", default=str(ROOT / "docs" / "figures" / "attention"))
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "attention_minilm.json"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("give --data-dir or set RELEMB_DATA_DIR (the relbert data mirror)")
    figures = Path(args.figures)
    started = time.perf_counter()

    data = {name: load_lexical_splits(name, data_dir=args.data_dir) for name in args.datasets}
    bless = load_lexical("BLESS", "test", data_dir=args.data_dir)
    bless = [bless[i] for i in stratified_sample([r.relation for r in bless], args.head_pairs, args.seed)]

    encoders = {"untrained": AttentionEncoder.from_pretrained("minilm", device="cpu")}
    if args.trained:
        encoders["trained"] = AttentionEncoder.from_pretrained(args.trained, device="cpu")
    control = encoders["untrained"].random_control(seed=args.seed)
    template = encoders["untrained"].template
    for label, encoder in encoders.items():
        if encoder.template != template:
            raise SystemExit(f"the {label} model uses another template ({encoder.template!r}); compare like with like")
    results: dict = {
        "benchmark": "attention_minilm",
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "settings": vars(args),
        "template": template,
        "probes": {},
        "tracing": {},
        "heads": {},
    }

    # 1. probes ----------------------------------------------------------------------------------------
    rows = []
    for name in args.datasets:
        for label, encoder in encoders.items():
            t0 = time.perf_counter()
            report = probe_relations(
                encoder,
                data[name],
                control=control,
                max_train=args.max_train,
                max_test=args.max_test,
                batch_size=args.batch_size,
                seed=args.seed,
                name=name,
            )
            results["probes"].setdefault(name, {})[label] = report.to_dict()
            for task, part in report.tasks.items():
                hidden = [r.macro_f1 for r in part.hidden["model"]]
                control_hidden = [r.macro_f1 for r in part.hidden["control"]]
                rows.append(
                    [
                        name,
                        task,
                        label,
                        f"{100 * part.attention['model'].macro_f1:.1f}",
                        f"{100 * part.attention['control'].macro_f1:.1f}",
                        f"{100 * part.selectivity['macro_f1']:+.1f}",
                        f"{100 * max(hidden):.1f} (L{hidden.index(max(hidden))})",
                        f"{100 * max(control_hidden):.1f}",
                    ]
                )
            if name == args.figure_dataset:
                stem = f"{name}_{label}".replace("&", "").replace("+", "")
                plot_importance(report, figures / f"probe_{stem}_multiclass_importance.png", task="multiclass")
                plot_layer_scores(report, figures / f"probe_{stem}_layers.png")
                plot_dendrogram(report, figures / f"probe_{stem}_dendrogram.png")
            print(f"probes {name} {label}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print("Attention-feature probes, macro F1 (%) on test")
    print(
        markdown_table(
            [
                "dataset",
                "task",
                "model",
                "attention probe",
                "random-init control",
                "selectivity",
                "best hidden layer",
                "control best hidden",
            ],
            rows,
        )
    )

    # 2. tracing ---------------------------------------------------------------------------------------
    everyone = {**encoders, "random-init": control}
    trace_rows = []
    for label, encoder in everyone.items():
        scores = trace(encoder, encoder.inputs_from_pairs(TRACE_PAIRS), start="mask", batch_size=args.batch_size)
        results["tracing"][label] = [s.to_dict() for s in scores]
        stem = label.replace("-", "_")
        plot_token_scores(scores, figures / f"trace_{stem}.png", title=f"MiniLM {label}: from [MASK]")
        plot_token_scores(scores[0], figures / f"trace_{stem}_layers.png", layers=True, title=f"MiniLM {label}")
        for item in scores:
            mass = lambda values, positions: float(sum(values[p] for p in positions))  # noqa: E731
            trace_rows.append(
                [
                    label,
                    " : ".join(item.pair),
                    f"{mass(item.tracing, item.head_positions):.3f}",
                    f"{mass(item.tracing, item.tail_positions):.3f}",
                    f"{mass(item.rollout, item.head_positions):.3f}",
                    f"{mass(item.rollout, item.tail_positions):.3f}",
                ]
            )
    print("\nAttention tracing / rollout from [MASK]: score on the head and tail words")
    print(markdown_table(["model", "pair", "tracing head", "tracing tail", "rollout head", "rollout tail"], trace_rows))

    # 3. heads -----------------------------------------------------------------------------------------
    head_rows = []
    pairs = [(r.head, r.tail) for r in bless]
    relations = [r.relation for r in bless]
    for label, encoder in everyone.items():
        report = analyze_heads(
            encoder, encoder.inputs_from_pairs(pairs), relations=relations, batch_size=args.batch_size, seed=args.seed
        )
        results["heads"][label] = report.to_dict()
        stem = label.replace("-", "_")
        plot_head_statistics(report, figures / f"heads_{stem}_statistics.png")
        plot_head_map(report, figures / f"heads_{stem}_map.png", color_by="mask")
        for stat in ("special", "punctuation", "previous", "next", "head", "tail", "mask", "entropy"):
            mean = report.statistics.mean(stat)
            ((layer, head, value),) = report.statistics.top_heads(stat, 1)
            head_rows.append([label, stat, f"{float(mean.mean()):.3f}", f"L{layer}-H{head} ({value:.3f})"])
    print(f"\nHead statistics on {len(bless)} BLESS test prompts: mean over heads, and the top head")
    print(markdown_table(["model", "statistic", "mean over heads", "top head"], head_rows))

    results["seconds"] = round(time.perf_counter() - started, 1)
    target = Path(args.json)
    with atomic_output(target) as temporary:
        # compact: the head distance matrices and per-feature importances make an indented file large
        temporary.write_text(json.dumps(_rounded(results), separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"\nwrote {target} and the figures in {figures} ({results['seconds']:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

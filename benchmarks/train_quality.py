"""Quality benchmark of relemb-train: does fine-tuning MiniLM on SemEval-2012 raise analogy accuracy?

Measures, in one script and on this machine:

1. the untrained embedded MiniLM with the recipe's template and pooling on U2/U4/Google/BATS (test);
2. a training run with the recipe (``--config``), stopped by a wall-clock budget (default 30 minutes,
   model loading, per-epoch model selection and checkpointing included);
3. the fine-tuned (best-epoch) model on the same test sets;

then prints a table and writes JSON (``benchmarks/results/train_quality.json``). Target: the mean over
the four test sets rises by at least 15 points.

``--tune`` is for choosing the recipe: it scores only validation splits (SemEval-2012 validation and
U2/U4/Google/BATS validation), never a test set, and writes ``benchmarks/results/train_tuning_<tag>.json``.

Usage (heavy: run under the shared lock)::

    RELEMB_DATA_DIR=/work/shared/data/relbert flock /tmp/relemb-heavy.lock \\
        python benchmarks/train_quality.py --config examples/minilm_semeval_nce.yaml
    python benchmarks/train_quality.py --config examples/minilm_semeval_nce.yaml --tune --tag lr1e-4 \\
        --set learning_rate=1e-4 --set num_train_epochs=4
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from relemb import RelBERT  # noqa: E402
from relemb._io import write_json  # noqa: E402
from relemb.evaluation import evaluate_analogy  # noqa: E402
from relemb.train_config import parse_training_arguments, read_config_file  # noqa: E402
from relemb.training import train  # noqa: E402

BENCHMARK_SETS = ["u2", "u4", "google", "bats"]
RESULTS_DIR = Path(__file__).resolve().parent / "results"


class TimeBudget(TrainerCallback):
    """Stop training once ``seconds`` of wall time have passed since ``start`` (checked after each step;
    the epoch in progress is then evaluated and checkpointed like any other)."""

    def __init__(self, seconds: float, start: float) -> None:
        self.seconds = seconds
        self.start = start
        self.stopped_early = False

    def on_step_end(self, args, state, control, **kwargs):
        if time.perf_counter() - self.start > self.seconds:
            self.stopped_early = True
            control.should_training_stop = True
        return control


def score(model: RelBERT, datasets: list[str], split: str, data_dir: str) -> dict[str, float]:
    return {
        name: evaluate_analogy(model, name, split, data_dir=data_dir, batch_size=128, show_progress_bar=False).accuracy
        for name in datasets
    }


def mean(values: dict[str, float]) -> float:
    return sum(values.values()) / len(values)


def table(untrained: dict[str, float], trained: dict[str, float], split: str) -> str:
    """Markdown table of accuracies (%) and gains; ``-`` where the untrained model was not scored."""

    def row(name: str, before: float | None, after: float) -> str:
        if before is None:
            return f"| {name} | - | {100 * after:.1f} | - |"
        return f"| {name} | {100 * before:.1f} | {100 * after:.1f} | {100 * (after - before):+.1f} |"

    lines = [f"| {split} set | untrained | fine-tuned | gain |", "|---|---|---|---|"]
    lines += [row(name, untrained.get(name), after) for name, after in trained.items()]
    lines.append(row("**mean**", mean(untrained) if untrained else None, mean(trained)))
    return "\n".join(lines)


def parse_sets(items: list[str]) -> dict[str, Any]:
    import yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="examples/minilm_semeval_nce.yaml", help="recipe (relemb-train config)")
    parser.add_argument("--data-dir", default=os.environ.get("RELEMB_DATA_DIR"), help="relbert data mirror")
    parser.add_argument("--budget-minutes", type=float, default=30.0, help="wall-clock budget of the training run")
    parser.add_argument("--output-dir", default=None, help="where the trained model goes (default: a temp folder)")
    parser.add_argument("--json", default=None, help="result file (default: benchmarks/results/train_quality.json)")
    parser.add_argument("--tune", action="store_true", help="validation splits only (recipe tuning)")
    parser.add_argument("--tag", default="run", help="name of a tuning run (--tune)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe option")
    parser.add_argument("--skip-untrained", action="store_true", help="(--tune) do not score the untrained model")
    args = parser.parse_args(argv)
    if not args.data_dir:
        raise SystemExit("set RELEMB_DATA_DIR or pass --data-dir (the relbert data mirror)")

    values = read_config_file(args.config)
    values.update(parse_sets(args.set))
    values["data_dir"] = args.data_dir
    split = "validation" if args.tune else "test"
    values["test_datasets"] = []  # scored below, against the untrained model, with the same code
    with contextlib.ExitStack() as stack:  # a default output folder is a temp folder, removed at the end
        values["output_dir"] = args.output_dir or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="relemb-train-quality-")
        )
        return run(args, values, split)


def run(args: argparse.Namespace, values: dict[str, Any], split: str) -> int:
    """Train the recipe ``values``, score it and its untrained base on ``split``, write the JSON report."""
    values.setdefault("disable_tqdm", True)
    model_args, data_args, loss_args, _prompt_args, training_args = parse_training_arguments(values)
    json_path = (
        Path(args.json)
        if args.json
        else RESULTS_DIR / (f"train_tuning_{args.tag}.json" if args.tune else "train_quality.json")
    )
    print(f"recipe {args.config} {values}; threads={torch.get_num_threads()}", flush=True)

    untrained: dict[str, float] = {}
    untrained_seconds = 0.0
    if not (args.tune and args.skip_untrained):
        start = time.perf_counter()
        base = RelBERT.from_pretrained(
            model_args.base_model,
            template=model_args.template,
            pooling=model_args.pooling,
            max_length=model_args.max_length,
            device="cpu",
        )
        untrained = score(base, BENCHMARK_SETS, split, args.data_dir)
        untrained_seconds = time.perf_counter() - start
        del base
        print(f"untrained ({split}): {untrained} in {untrained_seconds:.0f}s", flush=True)

    start = time.perf_counter()
    budget = TimeBudget(args.budget_minutes * 60 - 60, start)  # leave a minute for the last evaluation + save
    result = train(model_args, data_args, loss_args, training_args, device="cpu", callbacks=[budget])
    train_seconds = time.perf_counter() - start
    run_details = result.run_result.details  # what results.json holds (a relemb.results.RunResult)
    print(
        f"training: {train_seconds / 60:.1f} min (budget {args.budget_minutes} min), "
        f"best {run_details['best_checkpoint']} ({run_details['best_metric']})",
        flush=True,
    )

    start = time.perf_counter()
    trained = score(result.model, BENCHMARK_SETS, split, args.data_dir)
    eval_seconds = time.perf_counter() - start
    report = {
        "benchmark": "train_quality",
        "mode": "tune" if args.tune else "final",
        "split": split,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "config": args.config,
        "options": {k: v for k, v in values.items() if k != "output_dir"},
        "recipe": result.run_result.arguments,
        "training_data": [source.to_dict() for source in result.run_result.datasets],
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "budget_minutes": args.budget_minutes,
        "train_minutes": round(train_seconds / 60, 2),
        "within_budget": train_seconds <= args.budget_minutes * 60,
        "stopped_by_budget": budget.stopped_early,
        "global_steps": run_details["global_steps"],
        "best_checkpoint": Path(run_details["best_checkpoint"] or "").name,
        "model_selection_history": run_details["history"],
        "untrained": untrained,
        "fine_tuned": trained,
        "untrained_mean": mean(untrained) if untrained else None,
        "fine_tuned_mean": mean(trained),
        "gain_points": 100 * (mean(trained) - mean(untrained)) if untrained else None,
        "target_gain_points": 15.0,
        "eval_seconds": {"untrained": round(untrained_seconds, 1), "fine_tuned": round(eval_seconds, 1)},
    }
    if untrained:
        report["passed"] = bool(report["gain_points"] >= 15.0 and report["within_budget"])
    print()
    print(table(untrained, trained, split))
    if untrained:
        print(
            f"\nmean gain: {report['gain_points']:+.1f} points (target +15.0); "
            f"training {report['train_minutes']} min (budget {args.budget_minutes})"
        )
    write_json(json_path, report)
    print(f"wrote {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Quality benchmark of relemb-train: does fine-tuning MiniLM on SemEval-2012 raise analogy accuracy, how much
does that vary with the seed, and does the model-selection set rank recipes the way the test sets do?

For each ``--seeds`` value, in one script and on this machine:

1. a training run of the recipe (``--config``, ``--set KEY=VALUE`` overrides) stopped by a wall-clock budget
   (default 30 minutes, model loading and model selection included), the best checkpoint kept by the
   recipe's selection score;
2. the fine-tuned model scored on the selection set (``selection``: questions made from validation splits,
   relemb.data.analogies), on the U2/U4/Google/BATS validation splits, and on their test splits; every
   accuracy with its 95% bootstrap interval.

The untrained MiniLM is scored the same way once. The report (a table and JSON) gives each run and the mean
and standard deviation over the seeds. Test splits are scored once per run, by the finished model only.
``--tune`` marks a recipe-search run: the recipe is chosen by the selection score alone; the test scores of
tuning runs are kept only to measure how well each selection score ranks recipes (``--correlation``).

Usage (heavy: run one at a time, under the shared lock)::

    RELEMB_DATA_DIR=/work/shared/data/relbert flock /tmp/relemb-heavy.lock \\
        python benchmarks/train_quality.py --config examples/minilm_semeval_nce.yaml --seeds 42 43 44
    python benchmarks/train_quality.py --tune --tag k24 --set relations_per_batch=24 --max-steps 900
    python benchmarks/train_quality.py --correlation benchmarks/results/train_tuning_*.json
    python benchmarks/train_quality.py --compare A.json:untrained B.json   # paired tests, McNemar's p
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
BENCHMARK_SETS = ["u2", "u4", "google", "bats"]
SELECTION = "selection"


def _trainer_callback():
    from transformers import TrainerCallback

    class TimeBudget(TrainerCallback):
        """Stop training once ``seconds`` of wall time have passed since ``start`` (checked after each step;
        the state at that step is then evaluated and kept like any other)."""

        def __init__(self, seconds: float, start: float) -> None:
            self.seconds = seconds
            self.start = start
            self.stopped_early = False

        def on_step_end(self, args, state, control, **kwargs):
            if time.perf_counter() - self.start > self.seconds:
                self.stopped_early = True
                control.should_training_stop = True
                control.should_evaluate = True
                control.should_save = True
            return control

    return TimeBudget


def score(model: Any, data_dir: str, seed: int = 0) -> dict[str, Any]:
    """Every score of a model: the selection set, U2/U4/Google/BATS validation and test (each with its
    interval and the per-question correctness), and the means."""
    from relemb.evaluation import evaluate_analogy, mean_accuracy_interval

    out: dict[str, Any] = {}
    for name, split in [(SELECTION, "validation")] + [(n, s) for s in ("validation", "test") for n in BENCHMARK_SETS]:
        result = evaluate_analogy(model, name, split, data_dir=data_dir, batch_size=128, show_progress_bar=False,
                                  seed=seed)  # fmt: skip
        out[f"{name}/{split}"] = result.to_dict()
    for split in ("validation", "test"):
        results = [out[f"{n}/{split}"] for n in BENCHMARK_SETS]
        out[f"mean/{split}"] = {
            "accuracy": statistics.fmean(r["accuracy"] for r in results),
            "interval": list(mean_accuracy_interval([r["correct"] for r in results], seed=seed)),
        }
    return out


def summary(scores: dict[str, Any]) -> dict[str, float]:
    """The headline accuracies of :func:`score` (no per-question details)."""
    return {key: value["accuracy"] for key, value in scores.items()}


def parse_sets(items: list[str]) -> dict[str, Any]:
    import yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return out


def train_once(values: dict[str, Any], budget_minutes: float, data_dir: str) -> dict[str, Any]:
    """One training run of the recipe ``values``; the fine-tuned model's scores and the run's facts."""
    from relemb.train_config import parse_training_arguments
    from relemb.training import train

    model_args, data_args, loss_args, _prompt, training_args = parse_training_arguments(values)
    start = time.perf_counter()
    budget = _trainer_callback()(budget_minutes * 60 - 90, start)  # room for the last evaluation and save
    result = train(model_args, data_args, loss_args, training_args, device="cpu", callbacks=[budget])
    train_seconds = time.perf_counter() - start
    details = result.run_result.details
    tick = time.perf_counter()
    scores = score(result.model, data_dir, seed=0)
    return {
        "seed": training_args.seed,
        "train_minutes": round(train_seconds / 60, 2),
        "within_budget": train_seconds <= budget_minutes * 60,
        "stopped_by_budget": budget.stopped_early,
        "global_steps": details["global_steps"],
        "best_checkpoint": Path(details["best_checkpoint"] or "").name,
        "selection_history": details["history"],
        "recipe": result.run_result.arguments,
        "training_data": [source.to_dict() for source in result.run_result.datasets],
        "eval_seconds": round(time.perf_counter() - tick, 1),
        "scores": scores,
        "summary": summary(scores),
    }


def spread(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation over the runs of every summary score."""
    keys = runs[0]["summary"].keys()
    out = {}
    for key in keys:
        values = [run["summary"][key] for run in runs]
        out[key] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    return out


def table(report: dict[str, Any]) -> str:
    from relemb._io import markdown_table

    rows = []
    untrained = report.get("untrained")
    keys = [f"{SELECTION}/validation", "mean/validation"] + [f"{n}/test" for n in BENCHMARK_SETS] + ["mean/test"]
    for key in keys:
        row = [key]
        if untrained:
            u = untrained[key]
            row.append(f"{100 * u['accuracy']:.1f} ({100 * u['interval'][0]:.1f}-{100 * u['interval'][1]:.1f})")
        for run in report["runs"]:
            row.append(f"{100 * run['summary'][key]:.1f}")
        s = report["spread"][key]
        row.append(f"{100 * s['mean']:.1f} ± {100 * s['std']:.1f}")
        rows.append(row)
    headers = ["score", *(["untrained (95% CI)"] if untrained else []), *(f"seed {r['seed']}" for r in report["runs"])]
    return markdown_table([*headers, "mean ± sd"], rows)


def correlation(paths: list[str]) -> int:
    """How well each selection score ranks the runs (and the untrained base, once) by their test mean
    (Spearman over models)."""
    from scipy.stats import spearmanr

    from relemb._io import markdown_table

    runs = []
    untrained_seen = []
    for path in paths:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
        for run in report["runs"]:
            runs.append((report.get("tag", Path(path).stem), run["seed"], run["summary"]))
        untrained = {key: value["accuracy"] for key, value in (report.get("untrained") or {}).items()}
        if untrained and untrained not in untrained_seen:  # the base model is a model too (once)
            untrained_seen.append(untrained)
            runs.append(("untrained", None, untrained))
    if len(runs) < 3:
        raise SystemExit(f"need at least 3 runs to rank, got {len(runs)}")
    test = [s["mean/test"] for _, _, s in runs]
    rows = []
    result = {}
    for key, label in (
        (f"{SELECTION}/validation", "selection set"),
        ("mean/validation", "U2/U4/Google/BATS validation"),
    ):
        rho, p = spearmanr([s[key] for _, _, s in runs], test)
        rows.append([label, len(runs), f"{rho:.2f}", f"{p:.3g}"])
        result[key] = {"spearman": float(rho), "p_value": float(p)}
    print(markdown_table(["selection score", "runs", "Spearman rho with the test mean", "p"], rows))
    out = RESULTS_DIR / "selection_correlation.json"
    from relemb._io import write_json

    runs_out = [{"tag": tag, "seed": seed, **summary_} for tag, seed, summary_ in runs]
    write_json(out, {"runs": runs_out, "correlation": result, "files": paths})
    print(f"wrote {out}")
    return 0


def _scored_models(spec: str) -> list[tuple[str, dict[str, Any]]]:
    """The scored models of a report: ``FILE`` (its runs, by seed) or ``FILE:untrained`` (its untrained model)."""
    path, _, which = spec.partition(":")
    report = json.loads(Path(path).read_text(encoding="utf-8"))
    tag = report.get("tag", Path(path).stem)
    if which == "untrained":
        if not report.get("untrained_scores"):
            raise SystemExit(f"{path} holds no untrained scores (it was run with --skip-untrained)")
        return [(f"{tag} untrained", report["untrained_scores"])]
    if which:
        raise SystemExit(f"{spec!r}: write FILE or FILE:untrained")
    return [(f"{tag} seed {run['seed']}", run["scores"]) for run in report["runs"]]


def compare(spec_a: str, spec_b: str) -> int:
    """Paired tests of B against A on the same test questions: each run of B against the run of A with the
    same position (or against A's only model), per test set and on all four pooled."""
    from relemb._io import markdown_table, write_json
    from relemb.evaluation.statistics import paired_comparison

    models_a, models_b = _scored_models(spec_a), _scored_models(spec_b)
    if len(models_a) not in (1, len(models_b)):
        raise SystemExit(f"{spec_a} has {len(models_a)} runs and {spec_b} {len(models_b)}: give one, or as many")
    rows, out = [], []
    for index, (name_b, scores_b) in enumerate(models_b):
        name_a, scores_a = models_a[0 if len(models_a) == 1 else index]
        for test in [*BENCHMARK_SETS, "pooled"]:
            keys = [f"{n}/test" for n in (BENCHMARK_SETS if test == "pooled" else [test])]
            for key in keys:
                if scores_a[key]["questions_sha256"] != scores_b[key]["questions_sha256"]:
                    raise SystemExit(f"{key}: {name_a} and {name_b} were scored on different questions")
            a = [c for key in keys for c in scores_a[key]["correct"]]
            b = [c for key in keys for c in scores_b[key]["correct"]]
            c = paired_comparison(a, b)
            rows.append([name_a, name_b, test, c.n, f"{100 * c.score_a:.1f}", f"{100 * c.score_b:.1f}",
                         f"{100 * c.difference:+.1f}", f"{100 * c.interval[0]:+.1f} to {100 * c.interval[1]:+.1f}",
                         f"{c.p_value:.3g}"])  # fmt: skip
            out.append({"a": name_a, "b": name_b, **c.to_dict(), "test": test})  # the test set, not the test statistic
    print(markdown_table(["A", "B", "test", "n", "A %", "B %", "B - A", "95% CI", "McNemar p"], rows))

    def stem(spec: str) -> str:
        path, _, which = spec.partition(":")
        return Path(path).stem + (f"_{which}" if which else "")

    target = RESULTS_DIR / f"compare_{stem(spec_a)}_vs_{stem(spec_b)}.json"
    write_json(target, {"a": spec_a, "b": spec_b, "comparisons": out})
    print(f"wrote {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="examples/minilm_semeval_nce.yaml", help="recipe (relemb-train config)")
    parser.add_argument("--data-dir", default=os.environ.get("RELEMB_DATA_DIR"), help="relbert data mirror")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="one run per seed (default: the recipe's)")
    parser.add_argument("--budget-minutes", type=float, default=30.0, help="wall-clock budget of each training run")
    parser.add_argument("--max-steps", type=int, default=None, help="stop each run after this many steps too")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe option")
    parser.add_argument("--tune", action="store_true", help="a recipe-search run (chosen by the selection score)")
    parser.add_argument("--tag", default=None, help="name of the run (default: the config's name)")
    parser.add_argument("--json", default=None, help="result file (default: benchmarks/results/train_<tag>.json)")
    parser.add_argument("--skip-untrained", action="store_true", help="do not score the untrained model")
    parser.add_argument("--correlation", nargs="+", metavar="JSON", help="rank correlation of selection scores")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="paired tests of B's runs against A's on the test questions (FILE or FILE:untrained)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.correlation:
        return correlation(args.correlation)
    if args.compare:
        return compare(*args.compare)
    if not args.data_dir:
        raise SystemExit("set RELEMB_DATA_DIR or pass --data-dir (the relbert data mirror)")

    import torch

    from relemb import RelBERT
    from relemb._io import write_json
    from relemb.train_config import read_config_file

    values = read_config_file(args.config)
    values.update(parse_sets(args.set))
    values.update(data_dir=args.data_dir, test_datasets=[], disable_tqdm=True)
    if args.max_steps:
        values["max_steps"] = args.max_steps
    seeds = args.seeds or [int(values.get("seed", 42))]
    tag = args.tag or Path(args.config).stem
    json_path = Path(args.json) if args.json else RESULTS_DIR / f"train_{'tuning_' if args.tune else ''}{tag}.json"
    print(f"recipe {args.config} {values}; seeds {seeds}; threads={torch.get_num_threads()}", flush=True)

    report: dict[str, Any] = {
        "benchmark": "train_quality",
        "mode": "tune" if args.tune else "final",
        "tag": tag,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "config": args.config,
        "options": values,
        "budget_minutes": args.budget_minutes,
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },  # fmt: skip
        "untrained": None,
        "runs": [],
    }
    if not args.skip_untrained:
        tick = time.perf_counter()
        base = RelBERT.from_pretrained(values.get("base_model", "minilm"), template=values.get("template"),
                                       pooling=values.get("pooling"), device="cpu")  # fmt: skip
        untrained = score(base, args.data_dir)
        report["untrained"] = {k: {"accuracy": v["accuracy"], "interval": v["interval"]} for k, v in untrained.items()}
        report["untrained_scores"] = untrained
        print(f"untrained: { {k: round(v, 4) for k, v in summary(untrained).items()} } "
              f"({time.perf_counter() - tick:.0f}s)", flush=True)  # fmt: skip
        del base
    for seed in seeds:
        with contextlib.ExitStack() as stack:  # each run's model folder is a temp folder, removed at the end
            run_values = dict(values, seed=seed,
                              output_dir=stack.enter_context(tempfile.TemporaryDirectory(prefix="relemb-quality-")))  # fmt: skip
            run = train_once(run_values, args.budget_minutes, args.data_dir)
        report["runs"].append(run)
        print(f"seed {seed}: {run['train_minutes']} min, {run['global_steps']} steps, best {run['best_checkpoint']}; "
              f"{ {k: round(v, 4) for k, v in run['summary'].items()} }", flush=True)  # fmt: skip
        report["spread"] = spread(report["runs"])
        write_json(json_path, report)  # after every run, so a long benchmark keeps what it has
    print()
    print(table(report))
    mean_test = report["spread"]["mean/test"]
    print(f"\nU2/U4/Google/BATS test mean over {len(seeds)} seed(s): {100 * mean_test['mean']:.1f} "
          f"(sd {100 * mean_test['std']:.1f}); every run within {args.budget_minutes} min: "
          f"{all(r['within_budget'] for r in report['runs'])}")  # fmt: skip
    print(f"wrote {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

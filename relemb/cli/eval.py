"""``relemb-eval`` (``relemb eval``): analogy, classification, mapping and plot from the command line.

Each subcommand loads its datasets first (a bad name fails before the model is loaded), loads the
model (``--model``: a folder, a Hub id or ``minilm``), shows progress bars, prints a table like the
papers' and writes everything to ``--output`` as JSON (atomically).

Example::

    relemb-eval analogy --model minilm --datasets u2 u4 google bats --data-dir /data/relbert --output analogy.json
    relemb-eval classification --model minilm --data-dir /data/relbert --output classification.json
    relemb-eval mapping --model minilm --datasets problems.jsonl
    relemb-eval plot --model minilm --datasets BLESS --data-dir /data/relbert --output bless.png

The attention studies (``attention-probe``, ``attention-trace``, ``attention-heads``) live in
:mod:`relemb.cli.attention`. Results files are :class:`relemb.results.RunResult` JSON.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from relemb._io import markdown_table
from relemb.choices import ANALOGY_DIRECTIONS
from relemb.cli.options import (
    add_bootstrap_option,
    add_data_dir_option,
    add_model_options,
    add_output_option,
    add_progress_option,
    check_output,
    file_stem,
    interval_text,
    load_model,
    model_info,
    percent,
    positive_int,
    progress,
    save_results,
)
from relemb.data.names import LEXICAL_DATASETS

__all__ = ["add_arguments", "run"]

DEFAULT_ANALOGY = ("u2", "u4", "google", "bats")
RESULTS_HELP = "write the results to this file: .json (everything, RunResult) or .csv (the scores with their intervals)"


# ------------------------------------------------------------------------------------------ arguments
def _common(parser: argparse.ArgumentParser, output_help: str, *, scores: bool = True) -> None:
    group = parser.add_argument_group("model and data")
    add_model_options(group)
    add_data_dir_option(group)
    add_output_option(group, output_help)
    add_progress_option(group)
    if scores:
        add_bootstrap_option(group)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``analogy``, ``classification``, ``mapping``, ``plot`` and ``attention-*`` subcommands to ``parser``."""
    subparsers = parser.add_subparsers(dest="eval_command", metavar="TASK", required=True)

    analogy = subparsers.add_parser("analogy", help="multiple-choice analogy accuracy (SAT, U2, U4, Google, BATS ...)")
    analogy.add_argument(
        "--datasets",
        nargs="+",
        default=list(DEFAULT_ANALOGY),
        help="analogy dataset names or .jsonl paths (default: u2 u4 google bats)",
    )
    analogy.add_argument("--split", default="test", help="test (default) or validation")
    analogy.add_argument(
        "--direction",
        default="forward",
        choices=ANALOGY_DIRECTIONS,
        help="forward (default, as published), reverse or bidirectional",
    )
    _common(analogy, RESULTS_HELP)
    analogy.set_defaults(_eval=_run_analogy)

    classification = subparsers.add_parser("classification", help="lexical relation classification with an MLP probe")
    classification.add_argument(
        "--datasets",
        nargs="+",
        default=list(LEXICAL_DATASETS),
        help="BLESS CogALexV EVALution K&H+N ROOT09 (default: all five) or folders with "
        "train.jsonl, test.jsonl and optionally val.jsonl",
    )
    classification.add_argument(
        "--hidden-sizes",
        nargs="+",
        type=positive_int,
        default=None,
        help="grid: hidden layer sizes (default 100 150 200)",
    )
    classification.add_argument(
        "--learning-rates", nargs="+", type=float, default=None, help="grid: initial learning rates (default 1e-3 1e-4)"
    )
    classification.add_argument(
        "--alphas", nargs="+", type=float, default=None, help="grid: L2 penalties (default 1e-4 1e-3)"
    )
    classification.add_argument(
        "--cv-folds",
        type=positive_int,
        default=3,
        help="cross-validation folds when a dataset has no validation split (default 3)",
    )
    classification.add_argument(
        "--refit-on",
        default="train",
        choices=("train", "train+validation"),
        help="data of the final fit (default train, as published)",
    )
    classification.add_argument(
        "--tune-max-train",
        type=int,
        default=10_000,
        help="grid-search fits use at most this many training pairs, a stratified "
        "sample (default 10000; 0: all); the final fit uses all of train",
    )
    classification.add_argument("--seed", type=int, default=0, help="random seed of every fit (default 0)")
    classification.add_argument("--n-jobs", type=int, default=None, help="parallel grid-search fits (default 1)")
    _common(classification, RESULTS_HELP)
    classification.set_defaults(_eval=_run_classification)

    mapping = subparsers.add_parser("mapping", help="relation mapping accuracy (Ushio et al. 2023)")
    mapping.add_argument(
        "--datasets",
        nargs="+",
        default=["relation_mapping"],
        help="relation_mapping (default) or .jsonl files of {source, target} records",
    )
    mapping.add_argument(
        "--method",
        default="auto",
        choices=("auto", "exact", "beam"),
        help="search: exact (all permutations), beam (beam + 2-swap climbing), auto (default)",
    )
    mapping.add_argument(
        "--objective",
        default="sum",
        choices=("sum", "reference"),
        help="sum over ordered pairs (default) or the reference's mean of maxima",
    )
    mapping.add_argument("--beam-size", type=positive_int, default=16, help="beam width (default 16)")
    mapping.add_argument("--restarts", type=int, default=8, help="random restarts of the climbing (default 8)")
    mapping.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _common(mapping, RESULTS_HELP)
    mapping.set_defaults(_eval=_run_mapping)

    plot = subparsers.add_parser("plot", help="2-D plot of a dataset's relation embeddings, coloured by relation")
    plot.add_argument(
        "--datasets", nargs="+", required=True, help="lexical datasets (BLESS ...), semeval2012, starter, or files"
    )
    plot.add_argument("--split", default="train", help="split to plot (default train)")
    plot.add_argument("--method", default="tsne", choices=("tsne", "pca", "umap"), help="projection (default tsne)")
    plot.add_argument(
        "--level",
        default="parent",
        choices=("parent", "relation"),
        help="relation-similarity sets: colour by parent class (default) or relation type",
    )
    plot.add_argument(
        "--max-pairs", type=positive_int, default=2000, help="plot at most this many pairs (default 2000)"
    )
    plot.add_argument("--seed", type=int, default=0, help="random seed of the sample and projection (default 0)")
    plot.add_argument(
        "--add-to-card",
        action="store_true",
        help="--model is a saved relemb model folder: write the plots into it (relation_space_<dataset>.png) and "
        "add them to its model card",
    )
    _common(
        plot,
        "the PNG file (one dataset) or a folder for <dataset>.png files (default: <dataset>.png here)",
        scores=False,
    )
    plot.set_defaults(_eval=_run_plot)

    compare = subparsers.add_parser(
        "compare",
        help="model B against model A on the same questions: the paired difference, its 95%% CI, McNemar's test",
        description="Compare two results files of relemb-eval analogy|classification (or relemb-train's "
        "results.json) question by question: B - A with a paired-bootstrap 95%% interval and McNemar's exact test.",
    )
    compare.add_argument("results_a", metavar="RESULTS_A", help="the first results file (model A)")
    compare.add_argument("results_b", metavar="RESULTS_B", help="the second results file (model B)")
    add_bootstrap_option(compare)
    add_output_option(compare, "write the comparison as JSON to this file")
    compare.set_defaults(_eval=_run_compare)

    from relemb.cli.attention import add_subcommands

    add_subcommands(subparsers)


# ---------------------------------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> int:
    """Run the chosen subcommand; user errors are raised as ValueError/OSError (relemb.cli prints them)."""
    return int(args._eval(args) or 0)


def _over(datasets: Sequence[str], args: argparse.Namespace, what: str):
    from tqdm.auto import tqdm

    return tqdm(datasets, desc=what, unit="dataset", disable=not progress(args) or len(datasets) < 2, file=sys.stderr)


def _preload(datasets: Sequence[str], load: Callable[[str], Any]) -> tuple[dict[str, Any], list[Any]]:
    """Every dataset loaded (before the model, so a bad name fails fast) and where each file came from."""
    from relemb.data import record_sources

    with record_sources() as sources:
        loaded = {name: load(name) for name in dict.fromkeys(datasets)}
    return loaded, sources


# ------------------------------------------------------------------------------------------ analogy
def _scoring_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options every scoring function of the subcommands takes from the common options."""
    return {
        "batch_size": args.batch_size,
        "show_progress_bar": progress(args),
        "n_resamples": args.bootstrap_resamples,
    }


def _run_analogy(args: argparse.Namespace) -> int:
    from relemb.data import load_analogy
    from relemb.evaluation.analogy import evaluate_analogy, load_questions

    started = time.perf_counter()
    output = check_output(args.output, (".json", ".csv"))
    data, sources = _preload(
        args.datasets, lambda name: load_questions(load_analogy(name, args.split, data_dir=args.data_dir))
    )
    model = load_model(args)
    results = {}
    for name in _over(list(data), args, "analogy"):
        result = evaluate_analogy(
            model,
            data[name],
            args.split,
            direction=args.direction,
            name=name,
            **_scoring_options(args),
        )
        results[name] = result.to_dict()
    rows = [
        [name, args.split, r["n"], percent(r["accuracy"]), interval_text(r["interval"])] for name, r in results.items()
    ]
    if len(rows) > 1:
        from relemb.evaluation.statistics import mean_accuracy_interval

        mean = sum(r["accuracy"] for r in results.values()) / len(results)
        correct = [r["correct"] for r in results.values()]
        interval = mean_accuracy_interval(correct, n_resamples=args.bootstrap_resamples)
        rows.append(["mean", args.split, sum(r["n"] for r in results.values()), percent(mean), interval_text(interval)])
    print(f"Analogy accuracy (%), {args.direction}, model {args.model}")
    print(markdown_table(["dataset", "split", "n", "accuracy", "95% CI"], rows))
    save_results(output, "analogy", args, results, model=model_info(model, args), datasets=sources, started=started)
    return 0


# ----------------------------------------------------------------------------------- classification
def _grid(args: argparse.Namespace) -> dict[str, list[Any]]:
    from relemb.evaluation.classification import DEFAULT_GRID

    grid = {key: list(values) for key, values in DEFAULT_GRID.items()}
    if args.hidden_sizes:
        grid["hidden_layer_sizes"] = [(size,) for size in args.hidden_sizes]
    if args.learning_rates:
        grid["learning_rate_init"] = list(args.learning_rates)
    if args.alphas:
        grid["alpha"] = list(args.alphas)
    for key in ("learning_rate_init", "alpha"):
        if any(value <= 0 for value in grid[key]):
            raise ValueError(f"grid values of {key} must be positive, got {grid[key]}")
    return grid


def _run_classification(args: argparse.Namespace) -> int:
    from relemb.data import load_lexical_splits
    from relemb.evaluation.classification import evaluate_classification

    started = time.perf_counter()
    output = check_output(args.output, (".json", ".csv"))
    grid = _grid(args)
    data, sources = _preload(args.datasets, lambda name: load_lexical_splits(name, data_dir=args.data_dir))
    for name, splits in data.items():
        for split, records in splits.items():
            if records is not None and not records:
                raise ValueError(f"classification dataset {name!r}: the {split} split holds no pairs")
    model = load_model(args)
    cache: dict = {}  # shared: the datasets overlap (about 10% of the pairs of the five benchmarks)
    results = {}
    for name in _over(list(data), args, "classification"):
        result = evaluate_classification(
            model,
            data[name],
            grid=grid,
            cv_folds=args.cv_folds,
            seed=args.seed,
            refit_on=args.refit_on,
            n_jobs=args.n_jobs,
            tune_max_train=args.tune_max_train,
            cache=cache,
            name=name,
            **_scoring_options(args),
        )
        results[name] = result.to_dict()
    rows = []
    for name, r in results.items():
        best = r["best_params"]
        params = f"h={best['hidden_layer_sizes'][0]} lr={best['learning_rate_init']:g} a={best['alpha']:g}"
        rows.append([
            name, "test", r["n"], percent(r["micro_f1"]), interval_text(r["micro_f1_interval"]),
            percent(r["macro_f1"]), interval_text(r["macro_f1_interval"]), params, f"{r['seconds']['total']:.0f}",
        ])  # fmt: skip
    print(f"Lexical relation classification, F1 (%), model {args.model}, seed {args.seed}")
    headers = ["dataset", "split", "n", "micro F1", "95% CI", "macro F1", "95% CI", "chosen hyper-parameters", "s"]
    print(markdown_table(headers, rows))
    save_results(
        output, "classification", args, results, model=model_info(model, args), datasets=sources, started=started
    )
    return 0


# ------------------------------------------------------------------------------------------ mapping
def _run_mapping(args: argparse.Namespace) -> int:
    from relemb.data import load_mapping
    from relemb.evaluation.mapping import evaluate_mapping

    started = time.perf_counter()
    output = check_output(args.output, (".json", ".csv"))
    data, sources = _preload(args.datasets, lambda name: load_mapping(name, data_dir=args.data_dir))
    model = load_model(args)
    results = {}
    for name in _over(list(data), args, "mapping"):
        result = evaluate_mapping(
            model,
            data[name],
            method=args.method,
            objective=args.objective,
            beam_size=args.beam_size,
            restarts=args.restarts,
            seed=args.seed,
            name=name,
            **_scoring_options(args),
        )
        results[name] = result.to_dict()
    rows = [
        [name, "test", r["n"], percent(r["accuracy"]), interval_text(r["interval"]), percent(r["exact_match"])]
        for name, r in results.items()
    ]
    print(f"Relation mapping accuracy (%), objective {args.objective}, search {args.method}, model {args.model}")
    print(markdown_table(["dataset", "split", "n (problems)", "accuracy", "95% CI", "all terms right"], rows))
    save_results(output, "mapping", args, results, model=model_info(model, args), datasets=sources, started=started)
    return 0


# ------------------------------------------------------------------------------------------ compare
def _run_compare(args: argparse.Namespace) -> int:
    from relemb.evaluation.statistics import compare_results
    from relemb.results import RunResult

    output = check_output(args.output, ".json")
    a, b = RunResult.load(args.results_a), RunResult.load(args.results_b)
    comparisons = compare_results(a, b, n_resamples=args.bootstrap_resamples)
    rows = [
        [name, c.n, percent(c.score_a), percent(c.score_b), f"{100 * c.difference:+.1f}",
         interval_text(c.interval), c.only_a, c.only_b, f"{c.p_value:.3g}"]
        for name, c in comparisons.items()
    ]  # fmt: skip
    score = "micro F1" if a.task == "classification" else "accuracy"
    print(f"{score} (%): A = {args.results_a}, B = {args.results_b}; McNemar's exact test (two-sided)")
    print(markdown_table(["dataset", "n", "A", "B", "B - A", "95% CI", "only A", "only B", "p"], rows))
    save_results(
        output,
        "compare",
        args,
        {name: c.to_dict() for name, c in comparisons.items()},
        model={"a": a.model, "b": b.model},
        datasets=[*a.datasets, *b.datasets],
    )
    return 0


# --------------------------------------------------------------------------------------------- plot
def _plot_paths(datasets: Sequence[str], output: str | None) -> dict[str, Path]:
    """Where each dataset's plot goes: ``--output`` names one ``.png`` file (one dataset) or a folder (one
    ``<dataset>.png`` each; created when missing), checked before any work."""

    if output is not None and Path(output).suffix and not Path(output).expanduser().is_dir():
        target = check_output(output, ".png")  # a file name: it must be a PNG (never a folder named x.txt)
        if len(datasets) > 1:
            raise ValueError("--output names one PNG file but several datasets were given; give a folder instead")
        return {datasets[0]: target}
    folder = Path(output).expanduser() if output is not None else Path(".")
    return {name: check_output(str(folder / f"{file_stem(name)}.png"), ".png") for name in datasets}


def _run_plot(args: argparse.Namespace) -> int:
    from relemb.data import load_labelled_pairs
    from relemb.evaluation.plot import plot_relation_space

    datasets = list(dict.fromkeys(args.datasets))
    if args.add_to_card:
        if args.output is not None:
            raise ValueError("--add-to-card writes the plots into the model folder: leave out --output")
        from relemb.checkpoint import RELEMB_CONFIG_NAME

        folder = Path(args.model).expanduser()
        if not (folder / RELEMB_CONFIG_NAME).is_file():
            raise ValueError(f"--add-to-card needs --model to be a saved relemb model folder, got {args.model!r}")
        paths = {name: check_output(str(folder / f"relation_space_{file_stem(name)}.png"), ".png") for name in datasets}
    else:
        paths = _plot_paths(datasets, args.output)
    if args.method == "umap":
        from relemb._compat import requires

        requires("umap", "umap-learn", purpose="--method umap (or use tsne / pca)")
    data, sources = _preload(datasets, lambda name: load_labelled_pairs(name, args.split, args.data_dir, args.level))
    model = load_model(args)
    rows = []
    for name in _over(datasets, args, "plot"):
        result = plot_relation_space(
            model,
            data[name],
            paths[name],
            split=args.split,
            method=args.method,
            max_pairs=args.max_pairs,
            seed=args.seed,
            batch_size=args.batch_size,
            show_progress_bar=progress(args),
            title=f"{name} ({args.split}), {args.model}: {args.method.upper()}",
        )
        rows.append([name, result.n_pairs, result.n_relations, result.path])
    print(markdown_table(["dataset", "pairs", "relations", "file"], rows))
    if args.add_to_card:
        plots = [p for p in model.config.results.get("relation_space") or [] if p.get("file") not in
                 {paths[name].name for name in datasets}]  # fmt: skip
        plots += [{"file": paths[name].name, "dataset": name, "split": args.split, "method": args.method}
                  for name in datasets]  # fmt: skip
        model.config.results["relation_space"] = plots
        print(
            f"added {len(datasets)} plot(s) to the model card: {model.save_card(Path(args.model).expanduser())}/README.md"
        )
    return 0

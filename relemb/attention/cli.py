"""``relemb-eval attention-probe|attention-trace|attention-heads``: the attention studies from the command line.

Each subcommand checks its arguments and loads its data before the model, loads the encoder with
eager attention (``--model``: a relemb model, a plain encoder folder, a Hub id or ``minilm``), prints
a table, writes the results as JSON (``--output``) and the figures as PNG (``--figures``), atomically.

Example::

    relemb-eval attention-probe --model minilm --datasets BLESS --data-dir /data/relbert --output probe.json --figures figs/
    relemb-eval attention-trace --model minilm --pair camera photographer --figure trace.png
    relemb-eval attention-trace --model minilm --sentence "A barista makes coffee." --head barista --tail coffee --start first
    relemb-eval attention-heads --model minilm --datasets BLESS --data-dir /data/relbert --max-pairs 500 --figures figs/
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relemb._io import markdown_table
from relemb.data import LEXICAL_DATASETS

__all__ = ["add_subcommands"]


# ------------------------------------------------------------------------------------------ arguments
def _common(parser: argparse.ArgumentParser, *, figures: bool = True) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model", required=True, help="a relemb model, an encoder folder, a Hub id, or 'minilm' (all-MiniLM-L6-v2)"
    )
    group.add_argument(
        "--template", default=None, help="template id a-e or a template string (default: the model's, else d)"
    )
    group.add_argument(
        "--max-length", type=int, default=None, help="truncation length in tokens (default: the model's)"
    )
    group.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default 32)")
    group.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when available)")
    group.add_argument(
        "--random-init",
        action="store_true",
        help="analyse a randomly initialised copy of the model (same architecture and tokenizer), a control",
    )
    group.add_argument("--output", default=None, help="write the results as JSON to this file")
    if figures:
        group.add_argument("--figures", default=None, help="folder for the PNG figures (created if missing)")
    group.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _data(parser: argparse.ArgumentParser, default: Sequence[str] | None) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--datasets",
        nargs="+",
        default=list(default) if default else None,
        help="lexical relation datasets (BLESS CogALexV EVALution K&H+N ROOT09) or folders with train.jsonl/test.jsonl",
    )
    group.add_argument(
        "--data-dir", default=None, help="local copy of the relbert datasets (default: $RELEMB_DATA_DIR, else the Hub)"
    )
    group.add_argument("--seed", type=int, default=0, help="random seed of samples, probes and the control (default 0)")


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or a positive integer, got {text}")
    return value


def add_subcommands(subparsers: Any) -> None:
    """Add ``attention-probe``, ``attention-trace`` and ``attention-heads`` to ``relemb-eval``'s subcommands."""
    probe = subparsers.add_parser(
        "attention-probe",
        help="relation probes on attention weights (Chizhikova et al. 2022) with a random-init control",
    )
    _data(probe, LEXICAL_DATASETS)
    probe.add_argument(
        "--tasks",
        nargs="+",
        default=["binary", "multiclass"],
        choices=("binary", "multiclass"),
        help="binary: related vs random; multiclass: relation type (default both)",
    )
    probe.add_argument(
        "--max-train",
        type=_non_negative,
        default=5000,
        help="training pairs per dataset, a stratified sample (default 5000; 0: all)",
    )
    probe.add_argument(
        "--max-test", type=_non_negative, default=2000, help="test pairs per dataset (default 2000; 0: all)"
    )
    probe.add_argument("--no-control", action="store_true", help="skip the randomly initialised control encoder")
    probe.add_argument("--no-hidden-states", action="store_true", help="skip the per-layer hidden-state probes")
    _common(probe)
    probe.set_defaults(_eval=_run_probe)

    trace = subparsers.add_parser(
        "attention-trace", help="layer-wise attention tracing and attention rollout: a score per input token"
    )
    trace.add_argument(
        "--pair",
        nargs=2,
        action="append",
        metavar=("HEAD", "TAIL"),
        help="a word pair, rendered with the template (repeatable)",
    )
    trace.add_argument(
        "--sentence", action="append", help="a sentence instead of a prompt (repeatable; with --head/--tail)"
    )
    trace.add_argument(
        "--head", action="append", help="the head word of each --sentence (its first whole-word occurrence)"
    )
    trace.add_argument("--tail", action="append", help="the tail word of each --sentence")
    trace.add_argument(
        "--start",
        default=None,
        help="token to trace from: mask (default for prompts), first (default for sentences), head, tail or a position",
    )
    trace.add_argument("--figure", default=None, help="heat map PNG (default: none)")
    trace.add_argument("--layers", action="store_true", help="heat map of the tracing down to every layer (one input)")
    trace.add_argument("--seed", type=int, default=0, help="random seed of --random-init (default 0)")
    _common(trace, figures=False)
    trace.set_defaults(_eval=_run_trace)

    heads = subparsers.add_parser(
        "attention-heads",
        help="per-head attention statistics, head distances, heads as relation classifiers (Clark et al. 2019)",
    )
    _data(heads, ("BLESS",))
    heads.add_argument("--split", default="test", help="split of the datasets (default test)")
    heads.add_argument(
        "--max-pairs",
        type=_non_negative,
        default=1000,
        help="pairs per dataset, a stratified sample (default 1000; 0: all)",
    )
    heads.add_argument(
        "--pairs", nargs="+", default=None, metavar="HEAD:TAIL", help="analyse these pairs instead of datasets"
    )
    heads.add_argument("--no-distances", action="store_true", help="skip the Jensen-Shannon distances and the MDS map")
    _common(heads)
    heads.set_defaults(_eval=_run_heads)


# ------------------------------------------------------------------------------------------- shared
def _progress(args: argparse.Namespace) -> bool:
    return not args.no_progress


def _check_output(path: str | None, suffix: str) -> Path | None:
    if path is None:
        return None
    target = Path(path).expanduser()
    if target.is_dir():
        raise ValueError(f"{path!r} is a folder; give a {suffix} file path")
    if target.suffix.lower() != suffix:
        raise ValueError(f"{path!r} should end in {suffix}")
    return target


def _check_figures(path: str | None) -> Path | None:
    if path is None:
        return None
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--figures {path!r} exists and is not a folder")
    return folder


def _load_encoder(args: argparse.Namespace):
    from relemb.attention.encode import AttentionEncoder

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be a positive integer, got {args.batch_size}")
    encoder = AttentionEncoder.from_pretrained(
        args.model, template=args.template, max_length=args.max_length, device=args.device
    )
    return encoder.random_control(seed=args.seed) if args.random_init else encoder


def _write_json(path: Path | None, task: str, args: argparse.Namespace, results: Any, started: float) -> None:
    if path is None:
        return
    from relemb import __version__
    from relemb._io import atomic_output

    arguments = {k: v for k, v in vars(args).items() if not k.startswith("_") and k not in ("command", "eval_command")}
    payload = {
        "task": task,
        "relemb_version": __version__,
        "arguments": arguments,
        "results": results,
        "seconds": round(time.perf_counter() - started, 2),
    }
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


def _stem(name: str) -> str:
    base = Path(name).name if ("/" in name or "\\" in name) else name
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in base) or "dataset"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


# -------------------------------------------------------------------------------------------- probe
def _run_probe(args: argparse.Namespace) -> int:
    from relemb.attention.probes import (
        plot_dendrogram,
        plot_importance,
        plot_layer_scores,
        probe_relations,
    )
    from relemb.data import load_lexical_splits

    started = time.perf_counter()
    output = _check_output(args.output, ".json")
    figures = _check_figures(args.figures)
    datasets = list(dict.fromkeys(args.datasets))
    data = {name: load_lexical_splits(name, data_dir=args.data_dir) for name in datasets}
    encoder = _load_encoder(args)
    # with --random-init the model is itself random_control(seed): the control needs other weights
    control_seed = args.seed + 1 if args.random_init else args.seed
    control = False if args.no_control else encoder.random_control(seed=control_seed)
    reports = {}
    rows = []
    for name in datasets:
        report = probe_relations(
            encoder,
            data[name],
            control=control,
            tasks=tuple(dict.fromkeys(args.tasks)),
            hidden_states=not args.no_hidden_states,
            max_train=args.max_train or None,
            max_test=args.max_test or None,
            batch_size=args.batch_size,
            seed=args.seed,
            show_progress_bar=_progress(args),
            name=name,
        )
        reports[name] = report
        rows.extend(_probe_rows(name, report))
        if figures is not None:
            stem = _stem(name)
            for task in report.tasks:
                plot_importance(report, figures / f"{stem}_{task}_importance.png", task=task)
            if not args.no_hidden_states:
                plot_layer_scores(report, figures / f"{stem}_layers.png")
            if "multiclass" in report.tasks and report.tasks["multiclass"].clustering is not None:
                plot_dendrogram(report, figures / f"{stem}_dendrogram.png")
    print(f"Attention-feature probes, macro F1 (%) on test, model {args.model}")
    headers = ["dataset", "task", "classes", "attention probe", "random-init control", "selectivity"]
    if not args.no_hidden_states:
        headers.append("best hidden-state layer")
    print(markdown_table(headers, rows))
    _write_json(output, "attention-probe", args, {name: r.to_dict() for name, r in reports.items()}, started)
    return 0


def _probe_rows(name: str, report: Any) -> list[list[Any]]:
    rows = []
    for task, result in report.tasks.items():
        control = result.attention.get("control")
        selectivity = (result.selectivity or {}).get("macro_f1")
        row = [
            _stem(name),
            task,
            len(result.classes),
            _pct(result.attention["model"].macro_f1),
            _pct(control.macro_f1 if control is not None else None),
            "" if selectivity is None else f"{100 * selectivity:+.1f}",
        ]
        if result.hidden is not None:
            scores = [r.macro_f1 for r in result.hidden["model"]]
            best = max(range(len(scores)), key=scores.__getitem__)
            row.append(f"{_pct(scores[best])} (layer {best})")
        rows.append(row)
    return rows


# -------------------------------------------------------------------------------------------- trace
def _trace_inputs(args: argparse.Namespace, encoder: Any) -> list[Any]:
    from relemb.attention.encode import AttentionInput

    inputs = encoder.inputs_from_pairs(args.pair or [])
    sentences = args.sentence or []
    heads, tails = args.head or [], args.tail or []
    if len(heads) != len(sentences) or len(tails) != len(sentences):
        raise ValueError(
            f"give one --head and one --tail per --sentence ({len(sentences)} sentences, {len(heads)} heads, {len(tails)} tails)"
        )
    for text, head, tail in zip(sentences, heads, tails):
        inputs.append(AttentionInput.from_sentence(text, head, tail))
    return inputs


def _start(value: str | None) -> str | int | None:
    if value is None:
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    if value not in ("mask", "first", "head", "tail"):
        raise ValueError(f"--start must be mask, first, head, tail or a token position, got {value!r}")
    return value


def _run_trace(args: argparse.Namespace) -> int:
    from relemb.attention.tracing import plot_token_scores, trace

    started = time.perf_counter()
    output = _check_output(args.output, ".json")
    figure = _check_output(args.figure, ".png")
    start = _start(args.start)
    if not args.pair and not args.sentence:
        raise ValueError("give at least one --pair HEAD TAIL or --sentence TEXT --head WORD --tail WORD")
    if args.layers and len(args.pair or []) + len(args.sentence or []) != 1:
        raise ValueError("--layers draws one input: give exactly one --pair or --sentence")
    if start is None and args.pair and args.sentence:
        raise ValueError("prompts and sentences start from different tokens by default; give --start")
    encoder = _load_encoder(args)
    inputs = _trace_inputs(args, encoder)
    if start is None:
        start = "mask" if args.pair else "first"
    scores = trace(encoder, inputs, start=start, batch_size=args.batch_size, show_progress_bar=_progress(args))
    for item in scores:
        order = sorted(range(len(item.tokens)), key=lambda i: -item.tracing[i])[:5]
        print(f"{item.text}\n  from {item.start_token!r} (position {item.start_position})")
        rows = [[item.tokens[i], f"{item.tracing[i]:.3f}", f"{item.rollout[i]:.3f}"] for i in order]
        print(markdown_table(["token", "tracing", "rollout"], rows))
    if figure is not None:
        plot_token_scores(scores if not args.layers else scores[0], figure, layers=args.layers, title=str(args.model))
        print(f"wrote {figure}", file=sys.stderr)
    _write_json(output, "attention-trace", args, [s.to_dict() for s in scores], started)
    return 0


# -------------------------------------------------------------------------------------------- heads
def _parse_pairs(values: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        head, sep, tail = value.partition(":")
        if not sep or not head.strip() or not tail.strip():
            raise ValueError(f"--pairs takes HEAD:TAIL items, got {value!r}")
        pairs.append((head.strip(), tail.strip()))
    return pairs


def _run_heads(args: argparse.Namespace) -> int:
    from relemb.attention.heads import analyze_heads, plot_head_map, plot_head_statistics, plot_relation_heads
    from relemb.data import load_lexical, stratified_sample

    started = time.perf_counter()
    output = _check_output(args.output, ".json")
    figures = _check_figures(args.figures)
    if args.pairs:
        sets = {"pairs": ([pair for pair in _parse_pairs(args.pairs)], None)}
    else:
        sets = {}
        for name in dict.fromkeys(args.datasets or []):
            records = load_lexical(name, args.split, data_dir=args.data_dir)
            records = [records[i] for i in stratified_sample([r.relation for r in records], args.max_pairs, args.seed)]
            if not records:
                raise ValueError(f"dataset {name!r} ({args.split}) holds no pairs")
            sets[name] = ([(r.head, r.tail) for r in records], [r.relation for r in records])
        if not sets:
            raise ValueError("give --datasets or --pairs")
    encoder = _load_encoder(args)
    reports = {}
    rows = []
    for name, (pairs, relations) in sets.items():
        report = analyze_heads(
            encoder,
            encoder.inputs_from_pairs(pairs),
            relations=relations,
            batch_size=args.batch_size,
            show_progress_bar=_progress(args),
            distances=not args.no_distances,
            seed=args.seed,
        )
        reports[name] = report
        if figures is not None:
            stem = _stem(name)
            plot_head_statistics(report, figures / f"{stem}_head_statistics.png")
            if not args.no_distances:
                plot_head_map(report, figures / f"{stem}_head_map.png")
            if relations is not None:
                plot_relation_heads(report, figures / f"{stem}_relation_heads.png")
        rows.extend(_head_rows(name, report))
    print(f"Attention heads, model {args.model}: the head with the most attention to each target")
    print(markdown_table(["pairs", "statistic", "best head", "mean attention"], rows))
    relation_rows = [row for name, report in reports.items() for row in _relation_rows(name, report)]
    if relation_rows:
        print("Heads as relation classifiers: how often the word the tail attends to most is the head word (%)")
        print(
            markdown_table(
                ["pairs", "relation", "inputs", "best head", "accuracy", "fixed-offset baseline"], relation_rows
            )
        )
    _write_json(output, "attention-heads", args, {name: r.to_dict() for name, r in reports.items()}, started)
    return 0


def _head_rows(name: str, report: Any) -> list[list[Any]]:
    rows = []
    for stat in ("special", "punctuation", "previous", "next", "head", "tail", "mask"):
        for layer, head, value in report.statistics.top_heads(stat, 1):
            rows.append([_stem(name), stat, f"L{layer}-H{head}", f"{value:.3f}"])
    return rows


def _relation_rows(name: str, report: Any) -> list[list[Any]]:
    accuracy = report.relation_accuracy
    rows = []
    for relation in accuracy.relations:
        layer, head, value = accuracy.best_head("tail_to_head", relation)
        offset, baseline = accuracy.baseline("tail_to_head", relation)
        n = accuracy.n_inputs("tail_to_head", relation)
        rows.append(
            [_stem(name), relation, n, f"L{layer}-H{head}", _pct(value), f"{_pct(baseline)} (offset {offset:+d})"]
        )
    return rows

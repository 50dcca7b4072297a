"""``relemb-eval attention-probe|attention-trace|attention-heads``: the attention studies from the command line.

Each subcommand checks its arguments and loads its data before the model, loads the encoder with
eager attention (``--model``: a relemb model, a plain encoder folder, a Hub id or ``minilm``), prints
a table, writes the results as JSON (``--output``) and the figures as PNG (``--figures``), atomically.

Example::

    relemb-eval attention-probe --model minilm --datasets BLESS --data-dir /data/relbert --output probe.json --figures figs/
    relemb-eval attention-trace --model minilm --pair camera:photographer --figure trace.png
    relemb-eval attention-trace --model minilm --sentence "A barista makes coffee." --head barista --tail coffee --start first
    relemb-eval attention-heads --model minilm --datasets BLESS --data-dir /data/relbert --max-pairs 500 --figures figs/
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from relemb._io import markdown_table
from relemb.cli.options import (
    add_data_dir_option,
    add_model_options,
    add_output_option,
    add_pair_option,
    add_progress_option,
    check_folder,
    check_output,
    file_stem,
    non_negative_int,
    pairs_from,
    progress,
    save_results,
)
from relemb.data.names import LEXICAL_DATASETS
from relemb.pairs import Pair

__all__ = ["add_subcommands"]


# ------------------------------------------------------------------------------------------ arguments
def _common(parser: argparse.ArgumentParser, *, figures: bool = True) -> None:
    group = parser.add_argument_group("model")
    add_model_options(
        group,
        model_help="a relemb model, an encoder folder, a Hub id, or 'minilm' (all-MiniLM-L6-v2)",
        embedding_options=False,
    )
    group.add_argument(
        "--random-init",
        action="store_true",
        help="analyse a randomly initialised copy of the model (same architecture and tokenizer), a control",
    )
    add_output_option(group, "write the results as JSON to this file")
    if figures:
        group.add_argument("--figures", default=None, help="folder for the PNG figures (created if missing)")
    add_progress_option(group)


def _data(parser: argparse.ArgumentParser, default: Sequence[str] | None) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--datasets",
        nargs="+",
        default=list(default) if default else None,
        help="lexical relation datasets (BLESS CogALexV EVALution K&H+N ROOT09) or folders with train.jsonl/test.jsonl",
    )
    add_data_dir_option(group)
    group.add_argument("--seed", type=int, default=0, help="random seed of samples, probes and the control (default 0)")


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
        type=non_negative_int,
        default=5000,
        help="training pairs per dataset, a stratified sample (default 5000; 0: all)",
    )
    probe.add_argument(
        "--max-test", type=non_negative_int, default=2000, help="test pairs per dataset (default 2000; 0: all)"
    )
    probe.add_argument("--no-control", action="store_true", help="skip the randomly initialised control encoder")
    probe.add_argument("--no-hidden-states", action="store_true", help="skip the per-layer hidden-state probes")
    _common(probe)
    probe.set_defaults(_eval=_run_probe)

    trace = subparsers.add_parser(
        "attention-trace", help="layer-wise attention tracing and attention rollout: a score per input token"
    )
    add_pair_option(trace, "--pair", help_text="a word pair, rendered with the template (repeatable)")
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
        type=non_negative_int,
        default=1000,
        help="pairs per dataset, a stratified sample (default 1000; 0: all)",
    )
    add_pair_option(heads, "--pair", deprecated=["--pairs"], help_text="analyse these pairs instead of datasets")
    heads.add_argument("--no-distances", action="store_true", help="skip the Jensen-Shannon distances and the MDS map")
    _common(heads)
    heads.set_defaults(_eval=_run_heads)


# ------------------------------------------------------------------------------------------- shared
def _encoder_info(encoder: Any, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "model": args.model,
        "name": encoder.name,
        "template": encoder.template,
        "max_length": encoder.max_length,
        "layers": encoder.n_layers,
        "heads": encoder.n_heads,
        "random_init": bool(args.random_init),
    }


def _load_encoder(args: argparse.Namespace):
    from relemb.attention.encode import AttentionEncoder

    encoder = AttentionEncoder.from_pretrained(
        args.model, template=args.template, max_length=args.max_length, device=args.device
    )
    return encoder.random_control(seed=args.seed) if args.random_init else encoder


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


# -------------------------------------------------------------------------------------------- probe
def _run_probe(args: argparse.Namespace) -> int:
    from relemb.attention import plot_dendrogram, plot_importance, plot_layer_scores, probe_relations
    from relemb.data import load_lexical_splits, record_sources

    started = time.perf_counter()
    output = check_output(args.output, ".json")
    figures = check_folder(args.figures, "--figures")
    datasets = list(dict.fromkeys(args.datasets))
    with record_sources() as sources:
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
            show_progress_bar=progress(args),
            name=name,
        )
        reports[name] = report
        rows.extend(_probe_rows(name, report))
        if figures is not None:
            stem = file_stem(name)
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
    scores = {name: r.to_dict() for name, r in reports.items()}
    save_results(output, "attention-probe", args, scores, model=_encoder_info(encoder, args), datasets=sources,
                 started=started)  # fmt: skip
    return 0


def _probe_rows(name: str, report: Any) -> list[list[Any]]:
    rows = []
    for task, result in report.tasks.items():
        control = result.attention.get("control")
        selectivity = (result.selectivity or {}).get("macro_f1")
        row = [
            file_stem(name),
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
def _trace_inputs(args: argparse.Namespace, encoder: Any, pairs: list[Any]) -> list[Any]:
    from relemb.attention.encode import AttentionInput

    inputs = encoder.inputs_from_pairs(pairs)
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
    from relemb.attention import plot_token_scores, trace

    started = time.perf_counter()
    output = check_output(args.output, ".json")
    figure = check_output(args.figure, ".png", "--figure")
    start = _start(args.start)
    pairs = pairs_from(args.pair)
    if not args.pair and not args.sentence:
        raise ValueError("give at least one --pair HEAD:TAIL or --sentence TEXT --head WORD --tail WORD")
    if args.layers and len(args.pair or []) + len(args.sentence or []) != 1:
        raise ValueError("--layers draws one input: give exactly one --pair or --sentence")
    if start is None and args.pair and args.sentence:
        raise ValueError("prompts and sentences start from different tokens by default; give --start")
    encoder = _load_encoder(args)
    inputs = _trace_inputs(args, encoder, pairs)
    if start is None:
        start = "mask" if args.pair else "first"
    scores = trace(encoder, inputs, start=start, batch_size=args.batch_size, show_progress_bar=progress(args))
    for item in scores:
        order = sorted(range(len(item.tokens)), key=lambda i: -item.tracing[i])[:5]
        print(f"{item.text}\n  from {item.start_token!r} (position {item.start_position})")
        rows = [[item.tokens[i], f"{item.tracing[i]:.3f}", f"{item.rollout[i]:.3f}"] for i in order]
        print(markdown_table(["token", "tracing", "rollout"], rows))
    if figure is not None:
        plot_token_scores(scores if not args.layers else scores[0], figure, layers=args.layers, title=str(args.model))
        print(f"wrote {figure}", file=sys.stderr)
    save_results(output, "attention-trace", args, {"inputs": [s.to_dict() for s in scores]},
                 model=_encoder_info(encoder, args), started=started)  # fmt: skip
    return 0


# -------------------------------------------------------------------------------------------- heads
def _run_heads(args: argparse.Namespace) -> int:
    from relemb.attention import analyze_heads, plot_head_map, plot_head_statistics, plot_relation_heads
    from relemb.data import load_lexical, record_sources, stratified_sample

    started = time.perf_counter()
    output = check_output(args.output, ".json")
    figures = check_folder(args.figures, "--figures")
    sources: list[Any] = []
    sets: dict[str, tuple[list[Pair], list[str] | None]]  # name -> (pairs, their relations if known)
    if args.pair:
        sets = {"pairs": (pairs_from(args.pair), None)}
    else:
        sets = {}
        with record_sources() as sources:
            for name in dict.fromkeys(args.datasets or []):
                records = load_lexical(name, args.split, data_dir=args.data_dir)
                keep = stratified_sample([r.relation for r in records], args.max_pairs, args.seed)
                if not len(keep):
                    raise ValueError(f"dataset {name!r} ({args.split}) holds no pairs")
                sets[name] = ([records[i].pair for i in keep], [records[i].relation for i in keep])
        if not sets:
            raise ValueError("give --datasets or --pair")
    encoder = _load_encoder(args)
    reports = {}
    rows = []
    for name, (pairs, relations) in sets.items():
        report = analyze_heads(
            encoder,
            encoder.inputs_from_pairs(pairs),
            relations=relations,
            batch_size=args.batch_size,
            show_progress_bar=progress(args),
            distances=not args.no_distances,
            seed=args.seed,
        )
        reports[name] = report
        if figures is not None:
            stem = file_stem(name)
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
    scores = {name: r.to_dict() for name, r in reports.items()}
    save_results(output, "attention-heads", args, scores, model=_encoder_info(encoder, args), datasets=sources,
                 started=started)  # fmt: skip
    return 0


def _head_rows(name: str, report: Any) -> list[list[Any]]:
    rows = []
    for stat in ("special", "punctuation", "previous", "next", "head", "tail", "mask"):
        for layer, head, value in report.statistics.top_heads(stat, 1):
            rows.append([file_stem(name), stat, f"L{layer}-H{head}", f"{value:.3f}"])
    return rows


def _relation_rows(name: str, report: Any) -> list[list[Any]]:
    accuracy = report.relation_accuracy
    rows = []
    for relation in accuracy.relations:
        layer, head, value = accuracy.best_head("tail_to_head", relation)
        offset, baseline = accuracy.baseline("tail_to_head", relation)
        n = accuracy.n_inputs("tail_to_head", relation)
        rows.append(
            [file_stem(name), relation, n, f"L{layer}-H{head}", _pct(value), f"{_pct(baseline)} (offset {offset:+d})"]
        )
    return rows

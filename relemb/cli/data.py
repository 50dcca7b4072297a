"""``relemb data``: list the datasets and where each would be loaded from, build the SemEval-2012 training set.

::

    relemb data list --data-dir /data/relbert
    relemb data build-semeval2012 --platinum-dir DIR --output-dir OUT
"""

from __future__ import annotations

import argparse
from pathlib import Path

from relemb._io import markdown_table
from relemb.cli.options import add_data_dir_option, check_output, file_stem, non_negative_int, positive_int
from relemb.data.analogies import SELECTION_SOURCES
from relemb.data.names import (
    ANALOGY_REPO,
    ANALOGY_SPLITS,
    LEXICAL_REPO,
    LEXICAL_SPLITS,
    MAPPING_REPO,
    RELATION_SIMILARITY_SPLITS,
    SEMEVAL_REPO,
    analogy_file,
    lexical_file,
    list_datasets,
    semeval_file,
)
from relemb.data.sources import find_local, local_roots
from relemb.hub import hub_offline

__all__ = ["add_arguments", "run"]


def add_build_semeval_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``relemb data build-semeval2012``."""
    parser.add_argument(
        "--platinum-dir", required=True, help="SemEval-2012 Task 2 platinum release (holds Phase2AnswersScaled/)"
    )
    parser.add_argument("--output-dir", required=True, help="folder to write train.jsonl and valid.jsonl to")
    parser.add_argument(
        "--n-positives", type=non_negative_int, default=10, help="highest-rated pairs kept (default 10)"
    )
    parser.add_argument("--n-negatives", type=non_negative_int, default=10, help="lowest-rated pairs kept (default 10)")
    parser.add_argument(
        "--n-validation",
        type=non_negative_int,
        default=2,
        help="pairs of each list held out for validation (default 2)",
    )


def run_build_semeval(args: argparse.Namespace) -> int:
    """Build the SemEval-2012 training set and print a summary; 0 on success, 2 on bad input."""
    from relemb.data.semeval import build_semeval2012

    splits = build_semeval2012(
        args.platinum_dir,
        args.output_dir,
        n_positives=args.n_positives,
        n_negatives=args.n_negatives,
        n_validation=args.n_validation,
    )
    for split, file_name in (("train", "train.jsonl"), ("validation", "valid.jsonl")):
        records = splits[split]
        if not records:
            print(f"{split}: none (--n-validation 0)")
            continue
        n_pos = sum(len(r.positives) for r in records)
        n_neg = sum(len(r.negatives) for r in records)
        target = Path(args.output_dir) / file_name
        print(f"{split}: {len(records)} relations, {n_pos} positive and {n_neg} negative pairs -> {target}")
    return 0


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``relemb data list``."""
    add_data_dir_option(parser)


def _where(repo_id: str, filename: str, data_dir: str | None) -> str:
    local = find_local(repo_id, filename, data_dir, [])
    if local is not None:
        return str(local)
    return f"hf://datasets/{repo_id}/{filename}" + (" (offline: unavailable)" if hub_offline() else "")


def run_list(args: argparse.Namespace) -> int:
    """Print every known dataset name, its splits and where each split would be loaded from."""
    data_dir = getattr(args, "data_dir", None)
    roots = local_roots(data_dir)
    print("local folders: " + (", ".join(f"{root} ({label})" for root, label in roots) if roots else "none"))
    names = list_datasets()
    print("\nanalogy (load_analogy):")
    for name in names["analogy"]:
        for split in ANALOGY_SPLITS[name]:
            if name == "starter":
                where = "bundled (relemb/data/starter)"
            elif name == "selection":
                where = "made from the validation splits of " + ", ".join(SELECTION_SOURCES) + " (make-analogies)"
            elif name == "semeval2012":
                where = "built from semeval2012 validation: " + _where(SEMEVAL_REPO, "dataset/valid.jsonl", data_dir)
            elif name == "sat_full":
                where = _where(ANALOGY_REPO, "dataset/sat_full/test.jsonl", data_dir)
                sat = find_local(ANALOGY_REPO, "dataset/sat/test.jsonl", data_dir, [])
                if sat is not None and not where.startswith("/"):
                    where = f"built from sat test + validation in {sat.parent}"
            else:
                where = _where(ANALOGY_REPO, f"dataset/{name}/{analogy_file(split)}", data_dir)
            print(f"  {name:<34} {split:<10} {where}")
    print("\nlexical (load_lexical):")
    for name in names["lexical"]:
        for split in LEXICAL_SPLITS[name]:
            print(f"  {name:<34} {split:<10} {_where(LEXICAL_REPO, f'dataset/{name}/{lexical_file(split)}', data_dir)}")
    print("\nrelation_similarity (load_relation_similarity):")
    for name in names["relation_similarity"]:
        for split in RELATION_SIMILARITY_SPLITS:
            if name == "starter":
                where = "bundled (relemb/data/starter)"
            else:
                where = _where(SEMEVAL_REPO, f"dataset/{semeval_file(split)}", data_dir)
            print(f"  {name:<34} {split:<10} {where}")
    print("\nmapping (load_mapping):")
    for name in names["mapping"]:
        print(f"  {name:<34} {'test':<10} {_where(MAPPING_REPO, 'dataset/test.jsonl', data_dir)}")
    return 0


def add_make_analogies_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``relemb data make-analogies``."""
    parser.add_argument(
        "--datasets",
        nargs="+",
        required=True,
        help="relation-labelled pairs: lexical datasets (BLESS, EVALution, K&H+N, ROOT09, CogALexV), semeval2012, "
        "starter, or .jsonl files of {head, tail, relation} (or SemEval-format) records",
    )
    parser.add_argument("--split", default="validation", help="split of the named datasets (default validation)")
    parser.add_argument(
        "--allow-test-split", action="store_true", help="allow --split test (questions made from a test split)"
    )
    parser.add_argument("--output", "-o", required=True, help="the .jsonl file of analogy questions to write")
    parser.add_argument("--choices", type=positive_int, default=4, help="choices per question (default 4)")
    parser.add_argument(
        "--max-per-relation", type=non_negative_int, default=200, help="questions per relation at most (0: all)"
    )
    parser.add_argument("--hard", action="store_true", help="distractors that share a word with the stem first")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_data_dir_option(parser)


def run_make_analogies(args: argparse.Namespace) -> int:
    """Make analogy questions from relation-labelled pairs and write them as JSON lines."""
    from relemb.data import load_labelled_pairs, make_analogy_questions, write_jsonl
    from relemb.data.names import normalize_split

    output = check_output(args.output, ".jsonl")
    assert output is not None, "--output is a required option"
    split = normalize_split(args.split)
    if split == "test" and not args.allow_test_split:
        raise ValueError(
            "--split test makes questions from a test split, which must not select models; "
            "use validation or train, or add --allow-test-split"
        )
    if args.choices < 2:
        raise ValueError(f"--choices must be at least 2, got {args.choices}")
    questions = []
    rows = []
    for offset, name in enumerate(dict.fromkeys(args.datasets)):
        labelled = load_labelled_pairs(name, split, data_dir=args.data_dir, level="relation")
        made = make_analogy_questions(
            labelled,
            n_choices=args.choices,
            seed=args.seed + offset,
            hard=args.hard,
            max_per_relation=args.max_per_relation or None,
            name=file_stem(name),
        )
        questions += made
        rows.append([name, split, len(labelled), len({q.prefix for q in made}), len(made)])
    write_jsonl(output, questions)
    print(markdown_table(["dataset", "split", "pairs", "relations", "questions"], rows))
    print(f"wrote {output}: {len(questions)} questions")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``relemb data`` command (``relemb.cli`` contract): ``build-semeval2012``, ``list``, ``make-analogies``."""
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    help_text = "build the SemEval-2012 training set from the platinum ratings"
    build = sub.add_parser("build-semeval2012", help=help_text, description=help_text)
    add_build_semeval_arguments(build)
    build.set_defaults(_data_run=run_build_semeval)
    help_text = "list dataset names, their splits and where each would be loaded from"
    listing = sub.add_parser("list", help=help_text, description=help_text)
    add_list_arguments(listing)
    listing.set_defaults(_data_run=run_list)
    help_text = "make analogy questions from relation-labelled pairs (e.g. a model-selection set)"
    make = sub.add_parser("make-analogies", help=help_text, description=help_text)
    add_make_analogies_arguments(make)
    make.set_defaults(_data_run=run_make_analogies)


def run(args: argparse.Namespace) -> int:
    """Run the ``relemb data`` subcommand chosen in ``args`` (``relemb.cli`` contract)."""
    return int(args._data_run(args) or 0)

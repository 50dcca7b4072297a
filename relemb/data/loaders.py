"""Load any dataset by name (local copy or Hub, one code path) or from a JSON-lines path.

Every loader takes ``name_or_path``: a known name (case-insensitive), a path to a ``.jsonl`` file in the
loader's format, a folder holding the split files (``valid.jsonl``/``test.jsonl``...), or an
``hf://datasets/<owner>/<repo>/<file>`` address.

>>> questions = load_analogy("starter", "test")
>>> len(questions) > 0 and questions[0].choice[questions[0].answer] is not None
True
>>> train = load_relation_similarity("starter", "train")
>>> len(train) >= 20
True
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .errors import DatasetNotFoundError, UnknownDatasetError
from .hierarchy import parent_class_name
from .jsonl import read_jsonl
from .names import (
    ANALOGY_REPO,
    ANALOGY_SPLITS,
    LEXICAL_REPO,
    LEXICAL_SPLITS,
    MAPPING_DATASETS,
    MAPPING_REPO,
    RELATION_SIMILARITY_SPLITS,
    SEMEVAL_REPO,
    analogy_file,
    analogy_splits,
    canonical_analogy_name,
    canonical_lexical_name,
    canonical_relation_similarity_name,
    check_split,
    lexical_file,
    list_datasets,
    normalize_split,
    semeval_file,
)
from .records import AnalogyQuestion, LexicalPair, MappingProblem, Pair, RelationRecord
from .sources import Located, download_from_hub, find_local, locate, note_source

__all__ = [
    "STARTER_DIR",
    "LABEL_LEVELS",
    "load_analogy",
    "load_labelled_pairs",
    "load_lexical",
    "load_lexical_splits",
    "load_mapping",
    "load_relation_similarity",
    "semeval_validation_questions",
]

logger = logging.getLogger("relemb.data")
T = TypeVar("T")
PathArg = str | os.PathLike[str]

#: The bundled starter set (a demo set written by the project, never a benchmark).
STARTER_DIR = Path(__file__).resolve().parent / "starter"
_STARTER_FILES = {
    ("relation_similarity", "train"): "train.jsonl",
    ("relation_similarity", "validation"): "valid.jsonl",
    ("analogy", "validation"): "analogy_valid.jsonl",
    ("analogy", "test"): "analogy_test.jsonl",
}


# --------------------------------------------------------------------------------------------- parsers
def _relation_parser() -> Callable[[Mapping[str, Any]], RelationRecord]:
    """``RelationRecord.from_dict`` that also rejects a relation type seen on an earlier line."""
    seen: set[str] = set()

    def parse(data: Mapping[str, Any]) -> RelationRecord:
        record = RelationRecord.from_dict(data)
        if record.relation_type in seen:
            raise ValueError(f"relation_type {record.relation_type!r} appears twice (one record per relation)")
        seen.add(record.relation_type)
        return record

    return parse


def _read(located: Located, parse: Callable[[Mapping[str, Any]], T], name: str, split: str) -> list[T]:
    records = read_jsonl(located.path, parse, display_path=located.display)
    logger.info("loaded %s/%s: %d records from %s", name, split, len(records), located.display)
    note_source(located, name, split)
    return records


# ------------------------------------------------------------------------------------- name vs. path
def _looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or text.lower().endswith((".jsonl", ".json")) or text.startswith("~")


def _explicit_source(name_or_path: PathArg, is_name: bool, split_file: str, what: str) -> Located | None:
    """Resolve a path / folder / hf:// argument to a file; ``None`` when the argument is a name."""
    if isinstance(name_or_path, str):
        text = name_or_path.strip()
        if text.startswith("hf://"):
            return _hub_address(text)
        if is_name:
            return None
        path = Path(text).expanduser()
        if not path.exists():
            if _looks_like_path(text):
                raise DatasetNotFoundError(
                    repr(text), [f"{path.resolve()}: no such file or folder"], fix="Fix: check the path."
                )
            return None
    else:
        path = Path(name_or_path).expanduser()
        if not path.exists():
            raise DatasetNotFoundError(
                repr(os.fspath(path)), [f"{path.resolve()}: no such file or folder"], fix="Fix: check the path."
            )
    if path.is_dir():
        candidate = path / split_file
        if not candidate.is_file():
            raise DatasetNotFoundError(
                f"{what} in folder {path}",
                [f"{candidate}: no such file"],
                fix=f"Fix: a dataset folder holds one file per split ({split_file} for this split).",
            )
        path = candidate
    return Located(path, "file", str(path))


def _hub_address(address: str) -> Located:
    """``hf://datasets/<owner>/<repo>/<path in repo>`` -> a downloaded (or cached) file."""
    parts = address[len("hf://") :].split("/")
    if len(parts) < 4 or parts[0] != "datasets":
        raise ValueError(f"expected hf://datasets/<owner>/<repo>/<file>, got {address!r}")
    repo_id, filename = "/".join(parts[1:3]), "/".join(parts[3:])
    places: list[str] = []
    path = download_from_hub(repo_id, filename, places)
    if path is None:
        raise DatasetNotFoundError(address, places)
    return Located(path, "hub", address)


def _fix_for(repo_id: str, filename: str) -> str:
    return (
        f"Fix: put a copy at DIR/{repo_id.split('/')[-1]}/{filename} and pass data_dir=DIR / --data-dir DIR or set "
        f"RELEMB_DATA_DIR=DIR (DIR has the Hub's layout, like a mirror of the relbert datasets); or go online "
        f"(network access, HF_HUB_OFFLINE unset) to download it from hf://datasets/{repo_id}."
    )


def _unknown(name: PathArg, kind: str) -> UnknownDatasetError:
    return UnknownDatasetError(
        repr(name),
        detail=f"not a known {kind} dataset name, nor an existing file or folder",
        known=list_datasets()[kind],
        fix="Fix: use one of the known names, or pass the path of a .jsonl file in the dataset's format.",
    )


def _fetch(
    repo_id: str, filename: str, dataset: str, data_dir: PathArg | None, *, known=None, note: str = ""
) -> Located:
    places: list[str] = []
    located = locate(repo_id, filename, data_dir, places)
    if located is None:
        error = UnknownDatasetError if known is not None else DatasetNotFoundError
        raise error(dataset, places, detail=note or None, known=known, fix=_fix_for(repo_id, filename))
    return located


def _starter(kind: str, split: str) -> Located:
    path = STARTER_DIR / _STARTER_FILES[(kind, split)]
    if not path.is_file():  # pragma: no cover - only when the package was installed without its data
        raise DatasetNotFoundError(f"starter ({kind}, split {split})", [f"{path}: missing from the installed package"])
    return Located(path, "bundled", f"relemb/data/starter/{path.name}")


# ------------------------------------------------------------------------------------------ analogy
_SAT_NOTE = (
    "SAT is not redistributable (its distributor asks that it not be shared); obtain a copy from its "
    "distributor and place it at DIR/analogy_questions/dataset/sat/{valid,test}.jsonl"
)


def load_analogy(name_or_path: PathArg, split: str = "test", data_dir: PathArg | None = None) -> list[AnalogyQuestion]:
    """Load analogy questions by name (``sat``, ``sat_full``, ``u2``, ``u4``, ``google``, ``bats``, any other
    ``relbert/analogy_questions`` config, ``semeval2012`` (validation), ``starter``, ``selection`` (relemb's
    model-selection set, made from validation splits: :func:`relemb.data.analogies.selection_questions`) or
    from a path.

    ``sat_full`` (374 questions) is read from its own folder when present, else built from ``sat``'s test
    then validation questions.

    >>> [len(load_analogy("starter", s)) for s in ("validation", "test")]
    [24, 96]
    """
    canonical = canonical_analogy_name(name_or_path) if isinstance(name_or_path, str) else None
    known_name = canonical in ANALOGY_SPLITS
    norm = normalize_split(split)
    split_file = analogy_file(norm) if norm != "train" else "train.jsonl"  # for a folder path
    explicit = _explicit_source(name_or_path, known_name, split_file, "analogy questions")
    if explicit is not None:
        return _read(explicit, AnalogyQuestion.from_dict, explicit.display, norm)
    if canonical is None:
        raise _unknown(name_or_path, "analogy")

    split = check_split(canonical, split, analogy_splits(canonical))
    if canonical == "semeval2012":
        return semeval_validation_questions(load_relation_similarity("semeval2012", "validation", data_dir))
    if canonical == "selection":
        from .analogies import selection_questions

        return selection_questions(data_dir)
    if canonical == "starter":
        return _read(_starter("analogy", split), AnalogyQuestion.from_dict, canonical, split)
    if canonical == "sat_full":
        return _load_sat_full(data_dir)
    located = _fetch(
        ANALOGY_REPO,
        f"dataset/{canonical}/{analogy_file(split)}",
        f"{canonical!r} (analogy questions, split {split})",
        data_dir,
        known=None if known_name else list_datasets()["analogy"],
        note=_SAT_NOTE if canonical == "sat" else "",
    )
    return _read(located, AnalogyQuestion.from_dict, canonical, split)


def _load_sat_full(data_dir: PathArg | None) -> list[AnalogyQuestion]:
    places: list[str] = []
    own = find_local(ANALOGY_REPO, "dataset/sat_full/test.jsonl", data_dir, places)
    if own is not None:
        return _read(Located(own, "local", str(own)), AnalogyQuestion.from_dict, "sat_full", "test")
    sat_test = find_local(ANALOGY_REPO, "dataset/sat/test.jsonl", data_dir, places)
    sat_valid = find_local(ANALOGY_REPO, "dataset/sat/valid.jsonl", data_dir, places)
    if sat_test is not None and sat_valid is not None:
        logger.info("sat_full: built from sat test + validation (%s, %s)", sat_test, sat_valid)
        test = _read(Located(sat_test, "local", str(sat_test)), AnalogyQuestion.from_dict, "sat", "test")
        valid = _read(Located(sat_valid, "local", str(sat_valid)), AnalogyQuestion.from_dict, "sat", "validation")
        return test + valid
    hub = download_from_hub(ANALOGY_REPO, "dataset/sat_full/test.jsonl", places)
    if hub is None:
        raise DatasetNotFoundError(
            "'sat_full' (analogy questions, split test)",
            places,
            detail=_SAT_NOTE,
            fix=_fix_for(ANALOGY_REPO, "dataset/sat_full/test.jsonl"),
        )
    display = f"hf://datasets/{ANALOGY_REPO}/dataset/sat_full/test.jsonl"
    return _read(Located(hub, "hub", display), AnalogyQuestion.from_dict, "sat_full", "test")


def semeval_validation_questions(records: list[RelationRecord]) -> list[AnalogyQuestion]:
    """RelBERT's model-selection questions: per relation, stem = positives[0], choice = [negatives[0],
    negatives[1], positives[1]], answer = 2, prefix = relation_type.

    >>> r = RelationRecord("1/a", [("bird", "robin"), ("tree", "oak")], [("oak", "tree"), ("hair", "brown")])
    >>> semeval_validation_questions([r])[0].choice
    (('oak', 'tree'), ('hair', 'brown'), ('tree', 'oak'))
    """
    questions = []
    for record in records:
        if len(record.positives) < 2 or len(record.negatives) < 2:
            raise ValueError(
                f"relation {record.relation_type!r} needs at least 2 positives and 2 negatives for a validation "
                f"question, has {len(record.positives)} and {len(record.negatives)}"
            )
        questions.append(
            AnalogyQuestion(
                stem=record.positives[0],
                choice=(record.negatives[0], record.negatives[1], record.positives[1]),
                answer=2,
                prefix=record.relation_type,
            )
        )
    return questions


# ------------------------------------------------------------------------------------------ lexical
def load_lexical(name_or_path: PathArg, split: str = "train", data_dir: PathArg | None = None) -> list[LexicalPair]:
    """Load a lexical relation classification split: ``BLESS``, ``CogALexV`` (no validation), ``EVALution``,
    ``K&H+N``, ``ROOT09`` (case-insensitive; ``kh+n`` works), or a path."""
    canonical = canonical_lexical_name(name_or_path) if isinstance(name_or_path, str) else None
    norm = normalize_split(split)
    explicit = _explicit_source(name_or_path, canonical is not None, lexical_file(norm), "lexical pairs")
    if explicit is not None:
        return _read(explicit, LexicalPair.from_dict, explicit.display, norm)
    if canonical is None:
        raise _unknown(name_or_path, "lexical")
    split = check_split(canonical, split, LEXICAL_SPLITS[canonical])
    located = _fetch(
        LEXICAL_REPO, f"dataset/{canonical}/{lexical_file(split)}", f"{canonical!r} (lexical, split {split})", data_dir
    )
    return _read(located, LexicalPair.from_dict, canonical, split)


def load_lexical_splits(
    dataset: PathArg | Mapping[str, Sequence[LexicalPair] | None], data_dir: PathArg | None = None
) -> dict[str, list[LexicalPair] | None]:
    """``{"train": [...], "validation": [...] or None, "test": [...]}`` of a lexical dataset: a name (``BLESS``,
    ``CogALexV`` (no validation), ``EVALution``, ``K&H+N``, ``ROOT09``), a folder holding ``train.jsonl``,
    ``test.jsonl`` and optionally ``val.jsonl``, or a mapping of split lists (train and test required).
    """
    if isinstance(dataset, Mapping):
        splits: dict[str, list[LexicalPair] | None] = {}
        for name in ("train", "validation", "test"):
            given = dataset.get(name)
            splits[name] = list(given) if given is not None else None
        for name in ("train", "test"):
            if splits[name] is None:
                raise ValueError(f"the lexical dataset has no {name!r} split")
        return splits
    canonical = canonical_lexical_name(dataset) if isinstance(dataset, str) else None
    if canonical is not None and not Path(os.fspath(dataset)).exists():
        has_val = "validation" in LEXICAL_SPLITS[canonical]
    else:
        has_val = (Path(os.fspath(dataset)).expanduser() / "val.jsonl").is_file()
    return {
        "train": load_lexical(dataset, "train", data_dir=data_dir),
        "validation": load_lexical(dataset, "validation", data_dir=data_dir) if has_val else None,
        "test": load_lexical(dataset, "test", data_dir=data_dir),
    }


# ---------------------------------------------------------------------------------- labelled pairs
#: ``load_labelled_pairs(level=...)``: label relational-similarity pairs by parent class or relation type.
LABEL_LEVELS = ("parent", "relation")


def _first_record(path: Path) -> dict[str, Any] | None:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    return None
                return record if isinstance(record, dict) else None
    return None


def _kind(dataset: str | os.PathLike, split: str) -> str:
    if isinstance(dataset, str) and not Path(dataset).exists():
        if canonical_lexical_name(dataset) is not None:
            return "lexical"
        if canonical_relation_similarity_name(dataset) is not None:
            return "relation_similarity"
        return "lexical"  # let the loader raise its unknown-name error listing the known names
    path = Path(os.fspath(dataset)).expanduser()
    if path.is_dir():
        candidates = sorted(path.glob("*.jsonl"))
        path = candidates[0] if candidates else path
    if path.is_file():
        record = _first_record(path) or {}
        if "relation_type" in record:
            return "relation_similarity"
    return "lexical"


def load_labelled_pairs(
    dataset: str | os.PathLike, split: str = "train", data_dir: str | os.PathLike | None = None, level: str = "parent"
) -> list[tuple[Pair, str]]:
    """``[(pair, label), ...]`` of a lexical dataset (label = relation) or of a relational-similarity set
    (its positive pairs; label = readable parent class, or the relation type with ``level="relation"``).

    >>> pairs = load_labelled_pairs("starter", "train", level="relation")
    >>> pairs[0][1] == load_relation_similarity("starter", "train")[0].relation_type
    True
    """
    if level not in LABEL_LEVELS:
        raise ValueError(f"unknown level {level!r}; choose one of {', '.join(LABEL_LEVELS)}")
    if _kind(dataset, split) == "relation_similarity":
        records = load_relation_similarity(dataset, split, data_dir=data_dir)
        return [
            (pair, parent_class_name(r.parent) if level == "parent" else r.relation_type)
            for r in records
            for pair in r.positives
        ]
    return [(p.pair, p.relation) for p in load_lexical(dataset, split, data_dir=data_dir)]


# ------------------------------------------------------------------------------- relation similarity
def load_relation_similarity(
    name_or_path: PathArg = "semeval2012", split: str = "train", data_dir: PathArg | None = None
) -> list[RelationRecord]:
    """Load relational-similarity training records: ``semeval2012`` (79 relations), ``starter`` (bundled),
    or a path to a file in that format. Splits: ``train``, ``validation``.

    >>> records = load_relation_similarity("starter", "validation")
    >>> all(len(r.positives) == 2 for r in records)
    True
    """
    canonical = canonical_relation_similarity_name(name_or_path) if isinstance(name_or_path, str) else None
    norm = normalize_split(split)
    split_file = semeval_file(norm) if norm in RELATION_SIMILARITY_SPLITS else "test.jsonl"
    explicit = _explicit_source(name_or_path, canonical is not None, split_file, "relation records")
    if explicit is not None:
        return _read(explicit, _relation_parser(), explicit.display, norm)
    if canonical is None:
        raise _unknown(name_or_path, "relation_similarity")
    split = check_split(canonical, split, RELATION_SIMILARITY_SPLITS)
    if canonical == "starter":
        return _read(_starter("relation_similarity", split), _relation_parser(), "starter", split)
    what = f"'semeval2012' (relational similarity, split {split})"
    located = _fetch(SEMEVAL_REPO, f"dataset/{semeval_file(split)}", what, data_dir)
    return _read(located, _relation_parser(), "semeval2012", split)


# ------------------------------------------------------------------------------------------ mapping
def load_mapping(
    name_or_path: PathArg = "relation_mapping", split: str = "test", data_dir: PathArg | None = None
) -> list[MappingProblem]:
    """Load relation mapping problems (``relbert/relation_mapping``, split ``test``) or a file of
    ``{"source": [...], "target": [...]}`` records (the gold mapping is ``source[i] <-> target[i]``)."""
    is_name = isinstance(name_or_path, str) and name_or_path.strip().lower() in MAPPING_DATASETS
    explicit = _explicit_source(name_or_path, is_name, "test.jsonl", "mapping problems")
    if explicit is not None:
        return _read(explicit, MappingProblem.from_dict, explicit.display, "test")
    if not is_name:
        raise _unknown(name_or_path, "mapping")
    split = check_split("relation_mapping", split, ("test",))
    located = _fetch(MAPPING_REPO, "dataset/test.jsonl", f"'relation_mapping' (split {split})", data_dir)
    return _read(located, MappingProblem.from_dict, "relation_mapping", "test")

"""Dataset names, their splits, and where each lives on the Hub (the local layout is the same).

>>> canonical_analogy_name("SAT_FULL"), canonical_lexical_name("kh+n"), canonical_lexical_name("bless")
('sat_full', 'K&H+N', 'BLESS')
>>> normalize_split("valid"), analogy_file("validation"), lexical_file("validation")
('validation', 'valid.jsonl', 'val.jsonl')
"""

from __future__ import annotations

import re

__all__ = [
    "ANALOGY_DATASETS",
    "ANALOGY_REPO",
    "ANALOGY_SPLITS",
    "BENCHMARK_ANALOGY_DATASETS",
    "LEXICAL_DATASETS",
    "LEXICAL_REPO",
    "LEXICAL_SPLITS",
    "MAPPING_DATASETS",
    "MAPPING_REPO",
    "RELATION_SIMILARITY_DATASETS",
    "RELATION_SIMILARITY_SPLITS",
    "SEMEVAL_REPO",
    "analogy_file",
    "analogy_splits",
    "canonical_analogy_name",
    "canonical_lexical_name",
    "canonical_relation_similarity_name",
    "check_split",
    "lexical_file",
    "list_datasets",
    "normalize_split",
    "semeval_file",
]

ANALOGY_REPO = "relbert/analogy_questions"
LEXICAL_REPO = "relbert/lexical_relation_classification"
SEMEVAL_REPO = "relbert/semeval2012_relational_similarity"
MAPPING_REPO = "relbert/relation_mapping"

#: Configs of ``relbert/analogy_questions`` (the Hub layout is ``dataset/<name>/{valid,test}.jsonl``).
#: ``load_analogy`` also takes ``"semeval2012"`` (validation) and ``"starter"`` (bundled demo set).
ANALOGY_DATASETS: tuple[str, ...] = (
    "sat",
    "sat_full",
    "u2",
    "u4",
    "google",
    "bats",
    "t_rex_relational_similarity",
    "conceptnet_relational_similarity",
    "nell_relational_similarity",
    "scan",
)
#: The analogy benchmarks of the RelBERT papers (``sat_full`` is SAT-dagger: test + validation, 374).
BENCHMARK_ANALOGY_DATASETS: tuple[str, ...] = ("sat_full", "sat", "u2", "u4", "google", "bats")
LEXICAL_DATASETS: tuple[str, ...] = ("BLESS", "CogALexV", "EVALution", "K&H+N", "ROOT09")
RELATION_SIMILARITY_DATASETS: tuple[str, ...] = ("semeval2012", "starter")
MAPPING_DATASETS: tuple[str, ...] = ("relation_mapping",)

_VT = ("validation", "test")
ANALOGY_SPLITS: dict[str, tuple[str, ...]] = {name: _VT for name in ANALOGY_DATASETS}
ANALOGY_SPLITS["sat_full"] = ("test",)
ANALOGY_SPLITS["semeval2012"] = ("validation",)
ANALOGY_SPLITS["starter"] = _VT
ANALOGY_SPLITS["selection"] = ("validation",)  # made from validation splits only (relemb.data.analogies)

LEXICAL_SPLITS: dict[str, tuple[str, ...]] = {name: ("train", "validation", "test") for name in LEXICAL_DATASETS}
LEXICAL_SPLITS["CogALexV"] = ("train", "test")
RELATION_SIMILARITY_SPLITS: tuple[str, ...] = ("train", "validation")

_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
}
_ANALOGY_ALIASES = {
    "sat-full": "sat_full",
    "satfull": "sat_full",
    "sat_dagger": "sat_full",
    "semeval2012_relational_similarity": "semeval2012",
    "semeval": "semeval2012",
    "semeval-2012": "semeval2012",
}
_RELSIM_ALIASES = {
    "semeval2012": "semeval2012",
    "semeval": "semeval2012",
    "semeval-2012": "semeval2012",
    "semeval2012_relational_similarity": "semeval2012",
    "starter": "starter",
}
_LEXICAL_KEYS = {re.sub(r"[^a-z0-9]", "", name.lower()): name for name in LEXICAL_DATASETS}
_HUB_CONFIG_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


def normalize_split(split: str) -> str:
    """Map ``valid``/``val``/``dev`` to ``validation`` (and check the name)."""
    key = str(split).strip().lower()
    if key not in _SPLIT_ALIASES:
        raise ValueError(f"unknown split {split!r}; use one of train, validation, test")
    return _SPLIT_ALIASES[key]


def check_split(dataset: str, split: str, allowed: tuple[str, ...]) -> str:
    """Normalize ``split`` and check that ``dataset`` has it; the error lists the splits it has."""
    canonical = normalize_split(split)
    if canonical not in allowed:
        raise ValueError(f"dataset {dataset!r} has no {canonical!r} split; its splits: {', '.join(allowed)}")
    return canonical


def canonical_analogy_name(name: str) -> str | None:
    """The canonical analogy name (case-insensitive, aliases resolved); ``None`` when the name cannot
    be a dataset name at all (it could only be a path). Unknown but well-formed names are returned in
    lower case: they may be other configs of ``relbert/analogy_questions``."""
    key = name.strip().lower()
    key = _ANALOGY_ALIASES.get(key, key)
    if key in ANALOGY_SPLITS:
        return key
    return key if _HUB_CONFIG_RE.match(key) else None


def canonical_lexical_name(name: str) -> str | None:
    """``bless`` -> ``BLESS``, ``kh+n``/``k&h+n`` -> ``K&H+N``; ``None`` for an unknown name."""
    return _LEXICAL_KEYS.get(re.sub(r"[^a-z0-9]", "", name.strip().lower()))


def canonical_relation_similarity_name(name: str) -> str | None:
    """``semeval2012`` (aliases ``semeval``, ``semeval2012_relational_similarity``) or ``starter``."""
    return _RELSIM_ALIASES.get(name.strip().lower())


def analogy_splits(name: str) -> tuple[str, ...]:
    """Splits of an analogy dataset; other Hub configs are assumed to have validation and test."""
    return ANALOGY_SPLITS.get(name, _VT)


def analogy_file(split: str) -> str:
    """File name of an analogy split in the Hub layout (``validation`` -> ``valid.jsonl``)."""
    return {"validation": "valid.jsonl", "test": "test.jsonl"}[normalize_split(split)]


def lexical_file(split: str) -> str:
    """File name of a lexical split in the Hub layout (``validation`` -> ``val.jsonl``)."""
    return {"train": "train.jsonl", "validation": "val.jsonl", "test": "test.jsonl"}[normalize_split(split)]


def semeval_file(split: str) -> str:
    """File name of a relational-similarity split (``validation`` -> ``valid.jsonl``)."""
    return {"train": "train.jsonl", "validation": "valid.jsonl"}[normalize_split(split)]


def list_datasets() -> dict[str, list[str]]:
    """Every dataset name the loaders accept, by kind.

    >>> sorted(list_datasets())
    ['analogy', 'lexical', 'mapping', 'relation_similarity']
    >>> list_datasets()["relation_similarity"]
    ['semeval2012', 'starter']
    """
    return {
        "analogy": [*ANALOGY_DATASETS, "semeval2012", "starter", "selection"],
        "lexical": list(LEXICAL_DATASETS),
        "relation_similarity": list(RELATION_SIMILARITY_DATASETS),
        "mapping": list(MAPPING_DATASETS),
    }

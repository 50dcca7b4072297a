"""Typed records, one per file format of the relbert datasets (frozen, hashable, validated on creation).

Lists given to a constructor become tuples; a value of the wrong type raises ``TypeError`` and a bad value
``ValueError`` (the file readers turn both into a :class:`~relemb.data.errors.DataFormatError` naming the
file and line). Pairs and words are checked by :mod:`relemb.pairs`.

>>> q = AnalogyQuestion(stem=["word", "language"], choice=[["paint", "portrait"], ["note", "music"]], answer=1)
>>> q.stem, q.choice[q.answer]
(('word', 'language'), ('note', 'music'))
>>> RelationRecord("8/d", positives=[("breathe", "live")], negatives=[]).parent
'8'
>>> LexicalPair.from_dict({"head": "cloak", "tail": "carry", "relation": "event"})
LexicalPair(head='cloak', tail='carry', relation='event')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relemb.pairs import Pair, check_pair, check_word

__all__ = [
    "RANDOM_LABELS",
    "AnalogyQuestion",
    "LexicalPair",
    "MappingProblem",
    "Pair",
    "RelationRecord",
    "is_random_label",
]


#: Relation labels the lexical datasets use for unrelated pairs (BLESS/CogALexV/ROOT09 ``random``, K&H+N ``false``).
RANDOM_LABELS = frozenset({"random", "false"})


def is_random_label(relation: str) -> bool:
    """Whether a lexical dataset's relation label marks an unrelated pair (``random``, ``RANDOM``, ``false``).

    >>> is_random_label("RANDOM"), is_random_label("hyper")
    (True, False)
    """
    return relation.strip().lower() in RANDOM_LABELS


def _pairs(value: Any, what: str) -> tuple[Pair, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{what} must be a list of pairs, got {type(value).__name__}")
    return tuple(check_pair(item, name=f"{what}[{i}]") for i, item in enumerate(value))


def _require(data: Mapping[str, Any], fields: tuple[str, ...]) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"a record must be a JSON object, got {type(data).__name__}")
    missing = [f for f in fields if f not in data]
    if missing:
        raise ValueError(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")


@dataclass(frozen=True)
class AnalogyQuestion:
    """A multiple-choice analogy: which ``choice`` relates like ``stem``? ``answer`` is 0-based.

    ``prefix`` is the question's group as the Hub files spell it (e.g. ``"grade7"`` in U2, the relation
    type for SemEval validation questions), or ``None``.
    """

    stem: Pair
    choice: tuple[Pair, ...]
    answer: int
    prefix: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "stem", check_pair(self.stem, name="stem"))
        choice = _pairs(self.choice, "choice")
        if len(choice) < 2:
            raise ValueError(f"choice needs at least 2 pairs, got {len(choice)}")
        object.__setattr__(self, "choice", choice)
        if isinstance(self.answer, bool) or not isinstance(self.answer, int):
            raise ValueError(f"answer must be an integer index, got {self.answer!r}")
        if not 0 <= self.answer < len(choice):
            raise ValueError(f"answer {self.answer} is out of range for {len(choice)} choices (0-based)")
        if self.prefix is not None and not isinstance(self.prefix, str):
            raise ValueError(f"prefix must be a string or null, got {self.prefix!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnalogyQuestion:
        """Build from ``{"stem": [a, b], "answer": i, "choice": [[c, d], ...], "prefix": ...}``."""
        _require(data, ("stem", "answer", "choice"))
        return cls(stem=data["stem"], choice=data["choice"], answer=data["answer"], prefix=data.get("prefix"))

    def to_dict(self) -> dict[str, Any]:
        """The Hub's record layout (key order as in the Hub files)."""
        out: dict[str, Any] = {
            "stem": list(self.stem),
            "answer": self.answer,
            "choice": [list(c) for c in self.choice],
        }
        if self.prefix is not None:
            out["prefix"] = self.prefix
        return out


@dataclass(frozen=True)
class LexicalPair:
    """A labelled word pair of a lexical relation classification dataset (labels kept as spelled)."""

    head: str
    tail: str
    relation: str

    def __post_init__(self) -> None:
        check_word(self.head, "head")
        check_word(self.tail, "tail")
        check_word(self.relation, "relation")

    @property
    def pair(self) -> Pair:
        return (self.head, self.tail)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LexicalPair:
        _require(data, ("head", "tail", "relation"))
        return cls(head=data["head"], tail=data["tail"], relation=data["relation"])

    def to_dict(self) -> dict[str, Any]:
        return {"head": self.head, "tail": self.tail, "relation": self.relation}


@dataclass(frozen=True)
class RelationRecord:
    """One relation of a relational-similarity training file: prototypical (positive) and
    non-prototypical (negative) pairs. ``relation_type`` is ``"<parent>/<child>"`` (e.g. ``"8/d"``)."""

    relation_type: str
    positives: tuple[Pair, ...]
    negatives: tuple[Pair, ...]

    def __post_init__(self) -> None:
        check_word(self.relation_type, "relation_type")
        positives = _pairs(self.positives, "positives")
        if not positives:
            raise ValueError(f"relation {self.relation_type!r} has no positive pairs")
        object.__setattr__(self, "positives", positives)
        object.__setattr__(self, "negatives", _pairs(self.negatives, "negatives"))

    @property
    def parent(self) -> str:
        """The parent class: the part of ``relation_type`` before ``/`` (the whole name if none)."""
        return self.relation_type.split("/", 1)[0]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RelationRecord:
        _require(data, ("relation_type", "positives", "negatives"))
        return cls(relation_type=data["relation_type"], positives=data["positives"], negatives=data["negatives"])

    def to_dict(self) -> dict[str, Any]:
        """The Hub's record layout (key order as in the Hub files)."""
        return {
            "relation_type": self.relation_type,
            "positives": [list(p) for p in self.positives],
            "negatives": [list(p) for p in self.negatives],
        }


@dataclass(frozen=True)
class MappingProblem:
    """A relation mapping problem: the gold mapping is ``source[i] <-> target[i]``."""

    source: tuple[str, ...]
    target: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("source", "target"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                raise ValueError(f"{name} must be a list of words, got {type(value).__name__}")
            object.__setattr__(self, name, tuple(check_word(w, f"{name}[{i}]") for i, w in enumerate(value)))
        if len(self.source) != len(self.target):
            raise ValueError(f"source has {len(self.source)} terms but target has {len(self.target)}")
        if len(self.source) < 2:
            raise ValueError(f"a mapping problem needs at least 2 terms, got {len(self.source)}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MappingProblem:
        _require(data, ("source", "target"))
        return cls(source=data["source"], target=data["target"])

    def to_dict(self) -> dict[str, Any]:
        return {"source": list(self.source), "target": list(self.target)}

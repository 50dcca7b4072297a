"""The relation hierarchy: parent classes of relation types (``"8/d"`` -> parent ``"8"``).

SemEval-2012 Task 2 groups its 79 subcategories into 10 parent classes (``subcategories-list.txt``).

>>> from relemb.data.records import RelationRecord
>>> records = [RelationRecord(t, [("a", "b")], []) for t in ("1/a", "1/b", "8/d")]
>>> parent_classes(records)
{'1': ['1/a', '1/b'], '8': ['8/d']}
>>> PARENT_CLASS_NAMES["8"]
'CAUSE-PURPOSE'
"""

from __future__ import annotations

from collections.abc import Iterable

from .records import RelationRecord

__all__ = ["PARENT_CLASS_NAMES", "parent_class_name", "parent_classes", "parent_of"]

#: SemEval-2012 Task 2 parent classes, as in ``subcategories-list.txt`` of the platinum release.
PARENT_CLASS_NAMES: dict[str, str] = {
    "1": "CLASS-INCLUSION",
    "2": "PART-WHOLE",
    "3": "SIMILAR",
    "4": "CONTRAST",
    "5": "ATTRIBUTE",
    "6": "NON-ATTRIBUTE",
    "7": "CASE RELATIONS",
    "8": "CAUSE-PURPOSE",
    "9": "SPACE-TIME",
    "10": "REFERENCE",
}


def parent_of(relation_type: str) -> str:
    """The part of ``relation_type`` before ``/`` (the whole name when there is none).

    >>> parent_of("10/a"), parent_of("geography/capital-of"), parent_of("synonym")
    ('10', 'geography', 'synonym')
    """
    return relation_type.split("/", 1)[0]


def parent_class_name(parent: str) -> str:
    """A readable name: SemEval digits map to their class name, other parents are returned as they are.

    >>> parent_class_name("2"), parent_class_name("geography")
    ('PART-WHOLE', 'geography')
    """
    return PARENT_CLASS_NAMES.get(parent, parent)


def parent_classes(records: Iterable[RelationRecord | str]) -> dict[str, list[str]]:
    """Group relation types by parent class, in order of first appearance (records or type names)."""
    groups: dict[str, list[str]] = {}
    for record in records:
        relation_type = record if isinstance(record, str) else record.relation_type
        members = groups.setdefault(parent_of(relation_type), [])
        if relation_type not in members:
            members.append(relation_type)
    return groups

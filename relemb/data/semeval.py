"""Build the SemEval-2012 Task 2 relational-similarity training set from the raw platinum ratings.

Rule (per subcategory file ``Phase2AnswersScaled/Phase2Answers-<id>.txt``, lines ``score "head:tail"``):
sort the pairs ascending by score (stable); negatives are those of the ``n_negatives`` lowest with score
< 0, positives those of the ``n_positives`` highest with score > 0, both kept in ascending order; the
validation split takes ``n_validation`` items of each list spread evenly from the first to the
second-to-last (with the defaults: items 0 and 8), training takes the rest. Relations are ordered by number
then letter and ``relation_type`` is ``"<digits>/<letter>"``. With the default options the output equals
``relbert/semeval2012_relational_similarity`` byte for byte.

    relemb data build-semeval2012 --platinum-dir ../shared/data/semeval2012-platinum --output-dir out/
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from relemb._io import write_files

from .errors import DataFormatError
from .jsonl import dumps_jsonl
from .records import Pair, RelationRecord

__all__ = ["build_semeval2012", "read_platinum_ratings", "validation_indices"]

logger = logging.getLogger("relemb.data")

_FILE_RE = re.compile(r"^Phase2Answers-(\d+)([a-z])\.txt$")
_LINE_RE = re.compile(r'^\s*([-+]?\d+(?:\.\d*)?)\s+"([^"]*)"\s*$')


def validation_indices(n_items: int, n_validation: int) -> list[int]:
    """Indices held out for validation: ``n_validation`` spread evenly over ``0 .. n_items - 2``.

    >>> validation_indices(10, 2), validation_indices(10, 3), validation_indices(10, 1), validation_indices(10, 0)
    ([0, 8], [0, 4, 8], [0], [])
    """
    if n_validation < 0:
        raise ValueError(f"n_validation must be >= 0, got {n_validation}")
    if n_validation == 0:
        return []
    if n_items < n_validation + 1:
        raise ValueError(f"cannot hold out {n_validation} of {n_items} pairs and keep one for training")
    if n_validation == 1:
        return [0]
    last = n_items - 2
    return sorted({round(i * last / (n_validation - 1)) for i in range(n_validation)})


def _find_scaled_dir(platinum_dir: Path) -> Path:
    for candidate in (platinum_dir / "Phase2AnswersScaled", platinum_dir):
        if candidate.is_dir() and any(_FILE_RE.match(p.name) for p in candidate.iterdir()):
            return candidate
    if not platinum_dir.is_dir():
        raise FileNotFoundError(f"platinum folder {platinum_dir} does not exist")
    raise FileNotFoundError(
        f"no Phase2AnswersScaled/Phase2Answers-<id>.txt files under {platinum_dir}: "
        "point --platinum-dir at the SemEval-2012 Task 2 platinum release folder"
    )


def read_platinum_ratings(path: str | os.PathLike[str]) -> list[tuple[float, Pair]]:
    """Parse one scaled ratings file: ``[(score, (head, tail)), ...]`` in file order.

    Header lines start with ``#``; blank lines are skipped; anything else malformed raises
    :class:`DataFormatError` with the file and line.
    """
    ratings: list[tuple[float, Pair]] = []
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if line.startswith("#") or not line.strip():
                continue
            match = _LINE_RE.match(line)
            if match is None:
                raise DataFormatError(path, lineno, f'expected `score "head:tail"`, got {line.strip()!r}')
            words = match.group(2).split(":")
            if len(words) != 2 or not all(w.strip() for w in words):
                raise DataFormatError(path, lineno, f"{match.group(2)!r} is not a pair of two words 'head:tail'")
            ratings.append((float(match.group(1)), (words[0], words[1])))
    if not ratings:
        raise DataFormatError(path, None, "the file holds no rated pairs")
    return ratings


def _split(items: list[Pair], n_validation: int, relation: str, what: str) -> tuple[list[Pair], list[Pair]]:
    try:
        held = set(validation_indices(len(items), n_validation))
    except ValueError as exc:
        raise ValueError(f"relation {relation}: {len(items)} {what}; {exc}") from None
    return [p for i, p in enumerate(items) if i not in held], [p for i, p in enumerate(items) if i in held]


def build_semeval2012(
    platinum_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str] | None = None,
    n_positives: int = 10,
    n_negatives: int = 10,
    n_validation: int = 2,
) -> dict[str, list[RelationRecord]]:
    """Build ``{"train": [...], "validation": [...]}`` from the platinum ratings; with ``output_dir``
    also write ``train.jsonl`` and ``valid.jsonl`` there (atomically: nothing is written on error;
    ``valid.jsonl`` is not written when ``n_validation=0``).

    Example: ``build_semeval2012("../shared/data/semeval2012-platinum", "out/")`` writes 79 relations
    with 8 + 8 training and 2 + 2 validation pairs each.
    """
    for name, value in (("n_positives", n_positives), ("n_negatives", n_negatives), ("n_validation", n_validation)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if n_positives < 1:
        raise ValueError("n_positives must be at least 1")
    scaled_dir = _find_scaled_dir(Path(platinum_dir).expanduser())
    files = sorted(
        ((int(m.group(1)), m.group(2), p) for p in scaled_dir.iterdir() if (m := _FILE_RE.match(p.name))),
        key=lambda item: (item[0], item[1]),
    )
    train: list[RelationRecord] = []
    validation: list[RelationRecord] = []
    for number, letter, path in files:
        relation = f"{number}/{letter}"
        ranked = sorted(read_platinum_ratings(path), key=lambda item: item[0])  # stable: ties keep file order
        negatives = [pair for score, pair in ranked[:n_negatives] if score < 0] if n_negatives else []
        positives = [pair for score, pair in ranked[-n_positives:] if score > 0]
        if not positives:
            raise ValueError(f"relation {relation} ({path}) has no pair with a positive score")
        pos_train, pos_valid = _split(positives, n_validation, relation, "positives")
        neg_train, neg_valid = _split(negatives, n_validation, relation, "negatives") if n_negatives else ([], [])
        train.append(RelationRecord(relation, tuple(pos_train), tuple(neg_train)))
        if n_validation:
            validation.append(RelationRecord(relation, tuple(pos_valid), tuple(neg_valid)))
    logger.info("built SemEval-2012: %d relations from %s", len(train), scaled_dir)
    if output_dir is not None:
        out = Path(output_dir).expanduser()
        files_out = {out / "train.jsonl": dumps_jsonl(train)}
        if n_validation:
            files_out[out / "valid.jsonl"] = dumps_jsonl(validation)
        elif (out / "valid.jsonl").exists():
            logger.warning("n_validation=0: left the existing %s untouched", out / "valid.jsonl")
        write_files(files_out)
    return {"train": train, "validation": validation}

"""Analogy questions made from relation-labelled pairs, and relemb's model-selection set built that way.

:func:`make_analogy_questions` turns ``(pair, relation)`` items (a lexical dataset's split, SemEval-2012's
relations, a user's own file) into multiple-choice questions in the analogy format: the stem and the answer
share a relation, the distractors come from other relations (with ``hard=True``, preferably pairs that share
a word with the stem), no pair appears twice in a question, and the same seed gives the same questions.

:func:`selection_questions` is the model-selection set of ``relemb-train --eval_datasets selection``: the
questions made from the **validation** splits of BLESS, EVALution, K&H+N and ROOT09 and of SemEval-2012
(about 2000 questions; never a test split, never U2/U4/Google/BATS).

>>> pairs = [(("dog", "animal"), "hyper"), (("oak", "tree"), "hyper"), (("wheel", "car"), "mero"),
...          (("leaf", "tree"), "mero"), (("hot", "cold"), "antonym"), (("up", "down"), "antonym")]
>>> questions = make_analogy_questions(pairs, n_choices=3, seed=0)
>>> len(questions), questions[0].prefix
(6, 'antonym')
>>> q = questions[0]
>>> q.stem, q.choice[q.answer]
(('hot', 'cold'), ('up', 'down'))
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence

import numpy as np

from relemb.pairs import Pair, check_pair

from .records import AnalogyQuestion, is_random_label

__all__ = ["SELECTION_SOURCES", "make_analogy_questions", "selection_questions"]

logger = logging.getLogger("relemb.data")

#: The validation splits the model-selection set is made from (never a test split).
SELECTION_SOURCES: tuple[str, ...] = ("BLESS", "EVALution", "K&H+N", "ROOT09", "semeval2012")
#: Questions per relation in the selection set, so that K&H+N's 1313 sibling pairs do not swamp it.
SELECTION_MAX_PER_RELATION = 200


def _shares_a_word(pair: Pair, stem: Pair) -> bool:
    words = {stem[0].lower(), stem[1].lower()}
    return pair[0].lower() in words or pair[1].lower() in words


def make_analogy_questions(
    labelled_pairs: Iterable[tuple[Sequence[str], str]],
    *,
    n_choices: int = 4,
    seed: int = 0,
    hard: bool = False,
    max_per_relation: int | None = None,
    min_pairs: int = 2,
    keep_random: bool = False,
    name: str | None = None,
) -> list[AnalogyQuestion]:
    """Multiple-choice analogy questions from relation-labelled pairs.

    Every pair of a relation (at most ``max_per_relation`` of them, a seeded sample) is the stem of one
    question. The answer is another pair of the same relation, and the ``n_choices - 1`` distractors are
    pairs of other relations, from as many different relations as there are. A distractor never carries
    the stem's relation, even where a dataset lists a pair under several relations. No pair appears twice
    in one question, and the answer's position is drawn at random. With ``hard=True`` the distractors are
    preferably pairs that share a word with the stem (the hard case); the rest are drawn as usual.

    Args:
        labelled_pairs: ``((head, tail), relation)`` items. ``relemb.data.load_labelled_pairs(name, split,
            level="relation")`` gives them for a lexical dataset, SemEval-2012 or a file.
        n_choices: choices per question (the answer included), at least 2.
        seed: the seed of every random choice. The same inputs and seed give the same questions.
        hard: prefer distractors that share a word with the stem.
        max_per_relation: at most this many questions per relation (``None``: one per pair).
        min_pairs: relations with fewer distinct pairs are skipped, with a logged warning naming them.
        keep_random: also make questions for unrelated-pair labels (``random``, ``false``). By default these
            pairs are left out altogether.
        name: written into every question's ``prefix`` as ``name:relation`` (default: the relation).

    Returns:
        The questions, relation by relation (relations sorted by name). Raises ``ValueError`` when no
        relation has enough pairs, or when there are too few other pairs to draw distractors from.
    """
    if isinstance(n_choices, bool) or not isinstance(n_choices, int) or n_choices < 2:
        raise ValueError(f"n_choices must be an integer >= 2, got {n_choices!r}")
    if isinstance(min_pairs, bool) or not isinstance(min_pairs, int) or min_pairs < 2:
        raise ValueError(f"min_pairs must be an integer >= 2 (a stem and an answer), got {min_pairs!r}")
    if max_per_relation is not None and (not isinstance(max_per_relation, int) or max_per_relation < 1):
        raise ValueError(f"max_per_relation must be a positive integer or None, got {max_per_relation!r}")
    members: dict[str, list[Pair]] = {}
    labels_of: dict[Pair, set[str]] = {}
    for index, item in enumerate(labelled_pairs):
        if not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[1], str):
            raise TypeError(f"item {index} is not a ((head, tail), relation) pair: {item!r}")
        pair, relation = check_pair(item[0], index), item[1]
        if not keep_random and is_random_label(relation):
            continue
        labels = labels_of.setdefault(pair, set())
        if relation not in labels:  # a pair listed twice under one relation counts once
            labels.add(relation)
            members.setdefault(relation, []).append(pair)
    relations = sorted(members)
    too_small = [r for r in relations if len(members[r]) < min_pairs]
    if too_small:
        logger.warning(
            "make_analogy_questions%s: skipped %d relation(s) with fewer than %d pairs: %s",
            f" ({name})" if name else "",
            len(too_small),
            min_pairs,
            ", ".join(f"{r} ({len(members[r])})" for r in too_small),
        )
    usable = [r for r in relations if r not in too_small]
    if not usable:
        raise ValueError(f"no relation has {min_pairs} or more pairs: no analogy question can be made")
    rng = np.random.default_rng(seed)
    questions: list[AnalogyQuestion] = []
    short = 0
    for relation in usable:
        pairs = members[relation]
        others = [p for r in relations if r != relation for p in members[r] if relation not in labels_of[p]]
        others = list(dict.fromkeys(others))
        if len(others) < n_choices - 1:
            raise ValueError(
                f"relation {relation!r}: only {len(others)} pairs of other relations, {n_choices - 1} distractors needed"
            )
        order = rng.permutation(len(pairs))
        if max_per_relation is not None:
            order = order[:max_per_relation]
        for position in order:
            stem = pairs[position]
            answer = pairs[(position + 1 + int(rng.integers(len(pairs) - 1))) % len(pairs)]
            distractors = _distractors(stem, answer, others, labels_of, n_choices - 1, hard, rng)
            if len(distractors) < n_choices - 1:
                short += 1
                continue
            slot = int(rng.integers(n_choices))
            choice = [*distractors[:slot], answer, *distractors[slot:]]
            prefix = f"{name}:{relation}" if name else relation
            questions.append(AnalogyQuestion(stem=stem, choice=tuple(choice), answer=slot, prefix=prefix))
    if short:
        logger.warning("make_analogy_questions: %d question(s) left out for lack of distinct distractors", short)
    return questions


def _distractors(
    stem: Pair,
    answer: Pair,
    others: list[Pair],
    labels_of: dict[Pair, set[str]],
    k: int,
    hard: bool,
    rng: np.random.Generator,
) -> list[Pair]:
    """``k`` distinct pairs of ``others`` (none the stem or the answer), from as many relations as possible;
    with ``hard``, pairs sharing a word with the stem first."""
    taken = {stem, answer}
    chosen: list[Pair] = []
    pools = [[p for p in others if _shares_a_word(p, stem)], others] if hard else [others]
    for pool in pools:
        if len(chosen) == k:
            break
        candidates = [p for p in pool if p not in taken]
        if not candidates:
            continue
        picked = rng.permutation(len(candidates))
        used_relations: set[str] = set()
        # first pass: one pair per relation; second pass: fill up with the rest
        for diverse in (True, False):
            for index in picked:
                pair = candidates[int(index)]
                if len(chosen) == k:
                    break
                if pair in taken or (diverse and labels_of[pair] & used_relations):
                    continue
                chosen.append(pair)
                taken.add(pair)
                used_relations |= labels_of[pair]
    return chosen


def selection_questions(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    n_choices: int = 4,
    hard: bool = False,
    max_per_relation: int | None = SELECTION_MAX_PER_RELATION,
) -> list[AnalogyQuestion]:
    """relemb's model-selection questions: :func:`make_analogy_questions` on the validation split of every
    dataset in :data:`SELECTION_SOURCES` (each dataset's questions draw distractors from that dataset only;
    prefixes read ``dataset:relation``). ``relemb.data.load_analogy("selection", "validation")`` returns them.

    Example::

        questions = selection_questions("/data/relbert")   # about 2000 questions
    """
    from .loaders import load_labelled_pairs

    questions: list[AnalogyQuestion] = []
    for offset, dataset in enumerate(SELECTION_SOURCES):
        labelled = load_labelled_pairs(dataset, "validation", data_dir=data_dir, level="relation")
        questions += make_analogy_questions(
            labelled,
            n_choices=n_choices,
            seed=seed + offset,
            hard=hard,
            max_per_relation=max_per_relation,
            name=dataset,
        )
    return questions

"""relemb.data.analogies: analogy questions made from relation-labelled pairs, and the selection set."""

import json
import logging

import pytest

from relemb.cli import main
from relemb.data import (
    AnalogyQuestion,
    load_analogy,
    load_lexical,
    make_analogy_questions,
    record_sources,
    selection_questions,
)

RELATIONS = {
    "capital": [("paris", "france"), ("rome", "italy"), ("tokyo", "japan"), ("berlin", "germany")],
    "young": [("puppy", "dog"), ("kitten", "cat"), ("calf", "cow"), ("cub", "bear"), ("lamb", "sheep")],
    "part": [("wheel", "car"), ("petal", "flower"), ("page", "book"), ("leaf", "tree"), ("finger", "hand")],
    "random": [("hot", "book"), ("gold", "dog")],
    "lonely": [("sun", "moon")],
}
LABELLED = [(pair, relation) for relation, pairs in RELATIONS.items() for pair in pairs]


def test_questions_share_the_stem_relation_and_never_reuse_a_pair():
    questions = make_analogy_questions(LABELLED, n_choices=4, seed=0)
    relation_of = {pair: relation for pair, relation in LABELLED}
    assert len(questions) == 4 + 5 + 5  # one per pair of the three usable relations
    for q in questions:
        assert isinstance(q, AnalogyQuestion) and len(q.choice) == 4
        pairs = [q.stem, *q.choice]
        assert len(set(pairs)) == len(pairs)  # no pair twice in a question
        assert relation_of[q.choice[q.answer]] == relation_of[q.stem] == q.prefix
        distractors = [c for i, c in enumerate(q.choice) if i != q.answer]
        assert all(relation_of[d] != q.prefix for d in distractors)
        assert all(relation_of[d] != "random" for d in distractors)  # unrelated pairs are left out
    assert {q.answer for q in questions} == {0, 1, 2, 3}


def test_the_same_seed_gives_the_same_questions():
    assert make_analogy_questions(LABELLED, seed=3) == make_analogy_questions(LABELLED, seed=3)
    assert make_analogy_questions(LABELLED, seed=3) != make_analogy_questions(LABELLED, seed=4)


def test_a_relation_with_too_few_pairs_is_skipped_with_a_message(caplog):
    with caplog.at_level(logging.WARNING, logger="relemb.data"):
        questions = make_analogy_questions(LABELLED, seed=0)
    assert "skipped 1 relation(s) with fewer than 2 pairs: lonely (1)" in caplog.text
    assert all(q.prefix != "lonely" for q in questions)
    with pytest.raises(ValueError, match="no relation has 2 or more pairs"):
        make_analogy_questions([(("a", "b"), "x"), (("c", "d"), "y")])


def test_a_pair_listed_under_two_relations_is_never_a_distractor_of_either():
    labelled = [*LABELLED, (("puppy", "dog"), "part")]  # puppy:dog now also counts as "part"
    for q in make_analogy_questions(labelled, seed=1):
        if q.prefix == "part":
            assert ("puppy", "dog") not in [c for i, c in enumerate(q.choice) if i != q.answer]


def test_hard_distractors_share_a_word_with_the_stem():
    labelled = [*LABELLED, (("paris", "city"), "is_a"), (("rome", "city"), "is_a"), (("paris", "seine"), "river")]
    labelled += [(("rome", "tiber"), "river")]
    hard = make_analogy_questions(labelled, seed=0, hard=True, n_choices=3)
    stem_words = {q.stem: set(q.stem) for q in hard}
    paris = next(q for q in hard if q.stem == ("paris", "france"))
    distractors = [c for i, c in enumerate(paris.choice) if i != paris.answer]
    assert all(stem_words[paris.stem] & set(d) for d in distractors)


def test_options_are_checked():
    with pytest.raises(ValueError, match="n_choices"):
        make_analogy_questions(LABELLED, n_choices=1)
    with pytest.raises(TypeError, match="item at index 0"):
        make_analogy_questions([("a", "b")])
    with pytest.raises(ValueError, match="distractors needed"):
        make_analogy_questions(LABELLED, n_choices=20)
    assert len(make_analogy_questions(LABELLED, max_per_relation=1)) == 3


@pytest.mark.data
def test_the_selection_set_uses_validation_splits_only(data_dir):
    with record_sources() as sources:
        questions = selection_questions(data_dir)
    assert len(questions) > 1500
    assert {(source.name, source.split) for source in sources} == {
        (name, "validation") for name in ("BLESS", "EVALution", "K&H+N", "ROOT09", "semeval2012")
    }
    validation = {pair for name, split in (("BLESS", "validation"), ("ROOT09", "validation")) for pair in
                  (p.pair for p in load_lexical(name, split, data_dir=data_dir))}  # fmt: skip
    bless_root = [q for q in questions if q.prefix.split(":")[0] in ("BLESS", "ROOT09")]
    assert all(pair in validation for q in bless_root for pair in (q.stem, *q.choice))
    assert questions == load_analogy("selection", "validation", data_dir=data_dir)
    with pytest.raises(ValueError, match="no 'test' split"):
        load_analogy("selection", "test", data_dir=data_dir)


def test_make_analogies_command(tmp_path, capsys):
    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps({"head": h, "tail": t, "relation": r}) + "\n" for (h, t), r in LABELLED))
    out = tmp_path / "questions.jsonl"
    assert main(["data", "make-analogies", "--datasets", str(source), "-o", str(out), "--choices", "3"]) == 0
    questions = load_analogy(out)
    assert len(questions) == 14 and all(len(q.choice) == 3 for q in questions)
    assert "questions" in capsys.readouterr().out
    assert main(["data", "make-analogies", "--datasets", "BLESS", "--split", "test", "-o", str(out)]) == 2
    assert "test split" in capsys.readouterr().err
    assert main(["data", "make-analogies", "--datasets", str(source), "-o", str(tmp_path / "q.txt")]) == 2
    assert "should end in .jsonl" in capsys.readouterr().err

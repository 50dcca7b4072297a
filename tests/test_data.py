"""relemb.data: names, sources, formats, validation errors, the starter set (offline, made-up files)."""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path

import pytest

import relemb.data as data
from relemb.data import (
    ANALOGY_DATASETS,
    LEXICAL_DATASETS,
    PARENT_CLASS_NAMES,
    AnalogyQuestion,
    DataFormatError,
    DatasetNotFoundError,
    LexicalPair,
    MappingProblem,
    RelationRecord,
    UnknownDatasetError,
    list_datasets,
    load_analogy,
    load_lexical,
    load_mapping,
    load_relation_similarity,
    parent_classes,
    resolve_data_dir,
    semeval_validation_questions,
)

# ------------------------------------------------------------------------------------------ fixtures


def _write(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def _question(stem, answer, *choice, prefix="made-up"):
    return {"stem": list(stem), "answer": answer, "choice": [list(c) for c in choice], "prefix": prefix}


# A made-up file in SAT's format (SAT itself is not redistributable): 5 choices, one answer.
SAT_TEST = [
    _question(
        ("ostrich", "bird"),
        0,
        ("lion", "cat"),
        ("goose", "flock"),
        ("ewe", "sheep"),
        ("cub", "bear"),
        ("primate", "monkey"),
        prefix="made-up sat",
    ),
    _question(
        ("mason", "stone"),
        2,
        ("teacher", "chalk"),
        ("carpenter", "wood"),
        ("soldier", "gun"),
        ("photograph", "camera"),
        ("book", "word"),
        prefix="made-up sat",
    ),
]
SAT_VALID = [
    _question(
        ("audacious", "boldness"),
        1,
        ("sanctimonious", "hypocrisy"),
        ("anonymous", "identity"),
        ("remorseful", "misdeed"),
        ("deleterious", "result"),
        ("impressionable", "temptation"),
        prefix="made-up sat",
    ),
]
U2_TEST = [
    _question(("hot", "cold"), 1, ("big", "large"), ("up", "down"), ("red", "color")),
    _question(("puppy", "dog"), 0, ("kitten", "cat"), ("car", "wheel"), ("pen", "write"), ("sun", "moon")),
    _question(("paris", "france"), 2, ("rome", "pasta"), ("tokyo", "sushi"), ("berlin", "germany"), ("lima", "llama")),
]
U2_VALID = [_question(("pen", "write"), 0, ("knife", "cut"), ("dog", "bark"), ("sky", "blue"))]
BLESS_ROWS = {
    "train": [
        {"head": "dog", "tail": "animal", "relation": "hyper"},
        {"head": "car", "tail": "wheel", "relation": "mero"},
    ],
    "val": [{"head": "cat", "tail": "mammal", "relation": "hyper"}],
    "test": [
        {"head": "apple", "tail": "fruit", "relation": "hyper"},
        {"head": "tree", "tail": "leaf", "relation": "mero"},
        {"head": "cup", "tail": "sky", "relation": "random"},
    ],
}
SEMEVAL_TRAIN = [
    {
        "relation_type": "1/a",
        "positives": [["furniture", "chair"], ["fruit", "apple"]],
        "negatives": [["chair", "furniture"]],
    },
    {"relation_type": "1/b", "positives": [["tool", "hammer"], ["bird", "robin"]], "negatives": [["oak", "tree"]]},
    {"relation_type": "8/d", "positives": [["breathe", "live"], ["study", "learn"]], "negatives": [["sleep", "dream"]]},
]
SEMEVAL_VALID = [
    {
        "relation_type": "1/a",
        "positives": [["animal", "pig"], ["weapon", "spear"]],
        "negatives": [["sweater", "knit"], ["hair", "brown"]],
    },
    {
        "relation_type": "8/d",
        "positives": [["drink", "hydrate"], ["wash", "clean"]],
        "negatives": [["eat", "fat"], ["run", "tired"]],
    },
]
MAPPING = [{"source": ["sun", "planet", "gravity"], "target": ["nucleus", "electron", "electromagnetism"], "id": "m1"}]


@pytest.fixture
def no_env(monkeypatch):
    """Isolate from the machine: no RELEMB_DATA_DIR, Hub offline."""
    monkeypatch.delenv("RELEMB_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def hub_layout(tmp_path, no_env) -> Path:
    """A made-up local copy in the Hub's layout (like ../shared/data/relbert), SAT included."""
    root = tmp_path / "relbert"
    aq = root / "analogy_questions" / "dataset"
    _write(aq / "sat" / "test.jsonl", SAT_TEST)
    _write(aq / "sat" / "valid.jsonl", SAT_VALID)
    _write(aq / "u2" / "test.jsonl", U2_TEST)
    _write(aq / "u2" / "valid.jsonl", U2_VALID)
    lex = root / "lexical_relation_classification" / "dataset"
    for split, rows in BLESS_ROWS.items():
        _write(lex / "BLESS" / f"{split}.jsonl", rows)
        _write(lex / "K&H+N" / f"{split}.jsonl", rows)
    _write(lex / "CogALexV" / "train.jsonl", BLESS_ROWS["train"])
    _write(lex / "CogALexV" / "test.jsonl", BLESS_ROWS["test"])
    sem = root / "semeval2012_relational_similarity" / "dataset"
    _write(sem / "train.jsonl", SEMEVAL_TRAIN)
    _write(sem / "valid.jsonl", SEMEVAL_VALID)
    _write(root / "relation_mapping" / "dataset" / "test.jsonl", MAPPING)
    return root


# ------------------------------------------------------------------------------------------- records


def test_records_are_frozen_hashable_and_round_trip():
    q = AnalogyQuestion(stem=["a", "b"], choice=[["c", "d"], ["e", "f"]], answer=1, prefix="g")
    assert q.stem == ("a", "b") and q.choice == (("c", "d"), ("e", "f"))
    assert AnalogyQuestion.from_dict(q.to_dict()) == q
    assert len({q, AnalogyQuestion.from_dict(q.to_dict())}) == 1
    with pytest.raises(AttributeError):
        q.answer = 0  # type: ignore[misc]
    r = RelationRecord("8/d", [["breathe", "live"]], [])
    assert r.parent == "8" and RelationRecord("starter", [("a", "b")], []).parent == "starter"
    assert RelationRecord.from_dict(r.to_dict()) == r
    p = LexicalPair("dog", "animal", "hyper")
    assert LexicalPair.from_dict(p.to_dict()) == p and p.pair == ("dog", "animal")
    m = MappingProblem(["a", "b"], ["c", "d"])
    assert MappingProblem.from_dict(m.to_dict()) == m
    assert AnalogyQuestion(("a", "b"), (("c", "d"), ("e", "f")), 0).to_dict().keys() == {"stem", "answer", "choice"}


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"stem": ["a"], "choice": [["c", "d"], ["e", "f"]], "answer": 0}, "stem is not a \\(head, tail\\) pair"),
        ({"stem": ["a", ""], "choice": [["c", "d"], ["e", "f"]], "answer": 0}, "empty word"),
        (
            {"stem": ["a", "b"], "choice": [["c", "d"], ["e"]], "answer": 0},
            "choice\\[1\\] is not a \\(head, tail\\) pair",
        ),
        ({"stem": ["a", "b"], "choice": [["c", "d"], ["e", "f"]], "answer": 2}, "out of range"),
        ({"stem": ["a", "b"], "choice": [["c", "d"], ["e", "f"]], "answer": -1}, "out of range"),
        ({"stem": ["a", "b"], "choice": [["c", "d"], ["e", "f"]], "answer": True}, "integer"),
        ({"stem": ["a", "b"], "choice": [["c", "d"]], "answer": 0}, "at least 2"),
        (
            {"stem": ["a", "b"], "choice": [["c", 3], ["e", "f"]], "answer": 0},
            "choice\\[0\\] is not a \\(head, tail\\) pair",
        ),
    ],
)
def test_analogy_question_validation(kwargs, problem):
    # a value of the wrong type (not a pair, not a string) is a TypeError, a bad value a ValueError
    wrong_type = "is not a" in problem or "must be a string" in problem
    with pytest.raises(TypeError if wrong_type else ValueError, match=problem):
        AnalogyQuestion(**kwargs)


def test_other_record_validation():
    with pytest.raises(ValueError, match="no positive"):
        RelationRecord("1/a", [], [])
    with pytest.raises(TypeError, match="negatives\\[0\\] is not a \\(head, tail\\) pair"):
        RelationRecord("1/a", [("a", "b")], [("a", "b", "c")])
    with pytest.raises(ValueError, match="empty word"):
        LexicalPair("dog", " ", "hyper")
    with pytest.raises(ValueError, match="target has 3"):
        MappingProblem(["a", "b"], ["c", "d", "e"])


# ------------------------------------------------------------------------------------ names, sources


def test_list_datasets_and_name_tuples():
    names = list_datasets()
    assert set(names) == {"analogy", "lexical", "relation_similarity", "mapping"}
    for name in ("sat", "sat_full", "u2", "u4", "google", "bats", "scan", "semeval2012", "starter"):
        assert name in names["analogy"]
    assert names["lexical"] == ["BLESS", "CogALexV", "EVALution", "K&H+N", "ROOT09"] == list(LEXICAL_DATASETS)
    assert names["relation_similarity"] == ["semeval2012", "starter"]
    assert names["mapping"] == ["relation_mapping"]
    assert set(ANALOGY_DATASETS) <= set(names["analogy"])


def test_resolve_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("RELEMB_DATA_DIR", raising=False)
    assert resolve_data_dir() is None
    monkeypatch.setenv("RELEMB_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir(str(tmp_path / "arg")) == tmp_path / "arg"


def test_load_by_name_from_data_dir(hub_layout):
    questions = load_analogy("u2", "test", data_dir=hub_layout)
    assert len(questions) == 3 and isinstance(questions[0], AnalogyQuestion)
    assert questions[2].choice[questions[2].answer] == ("berlin", "germany")
    assert len(load_analogy("u2", "validation", data_dir=hub_layout)) == 1
    assert len(load_analogy("U2", "valid", data_dir=hub_layout)) == 1  # case and split aliases
    assert [len(load_lexical("BLESS", s, data_dir=hub_layout)) for s in ("train", "validation", "test")] == [2, 1, 3]
    assert load_lexical("bless", "train", data_dir=hub_layout)[0] == LexicalPair("dog", "animal", "hyper")
    for alias in ("kh+n", "K&H+N", "k&h+n", "KHN"):
        assert len(load_lexical(alias, "test", data_dir=hub_layout)) == 3
    records = load_relation_similarity("semeval2012", "train", data_dir=hub_layout)
    assert [r.relation_type for r in records] == ["1/a", "1/b", "8/d"]
    assert len(load_relation_similarity(data_dir=hub_layout, split="validation")) == 2
    problems = load_mapping(data_dir=hub_layout)
    assert problems == [MappingProblem(("sun", "planet", "gravity"), ("nucleus", "electron", "electromagnetism"))]


def test_made_up_sat_and_sat_full(hub_layout):
    test = load_analogy("sat", "test", data_dir=hub_layout)
    valid = load_analogy("sat", "validation", data_dir=hub_layout)
    assert len(test) == 2 and len(valid) == 1 and all(len(q.choice) == 5 for q in test + valid)
    full = load_analogy("sat_full", data_dir=hub_layout)
    assert full == test + valid  # test then validation, as SAT-dagger (374 with the real files)
    assert load_analogy("SAT_FULL", "test", data_dir=hub_layout) == full
    # its own folder wins when present (the Hub has sat_full as a config)
    _write(hub_layout / "analogy_questions" / "dataset" / "sat_full" / "test.jsonl", SAT_VALID)
    assert load_analogy("sat_full", data_dir=hub_layout) == valid
    with pytest.raises(ValueError, match="no 'validation' split"):
        load_analogy("sat_full", "validation", data_dir=hub_layout)


def test_environment_variable_and_order(hub_layout, tmp_path, monkeypatch):
    monkeypatch.setenv("RELEMB_DATA_DIR", str(hub_layout))
    assert len(load_analogy("u2")) == 3  # from $RELEMB_DATA_DIR
    other = tmp_path / "other"
    _write(other / "analogy_questions" / "dataset" / "u2" / "test.jsonl", U2_TEST[:1])
    assert len(load_analogy("u2", data_dir=other)) == 1  # the explicit folder comes first
    assert len(load_analogy("u2", "validation", data_dir=other)) == 1  # missing there: falls back to the env folder


def test_splits_are_checked(hub_layout):
    with pytest.raises(ValueError, match="CogALexV.*no 'validation' split.*train, test"):
        load_lexical("cogalexv", "validation", data_dir=hub_layout)
    assert len(load_lexical("CogALexV", "test", data_dir=hub_layout)) == 3
    with pytest.raises(ValueError, match="unknown split"):
        load_analogy("u2", "dev-test", data_dir=hub_layout)
    with pytest.raises(ValueError, match="no 'train' split"):
        load_analogy("u2", "train", data_dir=hub_layout)
    with pytest.raises(ValueError, match="no 'test' split"):
        load_relation_similarity("semeval2012", "test", data_dir=hub_layout)


def test_load_from_paths(hub_layout, tmp_path, monkeypatch):
    path = _write(tmp_path / "my_questions.jsonl", U2_TEST)
    assert load_analogy(str(path)) == load_analogy(path) == load_analogy("u2", data_dir=hub_layout)
    folder = hub_layout / "analogy_questions" / "dataset" / "u2"
    assert len(load_analogy(folder, "validation")) == 1  # a folder: the split's file in it
    monkeypatch.chdir(tmp_path)
    assert len(load_analogy("my_questions.jsonl")) == 3  # relative path
    assert len(load_lexical(hub_layout / "lexical_relation_classification/dataset/BLESS", "validation")) == 1
    pairs = _write(tmp_path / "pairs.jsonl", BLESS_ROWS["test"])
    assert len(load_lexical(str(pairs))) == 3
    rel = _write(tmp_path / "rel.jsonl", SEMEVAL_TRAIN)
    assert len(load_relation_similarity(str(rel))) == 3
    mp = _write(tmp_path / "map.jsonl", MAPPING)
    assert len(load_mapping(mp)) == 1
    with pytest.raises(DatasetNotFoundError, match="no such file"):
        load_analogy("missing/questions.jsonl")
    with pytest.raises(DatasetNotFoundError, match="no such file"):
        load_analogy(tmp_path / "missing.jsonl")
    with pytest.raises(DatasetNotFoundError, match="valid.jsonl"):
        load_analogy(tmp_path, "validation")


def test_semeval_validation_protocol(hub_layout):
    records = load_relation_similarity("semeval2012", "validation", data_dir=hub_layout)
    questions = semeval_validation_questions(records)
    assert questions[0] == AnalogyQuestion(
        stem=("animal", "pig"),
        choice=(("sweater", "knit"), ("hair", "brown"), ("weapon", "spear")),
        answer=2,
        prefix="1/a",
    )
    assert load_analogy("semeval2012", "validation", data_dir=hub_layout) == questions
    assert load_analogy("semeval2012_relational_similarity", "validation", data_dir=hub_layout) == questions
    with pytest.raises(ValueError, match="at least 2 positives"):
        semeval_validation_questions(load_relation_similarity("semeval2012", "train", data_dir=hub_layout))


def test_parent_classes():
    records = [RelationRecord(t, [("a", "b")], []) for t in ("1/a", "1/b", "10/a", "8/d", "10/b")]
    assert parent_classes(records) == {"1": ["1/a", "1/b"], "10": ["10/a", "10/b"], "8": ["8/d"]}
    assert parent_classes(["x/a", "x/b", "x/a"]) == {"x": ["x/a", "x/b"]}
    assert list(PARENT_CLASS_NAMES) == [str(i) for i in range(1, 11)]
    assert PARENT_CLASS_NAMES["7"] == "CASE RELATIONS" and PARENT_CLASS_NAMES["10"] == "REFERENCE"


# -------------------------------------------------------------------------------- validation errors

GOOD = json.dumps(U2_TEST[0])
BAD_ANALOGY_LINES = {
    "malformed JSON": ('{"stem": ["a", "b"], "answer": 0, "choice": [["c", "d"]', "malformed JSON"),
    "missing field": (json.dumps({"stem": ["a", "b"], "choice": [["c", "d"], ["e", "f"]]}), "missing field 'answer'"),
    "answer out of range": (json.dumps(_question(("a", "b"), 3, ("c", "d"), ("e", "f"))), "answer 3 is out of range"),
    "choice not a pair": (
        json.dumps(_question(("a", "b"), 0, ("c", "d"), ("e", "f", "g"))),
        "choice\\[1\\] is not a \\(head, tail\\) pair",
    ),
    "empty word": (json.dumps(_question(("a", ""), 0, ("c", "d"), ("e", "f"))), "stem\\[1\\] is an empty word"),
    "empty choice word": (
        json.dumps(_question(("a", "b"), 0, ("c", "d"), ("", "f"))),
        "choice\\[1\\]\\[0\\] is an empty word",
    ),
    "stem not a pair": (
        json.dumps({"stem": "ab", "answer": 0, "choice": [["c", "d"], ["e", "f"]]}),
        "stem is not a \\(head, tail\\) pair",
    ),
    "answer not an integer": (json.dumps(_question(("a", "b"), "0", ("c", "d"), ("e", "f"))), "integer"),
    "not an object": ('[["a", "b"]]', "expected a JSON object"),
}


@pytest.mark.parametrize("case", sorted(BAD_ANALOGY_LINES))
def test_analogy_format_errors_name_file_and_line(tmp_path, no_env, case):
    bad, problem = BAD_ANALOGY_LINES[case]
    path = _write(tmp_path / "q.jsonl", [GOOD, "", bad, GOOD])  # the blank line 2 is skipped, counted
    with pytest.raises(DataFormatError, match=problem) as info:
        load_analogy(path)
    assert info.value.line == 3 and info.value.path == str(path)
    assert str(info.value).startswith(f"{path}, line 3: ")


def test_format_errors_through_names_and_other_formats(hub_layout, tmp_path):
    u2 = hub_layout / "analogy_questions" / "dataset" / "u2" / "test.jsonl"
    _write(u2, [GOOD, GOOD, json.dumps(_question(("a", "b"), 9, ("c", "d"), ("e", "f")))])
    with pytest.raises(DataFormatError, match=r"u2/test\.jsonl, line 3: answer 9 is out of range"):
        load_analogy("u2", data_dir=hub_layout)
    lex = _write(tmp_path / "lex.jsonl", [json.dumps(BLESS_ROWS["test"][0]), json.dumps({"head": "a", "tail": "b"})])
    with pytest.raises(DataFormatError, match="line 2: missing field 'relation'"):
        load_lexical(lex)
    lex = _write(tmp_path / "lex2.jsonl", [json.dumps({"head": "", "tail": "b", "relation": "x"})])
    with pytest.raises(DataFormatError, match="line 1: head is an empty word"):
        load_lexical(lex)
    rel = _write(
        tmp_path / "rel.jsonl",
        [json.dumps(SEMEVAL_TRAIN[0]), json.dumps(SEMEVAL_TRAIN[1]), json.dumps(SEMEVAL_TRAIN[0])],
    )
    with pytest.raises(DataFormatError, match="line 3: relation_type '1/a' appears twice"):
        load_relation_similarity(rel)
    rel = _write(tmp_path / "rel2.jsonl", [json.dumps({"relation_type": "1/a", "positives": [["a"]], "negatives": []})])
    with pytest.raises(DataFormatError, match="line 1: positives\\[0\\] is not a \\(head, tail\\) pair"):
        load_relation_similarity(rel)
    mp = _write(tmp_path / "map.jsonl", [json.dumps({"source": ["a", "b"], "target": ["c"]})])
    with pytest.raises(DataFormatError, match="line 1: source has 2 terms but target has 1"):
        load_mapping(mp)


def test_empty_file_and_bad_encoding(tmp_path, no_env):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="no records"):
        load_analogy(empty)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(
        json.dumps(BLESS_ROWS["val"][0]).encode() + b"\n" + '{"head": "caf\xe9"}'.encode("latin-1") + b"\n"
    )
    with pytest.raises(DataFormatError, match="line 2: not valid UTF-8"):
        load_lexical(latin)


def test_errors_are_the_documented_types():
    assert issubclass(DatasetNotFoundError, FileNotFoundError)
    assert issubclass(DataFormatError, ValueError)
    assert issubclass(UnknownDatasetError, DatasetNotFoundError) and issubclass(UnknownDatasetError, ValueError)
    err = DatasetNotFoundError("u2", ["somewhere: no such file"], known=["u2"])
    copy = pickle.loads(pickle.dumps(err))
    assert str(copy) == str(err) and copy.places == err.places
    fmt = pickle.loads(pickle.dumps(DataFormatError("f.jsonl", 2, "bad")))
    assert (fmt.path, fmt.line, str(fmt)) == ("f.jsonl", 2, "f.jsonl, line 2: bad")


# ----------------------------------------------------------------------------- unknown and offline


def test_unknown_names_list_known_ones(no_env):
    with pytest.raises(UnknownDatasetError) as info:
        load_lexical("not-a-dataset")
    message = str(info.value)
    assert "'not-a-dataset'" in message and "BLESS" in message and "K&H+N" in message
    with pytest.raises(ValueError, match="semeval2012, starter"):
        load_relation_similarity("wordnet")
    with pytest.raises(ValueError, match="relation_mapping"):
        load_mapping("mapping_v2")
    with pytest.raises(ValueError, match="u2"):
        load_analogy("what is this?")


def test_unknown_analogy_config_goes_to_the_hub_then_lists_known(no_env):
    start = time.monotonic()
    with pytest.raises(UnknownDatasetError) as info:
        load_analogy("u3")
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "hf://datasets/relbert/analogy_questions/dataset/u3/test.jsonl" in message
    assert "Known names:" in message and "google" in message


def test_offline_with_nothing_local_fails_fast_and_explains(no_env, tmp_path):
    start = time.monotonic()
    with pytest.raises(DatasetNotFoundError) as info:
        load_analogy("u2", "test")
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "'u2'" in message
    assert "RELEMB_DATA_DIR not set" in message
    assert "hf://datasets/relbert/analogy_questions/dataset/u2/test.jsonl" in message and "HF_HUB_OFFLINE" in message
    assert "--data-dir" in message and "RELEMB_DATA_DIR=DIR" in message
    assert not isinstance(info.value, UnknownDatasetError)  # u2 is a known name
    # with a folder given, the exact paths tried are listed
    with pytest.raises(DatasetNotFoundError) as info:
        load_lexical("EVALution", "validation", data_dir=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere" / "lexical_relation_classification" / "dataset" / "EVALution" / "val.jsonl") in str(
        info.value
    )
    assert "the folder does not exist" in str(info.value)
    with pytest.raises(DatasetNotFoundError, match="SAT is not redistributable"):
        load_analogy("sat_full")
    with pytest.raises(DatasetNotFoundError, match="semeval2012"):
        load_relation_similarity("semeval2012")
    with pytest.raises(DatasetNotFoundError, match="relation_mapping"):
        load_mapping()


def test_unreachable_hub_fails_fast(monkeypatch, no_env):
    import relemb.hub as hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: (False, "cannot reach huggingface.co:443 (test)"))
    start = time.monotonic()
    with pytest.raises(DatasetNotFoundError, match="cannot reach huggingface.co:443"):
        load_analogy("google")
    assert time.monotonic() - start < 5


def test_hub_code_path_downloads_the_mirror_layout(monkeypatch, no_env, tmp_path):
    """The Hub is unreachable in tests: stand in for hf_hub_download and check what is asked for."""
    import huggingface_hub
    from huggingface_hub import errors as hf_errors

    import relemb.hub as hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: (True, "test"))
    cached = _write(tmp_path / "cache" / "test.jsonl", U2_TEST)
    served = {
        "relbert/lexical_relation_classification": _write(tmp_path / "cache" / "lex.jsonl", BLESS_ROWS["val"]),
        "relbert/semeval2012_relational_similarity": _write(tmp_path / "cache" / "sem.jsonl", SEMEVAL_VALID),
        "relbert/relation_mapping": _write(tmp_path / "cache" / "map.jsonl", MAPPING),
    }
    calls = []

    def fake_download(repo_id, filename, *, repo_type=None, local_files_only=False, **kwargs):
        calls.append((repo_id, repo_type, filename, local_files_only))
        if filename.startswith("dataset/u4/"):
            raise hf_errors.EntryNotFoundError("404")
        return str(served.get(repo_id, cached))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    assert len(load_analogy("scan", "test")) == 3
    assert calls[-1] == ("relbert/analogy_questions", "dataset", "dataset/scan/test.jsonl", False)
    load_lexical("K&H+N", "validation")
    assert calls[-1][0] == "relbert/lexical_relation_classification" and calls[-1][2] == "dataset/K&H+N/val.jsonl"
    assert len(load_analogy("semeval2012", "validation")) == 2
    assert calls[-1][0] == "relbert/semeval2012_relational_similarity" and calls[-1][2] == "dataset/valid.jsonl"
    assert len(load_mapping()) == 1 and calls[-1][0::2] == ("relbert/relation_mapping", "dataset/test.jsonl")
    assert len(load_analogy("hf://datasets/someone/questions/data/test.jsonl")) == 3
    assert calls[-1][:3] == ("someone/questions", "dataset", "data/test.jsonl")
    with pytest.raises(DatasetNotFoundError, match="no such file on the Hub"):
        load_analogy("u4")
    # a bad line in a downloaded file is reported with its Hub address
    _write(cached, [GOOD, "{"])
    with pytest.raises(
        DataFormatError, match=r"hf://datasets/relbert/analogy_questions/dataset/bats/valid\.jsonl, line 2"
    ):
        load_analogy("bats", "validation")


# ------------------------------------------------------------------------------------- starter set


def test_starter_set_size_and_shape(no_env):
    train = load_relation_similarity("starter", "train")
    valid = load_relation_similarity("starter", "validation")
    assert len(train) >= 20 and [r.relation_type for r in train] == [r.relation_type for r in valid]
    analogy_valid = load_analogy("starter", "validation")
    analogy_test = load_analogy("starter", "test")
    by_relation: dict[str, set] = {r.relation_type: set(r.positives) for r in train}
    for r in valid:
        assert len(r.positives) == 2 and len(r.negatives) == 2
        assert not set(r.positives) & by_relation[r.relation_type]
        by_relation[r.relation_type] |= set(r.positives)
    held_out: dict[str, set] = {t: set() for t in by_relation}
    for q in analogy_valid + analogy_test:
        assert q.prefix in by_relation and len(q.choice) == 4
        held_out[q.prefix] |= {q.stem, q.choice[q.answer]}
        for i, pair in enumerate(q.choice):
            if i != q.answer:  # distractors come from other relations
                assert all(pair not in pairs for pairs in (by_relation[q.prefix], held_out[q.prefix]))
    for relation, pairs in by_relation.items():
        assert not pairs & held_out[relation], "analogy questions use held-out pairs only"
        assert len(pairs | held_out[relation]) >= 12
    words = {w for r in train + valid for p in r.positives + r.negatives for w in p}
    assert all(w.isalpha() and w.islower() for w in words)
    parents = parent_classes(train)
    assert len(parents) >= 5 and all("/" in r.relation_type for r in train)
    assert len(semeval_validation_questions(valid)) == len(valid)
    assert len(analogy_valid) >= 20 and len(analogy_test) >= 80
    positions = {q.answer for q in analogy_test}
    assert positions == {0, 1, 2, 3}


def test_starter_files_match_the_generator_and_carry_a_licence():
    import importlib.util

    script = Path(__file__).resolve().parent.parent / "scripts" / "make_starter.py"
    spec = importlib.util.spec_from_file_location("make_starter", script)
    _make_starter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(_make_starter)

    files = _make_starter.build_starter()
    for name, content in files.items():
        assert (data.STARTER_DIR / name).read_text(encoding="utf-8") == content, f"{name} is stale: rerun the generator"
    assert _make_starter.main(["--check"]) == 0
    licence = (data.STARTER_DIR / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License, Version 2.0" in licence and "not a benchmark" in licence
    assert len(_make_starter.RELATIONS) >= 20
    assert all(len(pairs) >= 12 for _, pairs in _make_starter.RELATIONS.values())


# ----------------------------------------------------------------------------------- real data files


@pytest.mark.data
def test_real_analogy_sizes(data_dir):
    expected = {"u2": (24, 228), "u4": (48, 432), "google": (50, 500), "bats": (199, 1799)}
    for name, (n_valid, n_test) in expected.items():
        assert len(load_analogy(name, "validation", data_dir=data_dir)) == n_valid
        questions = load_analogy(name, "test", data_dir=data_dir)
        assert len(questions) == n_test
        assert all(0 <= q.answer < len(q.choice) for q in questions)
    assert {len(q.choice) for q in load_analogy("u2", data_dir=data_dir)} == {3, 4, 5}


@pytest.mark.data
def test_real_lexical_sizes(data_dir):
    expected = {
        "BLESS": (18582, 1327, 6637),
        "CogALexV": (3054, None, 4260),
        "EVALution": (5160, 372, 1846),
        "K&H+N": (40256, 2876, 14377),
        "ROOT09": (8933, 638, 3191),
    }
    for name, sizes in expected.items():
        for split, size in zip(("train", "validation", "test"), sizes):
            if size is None:
                with pytest.raises(ValueError):
                    load_lexical(name, split, data_dir=data_dir)
            else:
                assert len(load_lexical(name, split, data_dir=data_dir)) == size


@pytest.mark.data
def test_real_semeval(data_dir):
    train = load_relation_similarity("semeval2012", "train", data_dir=data_dir)
    valid = load_relation_similarity("semeval2012", "validation", data_dir=data_dir)
    assert len(train) == len(valid) == 79
    assert {(len(r.positives), len(r.negatives)) for r in train} == {(8, 8)}
    assert {(len(r.positives), len(r.negatives)) for r in valid} == {(2, 2)}
    parents = parent_classes(train)
    assert list(parents) == [str(i) for i in range(1, 11)] == list(PARENT_CLASS_NAMES)
    assert sum(map(len, parents.values())) == 79
    questions = load_analogy("semeval2012", "validation", data_dir=data_dir)
    assert len(questions) == 79 and {q.answer for q in questions} == {2}

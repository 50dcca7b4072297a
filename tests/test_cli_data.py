"""relemb.cli.data: ``relemb data list`` and ``relemb data build-semeval2012``."""

from __future__ import annotations

import pytest
from test_data_semeval import platinum  # noqa: F401 - the made-up platinum ratings fixture

from relemb.cli import main
from relemb.data import load_relation_similarity


def test_build(platinum, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "cli-out"
    argv = ["data", "build-semeval2012", "--platinum-dir", str(platinum), "--output-dir", str(out)]
    assert main([*argv, "--n-validation", "1"]) == 0
    printed = capsys.readouterr().out
    assert "train: 4 relations" in printed and "validation: 4 relations" in printed
    assert len(load_relation_similarity(out / "valid.jsonl")) == 4
    assert main(argv) == 0
    assert (out / "train.jsonl").is_file() and (out / "valid.jsonl").is_file()


def test_build_bad_input_exits_2_with_one_line(platinum, tmp_path, capsys):  # noqa: F811
    build = ["data", "build-semeval2012", "--platinum-dir"]
    assert main([*build, str(tmp_path / "nope"), "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    (platinum / "Phase2AnswersScaled" / "Phase2Answers-5a.txt").write_text(' 1.0 "a:b:c"\n', encoding="utf-8")
    assert main([*build, str(platinum), "--output-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Phase2Answers-5a.txt, line 1" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as info:
        main([*build, str(platinum), "--output-dir", "o", "--n-positives", "-3"])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["data", "build-semeval2012", "--output-dir", "o"])  # --platinum-dir is required
    with pytest.raises(SystemExit) as info:
        main(["data"])
    assert info.value.code == 2


def test_list(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("RELEMB_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "analogy_questions" / "dataset" / "u2"
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text("{}\n", encoding="utf-8")
    assert main(["data", "list", "--data-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert str(folder / "test.jsonl") in printed
    assert "hf://datasets/relbert/analogy_questions/dataset/u2/valid.jsonl" in printed
    for name in ("sat_full", "BLESS", "K&H+N", "semeval2012", "starter", "relation_mapping"):
        assert name in printed
    assert "bundled" in printed


def test_no_second_entry_path():
    import importlib.util

    assert importlib.util.find_spec("relemb.data.__main__") is None
    assert importlib.util.find_spec("relemb.data.cli") is None

"""relemb.cli.options: the options the commands share."""

import argparse

import pytest

from relemb.cli.options import (
    add_deprecated_option,
    add_pair_option,
    check_folder,
    check_output,
    file_stem,
    pairs_from,
    positive_int,
)


def _parser():
    parser = argparse.ArgumentParser()
    add_pair_option(parser, "--pair", deprecated=["--pairs"])
    parser.add_argument("--dtype", default="float32")
    add_deprecated_option(parser, "--precision", "--dtype", "dtype")
    return parser


def test_pairs_are_written_head_colon_tail():
    args = _parser().parse_args(["--pair", "camera:photographer", "Tokyo:Japan", "--pair", "a:b"])
    assert pairs_from(args.pair) == [("camera", "photographer"), ("Tokyo", "Japan"), ("a", "b")]
    with pytest.raises(ValueError, match="HEAD:TAIL"):
        pairs_from(_parser().parse_args(["--pair", "a:b:c"]).pair)


def test_old_pair_spellings_still_work_with_a_deprecation_message(capsys):
    with pytest.warns(
        DeprecationWarning, match="'--pair camera photographer' is deprecated.*'--pair camera:photographer'"
    ):
        args = _parser().parse_args(["--pair", "camera", "photographer"])
    assert pairs_from(args.pair) == [("camera", "photographer")]
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="head word is an empty word"):
        pairs_from(_parser().parse_args(["--pair", "", "b"]).pair)
    with pytest.warns(DeprecationWarning, match="'--pairs' is deprecated"):
        args = _parser().parse_args(["--pairs", "a:b", "c:d"])
    assert pairs_from(args.pair) == [("a", "b"), ("c", "d")]
    assert "warning: '--pairs' is deprecated" in capsys.readouterr().err


def test_deprecated_option_name():
    with pytest.warns(DeprecationWarning, match="'--precision' is deprecated.*'--dtype'"):
        args = _parser().parse_args(["--precision", "bfloat16"])
    assert args.dtype == "bfloat16"


def test_checks_name_the_option_and_the_path(tmp_path):
    assert check_output(None, ".json") is None
    with pytest.raises(ValueError, match="--output: 'r.txt' should end in .json"):
        check_output("r.txt", ".json")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="--figures .* exists and is not a folder"):
        check_folder(str(tmp_path / "file"), "--figures")
    assert check_folder(str(tmp_path / "new"), "--figures") == tmp_path / "new"
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_small_helpers():
    assert file_stem("K&H+N") == "K_H_N" and file_stem("x/y/my.jsonl") == "my"
    assert positive_int("2") == 2
    for bad in ("0", "-1", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_int(bad)

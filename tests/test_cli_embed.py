"""``relemb embed``: pair files -> .npy, pair index, nearest neighbours from the command line."""

import json

import numpy as np
import pytest

from relemb.cli import main
from relemb.data import read_pairs
from relemb.neighbors import PairIndex
from relemb.pairs import parse_pair

PAIRS = [("baker", "bread"), ("brewer", "beer"), ("cat", "dog"), ("barista", "coffee"), ("baker", "bread")]


def write_tsv(path, pairs, header=True):
    lines = (["head\ttail"] if header else []) + [f"{h}\t{t}" for h, t in pairs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl"])
def test_read_pairs_formats(tmp_path, suffix):
    path = tmp_path / f"pairs{suffix}"
    if suffix == ".tsv":
        path.write_text("head\ttail\nbaker\tbread\n\nice cream\tcold\n", encoding="utf-8")
    elif suffix == ".csv":
        path.write_text('baker,bread\n"ice cream",cold\n', encoding="utf-8")
    else:
        path.write_text(
            '["baker", "bread"]\n{"head": "ice cream", "tail": "cold", "relation": "x"}\n', encoding="utf-8"
        )
    assert read_pairs(path) == [("baker", "bread"), ("ice cream", "cold")]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("a.tsv", "baker\tbread\ncat dog\n", "a.tsv, line 2: expected 2 columns"),
        ("a.csv", "baker,bread,x\n", "line 1: expected 2 columns"),
        ("a.tsv", "baker\t \n", "line 1: tail word is an empty word"),
        ("a.jsonl", '["a", "b"]\n{not json\n', "line 2: not valid JSON"),
        ("a.jsonl", '{"head": "a"}\n', "line 1: a JSON object needs 'head' and 'tail'"),
        ("a.jsonl", '["a", 3]\n', "line 1: expected \\[head, tail\\] strings"),
        ("a.tsv", "head\ttail\n\n", "holds no pairs"),
        ("a.parquet", "x", "cannot tell the format"),
    ],
)
def test_read_pairs_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_pairs(path)


def test_parse_pair():
    assert parse_pair("barista:coffee") == ("barista", "coffee")
    assert parse_pair(" ice cream : cold ") == ("ice cream", "cold")
    for bad in ("barista", "a:b:c", ":b", "a:"):
        with pytest.raises(ValueError, match="HEAD:TAIL"):
            parse_pair(bad)


def test_embed_pairs_writes_npy(tmp_path, tiny_bert_path, capsys):
    from relemb import RelBERT

    source = write_tsv(tmp_path / "pairs.tsv", PAIRS)
    target = tmp_path / "out.npy"
    code = main(
        ["embed", "pairs", source, "--model", tiny_bert_path, "-o", str(target), "--no-progress", "--device", "cpu"]
    )
    assert code == 0
    assert "5 x 32 float32 (4 unique pairs)" in capsys.readouterr().out
    matrix = np.load(target)
    expected = RelBERT.from_pretrained(tiny_bert_path, device="cpu").get_embedding(PAIRS)
    np.testing.assert_allclose(matrix, expected, atol=1e-6)
    np.testing.assert_array_equal(matrix[0], matrix[4])


def test_embed_pairs_normalize_and_options(tmp_path, tiny_bert_path):
    source = write_tsv(tmp_path / "pairs.tsv", PAIRS, header=False)
    target = tmp_path / "out.npy"
    args = ["embed", "pairs", source, "--model", tiny_bert_path, "-o", str(target), "--no-progress"]
    assert (
        main([*args, "--normalize", "--template", "a", "--pooling", "mask", "--chunk-size", "2", "--batch-size", "3"])
        == 0
    )
    exact = np.load(target)
    np.testing.assert_allclose(np.linalg.norm(exact, axis=1), 1.0, atol=1e-5)
    assert main([*args, "--normalize", "--template", "a", "--pooling", "mask", "--dtype", "bfloat16"]) == 0
    fast = np.load(target)
    assert 0 < np.abs(fast - exact).max() < 0.1


def test_embed_index_and_similar(tmp_path, tiny_bert_path, capsys):
    source = write_tsv(tmp_path / "candidates.tsv", PAIRS)
    index_path = tmp_path / "candidates.npz"
    assert main(["embed", "index", source, "--model", tiny_bert_path, "-o", str(index_path), "--no-progress"]) == 0
    assert len(PairIndex.load(index_path)) == 4
    capsys.readouterr()

    common = ["--model", tiny_bert_path, "-q", "barista:coffee", "-k", "2", "--json", "--no-progress"]
    assert main(["embed", "similar", "-c", str(index_path), *common]) == 0
    from_index = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(["embed", "similar", "-c", source, *common]) == 0
    from_file = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["pair"] for r in from_index] == [r["pair"] for r in from_file]
    assert [r["rank"] for r in from_index] == [1, 2]
    assert ["barista", "coffee"] not in [r["pair"] for r in from_index]
    assert from_index[0]["score"] >= from_index[1]["score"]

    from relemb import RelBERT

    expected = RelBERT.from_pretrained(tiny_bert_path, device="cpu").most_similar(("barista", "coffee"), PAIRS, k=2)
    assert [tuple(r["pair"]) for r in from_index] == [h.pair for h in expected]

    # plain text output, two queries, query kept
    assert (
        main(
            [
                "embed",
                "similar",
                "-c",
                source,
                "--model",
                tiny_bert_path,
                "-q",
                "cat:dog",
                "-q",
                "baker:bread",
                "-k",
                "1",
                "--include-query",
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "cat:dog" and out[1].split()[1] == "cat:dog"
    assert out[2] == "baker:bread" and out[3].split()[1] == "baker:bread"


def test_similar_with_faiss(tmp_path, tiny_bert_path, capsys):
    pytest.importorskip("faiss")
    source = write_tsv(tmp_path / "candidates.tsv", PAIRS)
    base = [
        "embed",
        "similar",
        "-c",
        source,
        "--model",
        tiny_bert_path,
        "-q",
        "barista:coffee",
        "--json",
        "--no-progress",
    ]
    assert main(base) == 0
    exact = capsys.readouterr().out
    assert main([*base, "--faiss"]) == 0
    assert [json.loads(x)["pair"] for x in capsys.readouterr().out.splitlines()] == [
        json.loads(x)["pair"] for x in exact.splitlines()
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["embed", "pairs", "{src}", "-o", "{tmp}/out.txt"], "out.txt' should end in .npy"),
        (["embed", "pairs", "{tmp}/missing.tsv", "-o", "{tmp}/out.npy"], "does not exist"),
        (["embed", "index", "{src}", "-o", "{tmp}/out.npy"], "out.npy' should end in .npz"),
        (["embed", "similar", "-c", "{src}", "-q", "barista"], "HEAD:TAIL"),
        (["embed", "similar", "-c", "{src}", "-q", "a:b", "-k", "0"], "-k: expected a positive integer, got 0"),
        (["embed", "pairs", "{src}", "-o", "{tmp}/out.npy", "--chunk-size", "0"], "--chunk-size: expected a positive"),
        (["embed", "similar", "-c", "{tmp}/nope.npz", "-q", "a:b"], "no PairIndex file"),
        (["embed", "pairs", "{src}", "-o", "{tmp}/out.npy", "--batch-size", "0"], "--batch-size: expected a positive"),
    ],
)
def test_user_errors_exit_2(tmp_path, tiny_bert_path, capsys, argv, message):
    source = write_tsv(tmp_path / "pairs.tsv", PAIRS)
    argv = [a.format(src=source, tmp=tmp_path) for a in argv] + ["--model", tiny_bert_path, "--no-progress"]
    try:
        code = main(argv)
    except SystemExit as exit_info:  # an argument error: argparse's usage line and exit code 2
        code = exit_info.code
    assert code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error: " in last_line and message in last_line
    assert not (tmp_path / "out.npy").exists() and not (tmp_path / "out.txt").exists()


def test_action_is_required(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["embed"])
    assert raised.value.code == 2


def test_missing_backend_package_is_a_clear_error(tmp_path, tiny_bert_path, capsys):
    import importlib.util

    try:
        installed = importlib.util.find_spec("optimum.intel") is not None
    except ImportError:
        installed = False
    if installed:
        pytest.skip("optimum-intel is installed here")
    source = write_tsv(tmp_path / "pairs.tsv", PAIRS)
    target = tmp_path / "out.npy"
    argv = ["embed", "pairs", source, "--model", tiny_bert_path, "-o", str(target), "--backend", "openvino"]
    assert main([*argv, "--no-progress"]) == 2
    assert "pip install 'relemb[openvino]'" in capsys.readouterr().err
    assert not target.exists()


def test_on_word_loss_errors_by_default_and_warns_when_asked(tmp_path, tiny_bert_path, capsys):
    source = tmp_path / "pairs.tsv"
    source.write_text("baker\tbread\ncat\t[SEP]\n", encoding="utf-8")
    argv = ["embed", "pairs", str(source), "-o", str(tmp_path / "out.npy"), "--model", tiny_bert_path, "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "pair 1" in err and "special token" in err and "--on-word-loss warn" in err
    assert not (tmp_path / "out.npy").exists()
    with pytest.warns(UserWarning, match="pair"):
        assert main([*argv, "--on-word-loss", "warn"]) == 0
    assert np.load(tmp_path / "out.npy").shape[0] == 2

"""relemb-eval end to end, in-process, with the tiny models and made-up files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relemb import RelBERT
from relemb.cli import main
from relemb.results import RunResult

ANALOGY_ROWS = [
    {
        "stem": ["tokyo", "japan"],
        "answer": 0,
        "choice": [["paris", "france"], ["puppy", "dog"], ["hot", "cold"]],
        "prefix": "capital",
    },
    {
        "stem": ["puppy", "dog"],
        "answer": 1,
        "choice": [["wheel", "car"], ["kitten", "cat"], ["up", "down"], ["pen", "paper"]],
        "prefix": "young",
    },
    {
        "stem": ["oak", "tree"],
        "answer": 2,
        "choice": [["gold", "ring"], ["hot", "cold"], ["rose", "flower"], ["big", "small"], ["a", "b"]],
        "prefix": "hyper",
    },
]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def analogy_file(tmp_path):
    return _write(tmp_path / "toy_analogy.jsonl", ANALOGY_ROWS)


@pytest.fixture
def lexical_folder(tmp_path):
    folder = tmp_path / "toy_lexical"
    folder.mkdir()
    words = {
        "hyper": [
            ("apple", "fruit"),
            ("rose", "flower"),
            ("oak", "tree"),
            ("salmon", "fish"),
            ("eagle", "bird"),
            ("dog", "cat"),
        ],
        "mero": [
            ("wheel", "car"),
            ("petal", "flower"),
            ("finger", "hand"),
            ("page", "book"),
            ("leaf", "tree"),
            ("pen", "paper"),
        ],
        "random": [
            ("hot", "bread"),
            ("gold", "school"),
            ("up", "horse"),
            ("clay", "japan"),
            ("fast", "glass"),
            ("big", "wool"),
        ],
    }
    splits = {"train": slice(0, 4), "val": slice(4, 5), "test": slice(5, 6)}
    for split, part in splits.items():
        rows = [{"head": h, "tail": t, "relation": rel} for rel, pairs in words.items() for h, t in pairs[part]]
        _write(folder / f"{split}.jsonl", rows)
    return str(folder)


def test_analogy_end_to_end(tiny_bert_path, analogy_file, tmp_path, capsys):
    out = tmp_path / "out" / "analogy.json"
    code = main(
        [
            "eval",
            "analogy",
            "--model",
            tiny_bert_path,
            "--datasets",
            analogy_file,
            "--device",
            "cpu",
            "--direction",
            "bidirectional",
            "--output",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "| dataset" in printed and "toy_analogy.jsonl" in printed
    payload = RunResult.load(out)
    assert payload.task == "analogy" and payload.versions["relemb"]
    (source,) = payload.datasets
    assert source.location == analogy_file and source.source == "file" and len(source.sha256) == 16
    result = payload.scores[analogy_file]
    assert result["n_questions"] == 3 and result["direction"] == "bidirectional"
    assert 0.0 <= result["accuracy"] <= 1.0
    assert set(result["per_group"]) == {"capital", "young", "hyper"}
    assert payload.model["pooling"] == "average_no_mask" and payload.model["embedding_dim"] == 32
    # the accuracy is the one the Python API gives
    from relemb import RelBERT
    from relemb.evaluation import evaluate_analogy

    expected = evaluate_analogy(
        RelBERT.from_pretrained(tiny_bert_path, device="cpu"), analogy_file, direction="bidirectional"
    )
    assert result["predictions"] == expected.predictions


def test_eval_shortcut_and_template_option(tiny_roberta_path, analogy_file, capsys):
    from relemb.cli import eval_main

    assert (
        eval_main(
            [
                "analogy",
                "--model",
                tiny_roberta_path,
                "--datasets",
                analogy_file,
                "--template",
                "a",
                "--pooling",
                "mask",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "Analogy accuracy" in capsys.readouterr().out


def test_classification_end_to_end(tiny_bert_path, lexical_folder, tmp_path, capsys):
    out = tmp_path / "cls.json"
    args = [
        "eval",
        "classification",
        "--model",
        tiny_bert_path,
        "--datasets",
        lexical_folder,
        "--device",
        "cpu",
        "--hidden-sizes",
        "8",
        "--learning-rates",
        "1e-2",
        "--alphas",
        "1e-4",
        "1e-3",
        "--output",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    payload = RunResult.load(out)
    assert {source.split for source in payload.datasets} == {"train", "validation", "test"}
    result = payload.scores[lexical_folder]
    assert result["tuning"] == "validation" and len(result["search"]) == 2
    assert set(result["per_relation"]) == {"hyper", "mero", "random"}
    assert result["n_train"] == 12 and result["n_test"] == 3
    assert "micro F1" in capsys.readouterr().out
    # fixed seeds: the same command gives the same numbers
    assert main(args) == 0
    again = RunResult.load(out).scores[lexical_folder]
    assert (again["micro_f1"], again["macro_f1"], again["best_params"]) == (
        result["micro_f1"],
        result["macro_f1"],
        result["best_params"],
    )


def test_mapping_end_to_end(tiny_bert_path, tmp_path):
    path = _write(
        tmp_path / "mapping.jsonl", [{"source": ["tokyo", "japan", "paris"], "target": ["rome", "italy", "berlin"]}]
    )
    out = tmp_path / "mapping.json"
    assert (
        main(["eval", "mapping", "--model", tiny_bert_path, "--datasets", path, "--output", str(out), "--no-progress"])
        == 0
    )
    problems = RunResult.load(out).scores[path]["problems"]
    assert sorted(problems[0]["predicted"]) == ["berlin", "italy", "rome"]


def test_plot_end_to_end(tiny_bert_path, lexical_folder, tmp_path):
    out = tmp_path / "plot.png"
    assert (
        main(
            [
                "eval",
                "plot",
                "--model",
                tiny_bert_path,
                "--datasets",
                lexical_folder,
                "--method",
                "pca",
                "--output",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    folder = tmp_path / "plots"
    folder.mkdir()
    assert (
        main(
            [
                "eval",
                "plot",
                "--model",
                tiny_bert_path,
                "--datasets",
                "starter",
                lexical_folder,
                "--method",
                "pca",
                "--output",
                str(folder),
                "--no-progress",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in folder.iterdir()) == ["starter.png", "toy_lexical.png"]


def test_bad_input_gives_clear_errors(tiny_bert_path, analogy_file, tmp_path, capsys):
    out = tmp_path / "never.json"
    # unknown dataset: fails before the model is loaded, nothing written
    assert (
        main(
            [
                "eval",
                "analogy",
                "--model",
                tiny_bert_path,
                "--datasets",
                "no_such_set",
                "--data-dir",
                str(tmp_path),
                "--output",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no_such_set" in err
    assert not out.exists()
    # empty dataset
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["eval", "analogy", "--model", tiny_bert_path, "--datasets", str(empty)]) == 2
    assert "no records" in capsys.readouterr().err
    # missing model path
    assert (
        main(
            ["eval", "analogy", "--model", str(tmp_path / "no-model"), "--datasets", analogy_file, "--output", str(out)]
        )
        == 2
    )
    assert "no-model" in capsys.readouterr().err
    assert not out.exists()
    # bad arguments
    with pytest.raises(SystemExit) as info:  # an argument error: argparse's usage line and exit code 2
        main(["eval", "analogy", "--model", tiny_bert_path, "--datasets", analogy_file, "--batch-size", "0"])
    assert info.value.code == 2 and "--batch-size: expected a positive integer, got 0" in capsys.readouterr().err
    assert (
        main(
            [
                "eval",
                "plot",
                "--model",
                tiny_bert_path,
                "--datasets",
                "starter",
                analogy_file,
                "--output",
                str(tmp_path / "one.png"),
            ]
        )
        == 2
    )
    assert "several datasets" in capsys.readouterr().err
    assert (
        main(
            [
                "eval",
                "classification",
                "--model",
                tiny_bert_path,
                "--datasets",
                "NoSuchLexical",
                "--data-dir",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "NoSuchLexical" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", "analogy", "--model", tiny_bert_path, "--direction", "sideways"])


def test_tables_give_n_and_the_interval_and_compare_pairs_two_models(
    tiny_bert_path, tiny_roberta_path, analogy_file, tmp_path, capsys
):
    outputs = []
    for name, model in (("a", tiny_bert_path), ("b", tiny_roberta_path)):
        out = tmp_path / f"{name}.json"
        argv = ["eval", "analogy", "--model", model, "--datasets", analogy_file, "starter", "--split", "test",
                "--output", str(out), "--no-progress", "--bootstrap-resamples", "200"]  # fmt: skip
        assert main(argv) == 0
        outputs.append(out)
    printed = capsys.readouterr().out
    assert "| dataset" in printed and "95% CI" in printed and "| mean" in printed
    result = RunResult.load(outputs[0])
    starter = result.scores["starter"]
    assert starter["n"] == 96 and len(starter["correct"]) == 96 and starter["questions_sha256"]
    low, high = starter["interval"]
    assert low <= starter["accuracy"] <= high and high - low > 0.05
    assert result.arguments["bootstrap_resamples"] == 200

    comparison = tmp_path / "comparison.json"
    assert main(["eval", "compare", str(outputs[0]), str(outputs[1]), "--output", str(comparison)]) == 0
    printed = capsys.readouterr().out
    assert "B - A" in printed and "McNemar" in printed and "| starter" in printed
    compared = RunResult.load(comparison)
    assert compared.task == "compare" and set(compared.scores) == {analogy_file, "starter"}
    entry = compared.scores["starter"]
    assert entry["n"] == 96 and 0.0 <= entry["p_value"] <= 1.0
    assert entry["difference"] == pytest.approx(entry["score_b"] - entry["score_a"])
    # the same model on both sides: no difference, p = 1
    assert main(["eval", "compare", str(outputs[0]), str(outputs[0])]) == 0
    assert "| 1 " in capsys.readouterr().out.split("| starter")[1]


def test_compare_refuses_unpairable_results(tmp_path, capsys):
    a = RunResult.create("analogy", {"u2": {"correct": [True, False], "questions_sha256": "x"}})
    b = RunResult.create("analogy", {"u2": {"correct": [True, False], "questions_sha256": "y"}})
    a.save(tmp_path / "a.json")
    b.save(tmp_path / "b.json")
    assert main(["eval", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 2
    assert "different questions" in capsys.readouterr().err
    assert main(["eval", "compare", str(tmp_path / "a.json"), str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_output_as_csv(tiny_bert_path, analogy_file, tmp_path):
    import csv

    out = tmp_path / "scores.csv"
    argv = ["eval", "analogy", "--model", tiny_bert_path, "--datasets", analogy_file, "starter", "--no-progress",
            "--bootstrap-resamples", "100"]  # fmt: skip
    assert main([*argv, "--output", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["dataset"], r["split"], r["n"], r["metric"]) for r in rows] == [
        (analogy_file, "test", "3", "accuracy"),
        ("starter", "test", "96", "accuracy"),
    ]
    assert all(float(r["ci_low"]) <= float(r["value"]) <= float(r["ci_high"]) for r in rows)
    assert main([*argv, "--output", str(tmp_path / "scores.txt")]) == 2


def test_plot_add_to_card_writes_into_the_model_folder(tiny_model, tmp_path, capsys):
    folder = Path(tiny_model.save_pretrained(tmp_path / "model"))
    args = ["eval", "plot", "--model", str(folder), "--datasets", "starter", "--method", "pca", "--no-progress"]
    assert main([*args, "--add-to-card"]) == 0
    assert main([*args, "--add-to-card"]) == 0  # again: the plot is replaced, not listed twice
    figure = folder / "relation_space_starter.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (folder / "README.md").read_text()
    assert "## Relation space" in card and card.count("](relation_space_starter.png)") == 1
    model = RelBERT.from_pretrained(folder, device="cpu")
    assert model.config.results["relation_space"] == [
        {"file": "relation_space_starter.png", "dataset": "starter", "split": "train", "method": "pca"}
    ]
    copy = Path(model.save_pretrained(tmp_path / "copy"))  # the figure travels with the model (and to the Hub)
    assert (copy / "relation_space_starter.png").read_bytes() == figure.read_bytes()
    capsys.readouterr()
    assert main([*args, "--add-to-card", "--output", str(tmp_path / "x.png")]) == 2
    assert "leave out --output" in capsys.readouterr().err
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    assert main(["eval", "plot", "--model", str(not_a_model), "--datasets", "starter", "--add-to-card"]) == 2
    assert "saved relemb model folder" in capsys.readouterr().err

"""relemb-eval attention-probe|attention-trace|attention-heads end to end, in-process, with the tiny models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from relemb.cli import main
from relemb.results import RunResult

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

LEXICAL = {
    "hyper": [
        ("apple", "fruit"), ("rose", "flower"), ("oak", "tree"), ("salmon", "fish"), ("eagle", "bird"),
        ("puppy", "dog"), ("kitten", "cat"), ("calf", "cow"), ("foal", "horse"), ("lamb", "sheep"),
    ],
    "mero": [
        ("wheel", "car"), ("petal", "flower"), ("finger", "hand"), ("page", "book"), ("leaf", "tree"),
        ("wood", "table"), ("glass", "window"), ("wool", "sweater"), ("clay", "pot"), ("gold", "ring"),
    ],
    "antonym": [
        ("hot", "cold"), ("big", "small"), ("fast", "slow"), ("happy", "sad"), ("up", "down"),
        ("cold", "hot"), ("small", "big"), ("slow", "fast"), ("sad", "happy"), ("down", "up"),
    ],
    "random": [
        ("hot", "bread"), ("gold", "school"), ("up", "horse"), ("clay", "japan"), ("fast", "glass"),
        ("big", "wool"), ("sad", "paper"), ("down", "beer"), ("slow", "nail"), ("cold", "camera"),
    ],
}  # fmt: skip


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def lexical_folder(tmp_path):
    folder = tmp_path / "toy_lexical"
    folder.mkdir()
    for split, part in {"train": slice(0, 7), "test": slice(7, 10)}.items():
        _write(
            folder / f"{split}.jsonl",
            [{"head": h, "tail": t, "relation": rel} for rel, pairs in LEXICAL.items() for h, t in pairs[part]],
        )
    return str(folder)


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


# -------------------------------------------------------------------------------------------- trace
def test_trace_pairs_end_to_end(tiny_bert_path, tmp_path, capsys):
    out, figure = tmp_path / "trace.json", tmp_path / "figs" / "trace.png"
    code = main(
        ["eval", "attention-trace", "--model", tiny_bert_path, "--device", "cpu", "--no-progress",
         "--pair", "camera:photographer", "--pair", "tokyo:japan",
         "--output", str(out), "--figure", str(figure)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "from '[MASK]'" in printed and "| token" in printed
    payload = RunResult.load(out)
    assert payload.task == "attention-trace" and len(payload.scores["inputs"]) == 2
    for result in payload.scores["inputs"]:
        assert result["start_token"] == "[MASK]"
        assert np.isclose(sum(result["tracing"]), 1.0) and np.isclose(sum(result["rollout"]), 1.0)
    assert figure.read_bytes()[:8] == PNG_MAGIC
    assert _files(tmp_path) == ["figs", "trace.json"] and _files(figure.parent) == ["trace.png"]


def test_trace_sentence_layers(tiny_roberta_path, tmp_path):
    figure = tmp_path / "layers.png"
    code = main(
        ["eval", "attention-trace", "--model", tiny_roberta_path, "--device", "cpu", "--no-progress",
         "--sentence", "the puppy is a young dog", "--head", "puppy", "--tail", "dog",
         "--layers", "--figure", str(figure)]
    )  # fmt: skip
    assert code == 0 and figure.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "give at least one --pair"),
        (["--sentence", "a cat", "--head", "cat"], "one --head and one --tail per --sentence"),
        (["--pair", "a:b", "--start", "middle"], "--start must be"),
        (["--pair", "a:b", "--pair", "c:d", "--layers"], "--layers draws one input"),
        (["--sentence", "a cat and a dog", "--head", "cat", "--tail", "dog", "--start", "mask"], "has no mask"),
        (["--sentence", "a cat", "--head", "cow", "--tail", "cat"], "does not occur"),
        (["--pair", "a:b", "--figure", "trace.jpg"], "should end in .png"),
        (["--pair", ":b"], "HEAD:TAIL"),
        (["--pair", " :b"], "HEAD:TAIL"),
    ],
)
def test_trace_bad_arguments(tiny_bert_path, extra, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["eval", "attention-trace", "--model", tiny_bert_path, "--device", "cpu", "--no-progress", *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_trace_random_init_differs(tiny_bert_path, tmp_path):
    outputs = []
    # the tiny model itself was initialised with seed 0: a control with seed 0 would be the same model
    for extra in ([], ["--random-init", "--seed", "7"]):
        out = tmp_path / f"trace{len(extra)}.json"
        assert main(
            ["eval", "attention-trace", "--model", tiny_bert_path, "--device", "cpu", "--no-progress",
             "--pair", "camera:photographer", "--output", str(out), *extra]
        ) == 0  # fmt: skip
        outputs.append(RunResult.load(out).scores["inputs"][0])
    assert "random init" not in outputs[0]["model"] and "random init" in outputs[1]["model"]
    # both tiny models are random, so their (near-uniform) scores differ only slightly, but they differ
    assert len(outputs[0]["tracing"]) == len(outputs[1]["tracing"])
    assert not np.array_equal(outputs[0]["tracing"], outputs[1]["tracing"])


# -------------------------------------------------------------------------------------------- probe
def test_probe_end_to_end(tiny_bert_path, lexical_folder, tmp_path, capsys):
    out, figures = tmp_path / "probe.json", tmp_path / "figs"
    code = main(
        ["eval", "attention-probe", "--model", tiny_bert_path, "--device", "cpu", "--no-progress",
         "--datasets", lexical_folder, "--seed", "7", "--output", str(out), "--figures", str(figures)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "| toy_lexical | binary" in printed and "| toy_lexical | multiclass" in printed
    payload = RunResult.load(out)
    assert payload.model["random_init"] is False and payload.datasets
    report = payload.scores[lexical_folder]
    binary, multiclass = report["tasks"]["binary"], report["tasks"]["multiclass"]
    assert binary["n_train"] == 28 and binary["n_test"] == 12
    assert multiclass["classes"] == ["antonym", "hyper", "mero"]
    for task in (binary, multiclass):
        model, control = task["attention"]["model"], task["attention"]["control"]
        assert np.isclose(task["selectivity"]["macro_f1"], model["macro_f1"] - control["macro_f1"])
        assert len(task["hidden_states"]["model"]["macro_f1"]) == 3  # embeddings + 2 layers
    assert _files(figures) == [
        "toy_lexical_binary_importance.png",
        "toy_lexical_dendrogram.png",
        "toy_lexical_layers.png",
        "toy_lexical_multiclass_importance.png",
    ]
    assert all((figures / name).read_bytes()[:8] == PNG_MAGIC for name in _files(figures))


def test_probe_without_control_or_hidden_states(tiny_roberta_path, lexical_folder, tmp_path, capsys):
    out = tmp_path / "probe.json"
    code = main(
        ["eval", "attention-probe", "--model", tiny_roberta_path, "--device", "cpu", "--no-progress",
         "--datasets", lexical_folder, "--tasks", "multiclass", "--no-control", "--no-hidden-states",
         "--output", str(out)]
    )  # fmt: skip
    assert code == 0
    task = RunResult.load(out).scores[lexical_folder]["tasks"]["multiclass"]
    assert "control" not in task["attention"] and task["selectivity"] is None and task["hidden_states"] is None


def test_probe_random_init_model_gets_a_different_control(tiny_bert_path, lexical_folder, tmp_path, monkeypatch):
    from relemb.attention.encode import AttentionEncoder

    seeds = []
    original = AttentionEncoder.random_control

    def spy(self, seed=0):
        seeds.append(seed)
        return original(self, seed=seed)

    monkeypatch.setattr(AttentionEncoder, "random_control", spy)
    code = main(
        ["eval", "attention-probe", "--model", tiny_bert_path, "--device", "cpu", "--no-progress", "--random-init",
         "--datasets", lexical_folder, "--tasks", "binary", "--no-hidden-states", "--seed", "3"]
    )  # fmt: skip
    assert code == 0 and seeds == [3, 4]


def test_probe_bad_dataset_fails_before_the_model(tmp_path, capsys):
    code = main(["eval", "attention-probe", "--model", "no/such-model", "--datasets", "NotADataset", "--no-progress"])
    assert code == 2
    assert "NotADataset" in capsys.readouterr().err


# -------------------------------------------------------------------------------------------- heads
def test_heads_end_to_end(tiny_bert_path, lexical_folder, tmp_path, capsys):
    out, figures = tmp_path / "heads.json", tmp_path / "figs"
    code = main(
        ["eval", "attention-heads", "--model", tiny_bert_path, "--device", "cpu", "--no-progress",
         "--datasets", lexical_folder, "--max-pairs", "6", "--output", str(out), "--figures", str(figures)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "| toy_lexical | previous" in printed and "Heads as relation classifiers" in printed
    report = RunResult.load(out).scores[lexical_folder]
    assert report["n_inputs"] == 6
    assert _files(figures) == [
        "toy_lexical_head_map.png",
        "toy_lexical_head_statistics.png",
        "toy_lexical_relation_heads.png",
    ]


def test_heads_pairs_without_distances(tiny_bert_path, tmp_path):
    out = tmp_path / "heads.json"
    code = main(
        ["eval", "attention-heads", "--model", tiny_bert_path, "--device", "cpu", "--no-progress",
         "--pair", "camera:photographer", "puppy:dog", "--no-distances", "--output", str(out)]
    )  # fmt: skip
    assert code == 0
    report = RunResult.load(out).scores["pairs"]
    assert report["n_inputs"] == 2 and report.get("distances") is None


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--pair", "camera-photographer"], "HEAD:TAIL"),
        (["--pair", "a:b", "--output", "heads.txt"], "should end in .json"),
        (["--datasets", "NotADataset"], "NotADataset"),
    ],
)
def test_heads_bad_arguments(tiny_bert_path, extra, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["eval", "attention-heads", "--model", tiny_bert_path, "--device", "cpu", "--no-progress", *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []

"""relemb-eval attention-probe|attention-trace|attention-heads end to end, in-process, with the tiny models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from relemb.cli import main

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
         "--pair", "camera", "photographer", "--pair", "tokyo", "japan",
         "--output", str(out), "--figure", str(figure)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "from '[MASK]'" in printed and "| token" in printed
    payload = json.loads(out.read_text())
    assert payload["task"] == "attention-trace" and len(payload["results"]) == 2
    for result in payload["results"]:
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
        (["--pair", "a", "b", "--start", "middle"], "--start must be"),
        (["--pair", "a", "b", "--pair", "c", "d", "--layers"], "--layers draws one input"),
        (["--sentence", "a cat and a dog", "--head", "cat", "--tail", "dog", "--start", "mask"], "has no mask"),
        (["--sentence", "a cat", "--head", "cow", "--tail", "cat"], "does not occur"),
        (["--pair", "a", "b", "--figure", "trace.jpg"], "should end in .png"),
        (["--pair", "", "b"], "empty"),
    ],
)
def test_trace_bad_arguments(tiny_bert_path, extra, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["eval", "attention-trace", "--model", tiny_bert_path, "--device", "cpu", "--no-progress", *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []

"""relemb.results: the one results format, written and read back."""

import json
import logging

import pytest

from relemb.results import RESULTS_SCHEMA_VERSION, DatasetSource, RunResult, library_versions


def test_round_trip_through_a_file(tmp_path):
    source = DatasetSource("u2", "test", "local", "/d/u2/test.jsonl", "0123456789abcdef")
    result = RunResult.create(
        "analogy",
        {"u2": {"accuracy": 0.5, "predictions": [0, 1]}},
        model={"model": "minilm", "dim": 384},
        datasets=[source],
        arguments={"batch_size": 64},
        seconds=1.234,
    )
    path = tmp_path / "results.json"
    result.save(path)
    data = json.loads(path.read_text())
    assert data["task"] == "analogy" and data["schema_version"] == RESULTS_SCHEMA_VERSION
    assert data["datasets"][0]["sha256"] == "0123456789abcdef" and data["seconds"] == 1.23
    assert data["versions"]["relemb"] and data["date"].endswith("+00:00")
    loaded = RunResult.load(path)
    assert loaded == result and loaded.datasets[0] == source


def test_unknown_keys_and_newer_versions_are_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="relemb.results"):
        loaded = RunResult.from_dict({"task": "x", "scores": {}, "schema_version": 99, "future": 1})
    assert loaded.task == "x"
    assert "newer" in caplog.text and "future" in caplog.text


def test_bad_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        RunResult.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json.*not valid JSON"):
        RunResult.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="other.json.*'task' and 'scores'"):
        RunResult.load(tmp_path / "other.json")


def test_library_versions():
    versions = library_versions()
    assert versions["relemb"] and versions["torch"] and versions["python"].count(".") == 2

"""relemb._io: atomic result files and figures, Markdown tables."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from relemb._io import (
    atomic_directory,
    atomic_output,
    file_mode,
    markdown_table,
    output_file,
    to_jsonable,
    write_files,
    write_json,
    write_npy,
)


def test_writes_with_default_permissions(tmp_path):
    target = tmp_path / "new" / "results.json"
    with atomic_output(target) as temporary:
        temporary.write_text("{}")
        assert not target.exists()  # nothing visible until the block ends
    assert target.read_text() == "{}"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]


def test_error_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_markdown_table_pads_columns():
    text = markdown_table(["dataset", "acc"], [["u2", 28.1], ["google", 5]])
    assert text.splitlines() == [
        "| dataset | acc  |",
        "|---------|------|",
        "| u2      | 28.1 |",
        "| google  | 5    |",
    ]


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_directory_moves_everything_with_the_umask_permissions(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "keep.txt").write_text("kept")
    (target / "old").mkdir()
    (target / "old" / "x").write_text("replaced")
    with atomic_directory(target) as staging:
        (staging / "weights.bin").write_bytes(b"w")
        os.chmod(staging / "weights.bin", 0o600)  # as some writers do
        (staging / "old").mkdir()
        (staging / "old" / "y").write_text("new")
        assert not (target / "weights.bin").exists()
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt", "old", "weights.bin"]
    assert sorted(p.name for p in (target / "old").iterdir()) == ["y"]
    assert _mode(target / "weights.bin") == file_mode() == _mode(target / "old" / "y")
    assert _mode(target / "old") == file_mode(directory=True)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging folder left


def test_atomic_directory_failure_leaves_the_target(tmp_path):
    target = tmp_path / "model"
    with pytest.raises(KeyboardInterrupt), atomic_directory(target) as staging:
        (staging / "half").write_text("x")
        raise KeyboardInterrupt
    assert not target.exists() and not list(tmp_path.iterdir())


def test_write_files_is_all_or_nothing(tmp_path):
    write_files({tmp_path / "a.txt": "A", tmp_path / "sub" / "b.txt": "B"})
    assert (tmp_path / "a.txt").read_text() == "A" and (tmp_path / "sub" / "b.txt").read_text() == "B"

    with pytest.raises(TypeError):
        write_files({tmp_path / "a.txt": "new", tmp_path / "c.txt": 3})  # the second cannot be written
    assert (tmp_path / "a.txt").read_text() == "A" and not (tmp_path / "c.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "sub"]


def test_write_json_converts_numpy_and_refuses_nothing(tmp_path):
    write_json(tmp_path / "r.json", {"a": np.float64(0.25), "b": np.arange(3), "c": float("inf"), 2: (1, 2)})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 0.25, "b": [0, 1, 2], "c": None, "2": [1, 2]}


def test_write_npy_is_atomic(tmp_path):
    def fill(matrix):
        matrix[:] = 1.5

    out = write_npy(tmp_path / "m.npy", (3, 2), fill)
    assert out.shape == (3, 2) and float(out.sum()) == 9.0 and _mode(tmp_path / "m.npy") == file_mode()

    def fail(matrix):
        matrix[0] = 2.0
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        write_npy(tmp_path / "n.npy", (3, 2), fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npy"]
    with pytest.raises(ValueError, match="should end in .npy"):
        write_npy(tmp_path / "m.txt", (1, 1), fill)
    with pytest.raises(FileNotFoundError, match="folder"):
        write_npy(tmp_path / "missing" / "m.npy", (1, 1), fill)


def test_output_file_checks_folders_and_suffixes(tmp_path):
    assert output_file(tmp_path / "r.csv", (".json", ".csv")).name == "r.csv"
    with pytest.raises(ValueError, match="should end in .json or .csv"):
        output_file(tmp_path / "r.txt", (".json", ".csv"))
    with pytest.raises(IsADirectoryError):
        output_file(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        output_file(tmp_path / "file" / "sub" / "r.json")
    assert output_file(tmp_path / "new" / "deeper" / "r.json") == tmp_path / "new" / "deeper" / "r.json"


def test_output_file_refuses_a_folder_without_write_permission(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as for a non-root user in a read-only folder
    with pytest.raises(PermissionError, match="no write permission"):
        output_file(tmp_path / "r.json")


def test_to_jsonable_handles_dataclasses_and_paths(tmp_path):
    @dataclasses.dataclass
    class Point:
        x: np.int32
        where: Path

    assert to_jsonable([Point(np.int32(1), tmp_path)]) == [{"x": 1, "where": str(tmp_path)}]

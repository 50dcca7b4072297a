"""relemb._io: atomic result files and figures, Markdown tables."""

from __future__ import annotations

import os
import stat

import pytest

from relemb._io import atomic_output, markdown_table


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


def test_old_import_path_is_the_same_writer():
    from relemb.evaluation.output import atomic_output as old

    assert old is atomic_output


def test_markdown_table_pads_columns():
    text = markdown_table(["dataset", "acc"], [["u2", 28.1], ["google", 5]])
    assert text.splitlines() == [
        "| dataset | acc  |",
        "|---------|------|",
        "| u2      | 28.1 |",
        "| google  | 5    |",
    ]


def test_doctests():
    import doctest

    import relemb._io

    assert doctest.testmod(relemb._io).failed == 0

"""relemb._compat: optional dependencies and version branches."""

import pytest

from relemb._compat import is_installed, no_unpadding_kwargs, requires


def test_requires_imports_or_names_the_install_command():
    assert requires("json").dumps([]) == "[]"
    with pytest.raises(
        ImportError, match=r"the thing needs nope-pkg \(module nope_xyz\): pip install 'relemb\[faiss\]'"
    ):
        requires("nope_xyz", package="nope-pkg", extra="faiss", purpose="the thing")
    with pytest.raises(ImportError, match="pip install nope_xyz$"):
        requires("nope_xyz.sub")


def test_requires_reports_a_broken_install(tmp_path, monkeypatch):
    (tmp_path / "broken_pkg_xyz.py").write_text("import not_there_at_all_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match="installed but fails to import"):
        requires("broken_pkg_xyz")


def test_is_installed_does_not_import():
    assert is_installed("json") and not is_installed("nope_xyz")


def test_no_unpadding_kwargs_is_a_dict():
    assert no_unpadding_kwargs() in ({}, {"unpad_inputs": False})

"""relemb._compat: optional dependencies and version branches."""

import pytest

from relemb._compat import (
    INFERENCE_BACKEND_PACKAGES,
    check_backend,
    is_installed,
    no_unpadding_kwargs,
    renamed_keyword,
    requires,
)


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


def test_check_backend_names_and_packages(monkeypatch):
    import relemb._compat as compat
    from relemb.choices import INFERENCE_BACKENDS

    assert check_backend("torch") == "torch"
    assert set(INFERENCE_BACKEND_PACKAGES) == set(INFERENCE_BACKENDS) - {"torch"}
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'; choose one of torch, openvino, onnx"):
        check_backend("tensorrt")
    monkeypatch.setitem(compat.INFERENCE_BACKEND_PACKAGES, "onnx", ("nope_xyz.runtime", "nope-onnx", "onnx"))
    with pytest.raises(
        ImportError, match=r"^backend='onnx' needs nope-onnx \(module nope_xyz.runtime\): pip install 'relemb\[onnx\]'$"
    ):
        check_backend("onnx")
    monkeypatch.setitem(compat.INFERENCE_BACKEND_PACKAGES, "onnx", ("json", "json", "onnx"))
    assert check_backend("onnx") == "onnx"


def test_renamed_keyword_warns_and_refuses_conflicts():
    assert renamed_keyword("bfloat16", None, new="dtype", old="precision", default="float32") == "bfloat16"
    with pytest.warns(DeprecationWarning, match=r"precision= is deprecated .* use dtype="):
        assert renamed_keyword("float32", "float16", new="dtype", old="precision", default="float32") == "float16"
    with pytest.warns(DeprecationWarning):  # the same value under both names is not a conflict
        assert renamed_keyword("float16", "float16", new="dtype", old="precision", default="float32") == "float16"
    with pytest.raises(TypeError, match="pass dtype= only"):
        renamed_keyword("float16", "bfloat16", new="dtype", old="precision", default="float32")

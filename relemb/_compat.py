"""Library versions and optional dependencies: the one place that branches on a library's version and the one
way to import an optional package (:func:`requires`), including the inference backends (:func:`check_backend`).
A light module: nothing heavy is imported until asked.

>>> requires("json").__name__
'json'
>>> requires("no_such_package_xyz", package="xyz", extra="faiss", purpose="the FAISS index")
Traceback (most recent call last):
...
ImportError: the FAISS index needs xyz (module no_such_package_xyz): pip install 'relemb[faiss]'
>>> check_backend("torch")
'torch'
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import warnings
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any, TypeVar

from relemb.choices import INFERENCE_BACKENDS, InferenceBackend, check_choice

__all__ = [
    "INFERENCE_BACKEND_PACKAGES",
    "check_backend",
    "is_installed",
    "no_unpadding_kwargs",
    "renamed_keyword",
    "requires",
    "transformer_init_parameters",
]

_T = TypeVar("_T")

#: What each non-torch inference backend of sentence-transformers needs:
#: backend -> (module that must import, its package, the relemb extra that installs it).
INFERENCE_BACKEND_PACKAGES: dict[str, tuple[str, str, str]] = {
    "openvino": ("optimum.intel", "optimum-intel", "openvino"),
    "onnx": ("optimum.onnxruntime", "optimum-onnx", "onnx"),
}


def is_installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (a parent package may be imported).

    >>> is_installed("json"), is_installed("no_such_package_xyz.sub")
    (True, False)
    """
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module's ``__getattr__`` and ``__dir__`` (PEP 562) that import each name of ``exports`` (name -> the
    module defining it) on first use, so importing the package stays light.

    >>> getattr_, dir_ = lazy_exports("example", {"dumps": "json"})
    >>> getattr_("dumps")([1])
    '[1]'
    >>> getattr_("loads")
    Traceback (most recent call last):
    ...
    AttributeError: module 'example' has no attribute 'loads'
    """
    namespace = sys.modules[package].__dict__ if package in sys.modules else {}

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__


def requires(
    module: str, package: str | None = None, extra: str | None = None, *, purpose: str | None = None
) -> ModuleType:
    """Import the optional dependency ``module``, or raise ``ImportError`` naming what needs it and how to
    install it (``pip install 'relemb[extra]'``, else ``pip install package``)."""
    package = package or module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if is_installed(module):  # installed, but one of its own imports fails: say that, not "install it"
            raise ImportError(
                f"{purpose or 'this feature'} needs {module}, which is installed but fails to import: {error}"
            ) from error
    install = f"pip install 'relemb[{extra}]'" if extra else f"pip install {package}"
    raise ImportError(f"{purpose or 'this feature'} needs {package} (module {module}): {install}") from None


def check_backend(backend: object) -> InferenceBackend:
    """Return ``backend`` if it is one of :data:`~relemb.choices.INFERENCE_BACKENDS` and what it needs imports;
    ``ValueError`` for an unknown name, ``ImportError`` (from :func:`requires`) naming the extra to install.

    >>> check_backend("tensorrt")
    Traceback (most recent call last):
    ...
    ValueError: unknown backend 'tensorrt'; choose one of torch, openvino, onnx
    """
    backend = check_choice(backend, INFERENCE_BACKENDS, "backend")
    if backend in INFERENCE_BACKEND_PACKAGES:
        module, package, extra = INFERENCE_BACKEND_PACKAGES[backend]
        requires(module, package, extra, purpose=f"backend={backend!r}")
    return backend


def renamed_keyword(new_value: _T, old_value: _T | None, *, new: str, old: str, default: _T, stacklevel: int = 3) -> _T:
    """The value of a keyword argument renamed from ``old`` to ``new``: ``old_value`` (with a
    ``DeprecationWarning``) when the caller still passes the old name, else ``new_value``. Passing both, with
    different values, is a ``TypeError``.

    >>> renamed_keyword("float32", None, new="dtype", old="precision", default="float32")
    'float32'
    >>> renamed_keyword("float16", "bfloat16", new="dtype", old="precision", default="float32")
    Traceback (most recent call last):
    ...
    TypeError: pass dtype= only (precision= is its deprecated name), got dtype='float16' and precision='bfloat16'
    """
    if old_value is None:
        return new_value
    if new_value != default and new_value != old_value:
        raise TypeError(
            f"pass {new}= only ({old}= is its deprecated name), got {new}={new_value!r} and {old}={old_value!r}"
        )
    warnings.warn(
        f"{old}= is deprecated and will be removed; use {new}= (same values)", DeprecationWarning, stacklevel=stacklevel
    )
    return old_value


@cache
def transformer_init_parameters() -> frozenset[str]:
    """Keyword arguments that this sentence-transformers version's ``Transformer.__init__`` accepts."""
    from sentence_transformers.base.modules import Transformer

    init = inspect.unwrap(Transformer.__init__)
    return frozenset(inspect.signature(init).parameters)


def no_unpadding_kwargs() -> dict[str, bool]:
    """``{"unpad_inputs": False}`` where supported (6.x): pooling needs the padded (batch, seq, dim) layout."""
    return {"unpad_inputs": False} if "unpad_inputs" in transformer_init_parameters() else {}

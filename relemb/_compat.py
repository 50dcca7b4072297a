"""Library versions and optional dependencies: the one place that branches on a library's version and the one
way to import an optional package (:func:`requires`). A light module: nothing heavy is imported until asked.

>>> requires("json").__name__
'json'
>>> requires("no_such_package_xyz", package="xyz", extra="faiss", purpose="the FAISS index")
Traceback (most recent call last):
...
ImportError: the FAISS index needs xyz (module no_such_package_xyz): pip install 'relemb[faiss]'
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from functools import cache
from types import ModuleType

__all__ = ["is_installed", "no_unpadding_kwargs", "requires", "transformer_init_parameters"]


def is_installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (a parent package may be imported).

    >>> is_installed("json"), is_installed("no_such_package_xyz.sub")
    (True, False)
    """
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


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


@cache
def transformer_init_parameters() -> frozenset[str]:
    """Keyword arguments that this sentence-transformers version's ``Transformer.__init__`` accepts."""
    from sentence_transformers.base.modules import Transformer

    init = inspect.unwrap(Transformer.__init__)
    return frozenset(inspect.signature(init).parameters)


def no_unpadding_kwargs() -> dict[str, bool]:
    """``{"unpad_inputs": False}`` where supported (6.x): pooling needs the padded (batch, seq, dim) layout."""
    return {"unpad_inputs": False} if "unpad_inputs" in transformer_init_parameters() else {}

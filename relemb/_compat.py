"""The one place that branches on library versions (sentence-transformers 5.5+ and 6.x)."""

from __future__ import annotations

import inspect
from functools import cache

from sentence_transformers.base.modules import Transformer


@cache
def transformer_init_parameters() -> frozenset[str]:
    """Keyword arguments that this sentence-transformers version's ``Transformer.__init__`` accepts."""
    init = inspect.unwrap(Transformer.__init__)
    return frozenset(inspect.signature(init).parameters)


def no_unpadding_kwargs() -> dict[str, bool]:
    """``{"unpad_inputs": False}`` where supported (6.x): pooling needs the padded (batch, seq, dim) layout."""
    return {"unpad_inputs": False} if "unpad_inputs" in transformer_init_parameters() else {}

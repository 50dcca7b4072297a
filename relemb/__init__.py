"""relemb: relation embeddings (RelBERT) native to sentence-transformers.

>>> from relemb import RelBERT                     # doctest: +SKIP
>>> model = RelBERT.from_pretrained("minilm")
>>> model.get_embedding(("camera", "photographer")).shape
(384,)

Heavy imports (torch, sentence-transformers) happen on first use of a name, so ``import relemb.data``
and ``relemb --help`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "RelBERT": "relemb.model",
    "RelationTransformer": "relemb.modules",
    "RelationPooling": "relemb.modules",
    "POOLING_MODES": "relemb.choices",
    "TEMPLATES": "relemb.prompts",
    "DEFAULT_TEMPLATE_ID": "relemb.prompts",
    "PairIndex": "relemb.neighbors",
    "Neighbor": "relemb.neighbors",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'relemb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

"""The named choices of relemb's options, in one light module (no torch import), so the command line can
offer them without loading a model library, and one check that names the valid values.

>>> check_choice("mask", POOLING_MODES, "pooling mode")
'mask'
>>> check_pooling_mode("max")
Traceback (most recent call last):
...
ValueError: unknown pooling mode 'max'; choose one of mask, average, average_no_mask
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal, TypeVar, cast

__all__ = [
    "ANALOGY_DIRECTIONS",
    "DEFAULT_POOLING",
    "EMBEDDING_DTYPES",
    "INDEX_BACKENDS",
    "INFERENCE_BACKENDS",
    "InferenceBackend",
    "LOSSES",
    "POOLING_MODES",
    "PROMPT_KINDS",
    "WORD_LOSS_ACTIONS",
    "check_choice",
    "check_pooling_mode",
]

#: How token embeddings become the relation embedding (:class:`relemb.modules.RelationPooling`).
POOLING_MODES: tuple[str, ...] = ("mask", "average", "average_no_mask")
DEFAULT_POOLING = "average_no_mask"
#: Training objectives (:mod:`relemb.losses`): RelBERT's InfoNCE (2023) and triplet loss (EMNLP 2021).
LOSSES: tuple[str, ...] = ("nce", "triplet")
#: Prompt kinds of ``relemb-train --prompt`` (:mod:`relemb.prompt_learning`).
PROMPT_KINDS: tuple[str, ...] = ("manual", "autoprompt", "ptuning")
#: sentence-transformers inference backends a model can run on (``RelBERT.from_pretrained(backend=...)``).
InferenceBackend = Literal["torch", "openvino", "onnx"]
INFERENCE_BACKENDS: tuple[InferenceBackend, ...] = ("torch", "openvino", "onnx")
#: Compute dtypes of ``RelBERT.get_embedding(dtype=...)``: exact float32, or bf16/fp16 autocast.
EMBEDDING_DTYPES: tuple[str, ...] = ("float32", "bfloat16", "float16")
#: How analogy questions compare pairs (:mod:`relemb.evaluation.analogy`).
ANALOGY_DIRECTIONS: tuple[str, ...] = ("forward", "reverse", "bidirectional")
#: What embedding does with a pair whose word would not reach the model as written (truncated, unknown, special).
WORD_LOSS_ACTIONS: tuple[str, ...] = ("error", "warn")
#: Search backends of :class:`relemb.neighbors.PairIndex`.
INDEX_BACKENDS: tuple[str, ...] = ("exact", "faiss")


_Choice = TypeVar("_Choice", bound=str)


def check_choice(value: object, choices: Collection[_Choice], what: str) -> _Choice:
    """Return ``value`` if it is one of ``choices``; else ``ValueError`` naming ``what`` and the valid values."""
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")
    return cast(_Choice, str(value))  # equal to one of the choices (a Literal type, for some)


def check_pooling_mode(mode: object) -> str:
    """Return ``mode`` if it is one of :data:`POOLING_MODES`, else raise ``ValueError`` listing them."""
    return check_choice(mode, POOLING_MODES, "pooling mode")

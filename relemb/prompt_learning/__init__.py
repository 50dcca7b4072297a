"""relemb.prompt_learning: learned relation prompts, AutoPrompt (discrete) and P-tuning (continuous).

Both learn ``[T]*n1 <subj> [T]*n2 <obj> [T]*n3 <mask>`` with the encoder frozen, on RelBERT's
training objective (:mod:`relemb.losses`, ``nce`` or ``triplet``), and leave an ordinary relemb model
behind: AutoPrompt a template string of real words, P-tuning a template of added prompt tokens whose
embedding rows hold the learned vectors. See ``docs/prompts.md``.

>>> from relemb import RelBERT
>>> from relemb.data import load_relation_similarity
>>> from relemb.prompt_learning import PromptLearningArguments, learn_prompt
>>> model = RelBERT.from_pretrained("minilm")                                     # doctest: +SKIP
>>> args = PromptLearningArguments(prompt="autoprompt", prompt_iterations=20)     # doctest: +SKIP
>>> result = learn_prompt(model, load_relation_similarity("semeval2012"), args)   # doctest: +SKIP
>>> model.template == result.template                                           # doctest: +SKIP
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .autoprompt import (
    AutoPromptResult,
    CandidateVocabulary,
    EmbeddingGradients,
    TemplateRoundTripError,
    candidate_vocabulary,
    hotflip_candidates,
    learn_autoprompt,
    trigger_positions,
)
from .config import PROMPT_KINDS, PROMPT_LOSSES, PromptLearningArguments
from .layout import TriggerLayout
from .objective import PromptObjective, build_prompt_loss, frozen_encoder, relation_rows
from .ptuning import PROMPT_TOKEN_FORMAT, PromptEncoder, PTuning, PTuningResult, add_prompt_tokens, learn_ptuning

if TYPE_CHECKING:
    from relemb.data import RelationRecord
    from relemb.model import RelBERT

__all__ = [
    "PROMPT_KINDS",
    "PROMPT_LOSSES",
    "PROMPT_TOKEN_FORMAT",
    "AutoPromptResult",
    "CandidateVocabulary",
    "EmbeddingGradients",
    "PTuning",
    "PTuningResult",
    "PromptEncoder",
    "PromptLearningArguments",
    "PromptObjective",
    "TemplateRoundTripError",
    "TriggerLayout",
    "add_prompt_tokens",
    "build_prompt_loss",
    "candidate_vocabulary",
    "frozen_encoder",
    "hotflip_candidates",
    "learn_autoprompt",
    "learn_prompt",
    "learn_ptuning",
    "relation_rows",
    "trigger_positions",
]


def learn_prompt(
    model: RelBERT,
    data: Sequence[RelationRecord] | PromptObjective | Any,
    args: PromptLearningArguments,
) -> AutoPromptResult | PTuningResult | None:
    """Learn the prompt ``args.prompt`` asks for, in place on ``model``; ``manual`` does nothing.

    Returns the :class:`AutoPromptResult` / :class:`PTuningResult`, or ``None`` for ``manual``.

    Example::

        result = learn_prompt(model, train_records, PromptLearningArguments(prompt="ptuning"))
    """
    if not isinstance(args, PromptLearningArguments):
        raise TypeError(f"args must be PromptLearningArguments, got {type(args).__name__}")
    if args.prompt == "manual":
        return None
    if args.prompt == "autoprompt":
        return learn_autoprompt(model, data, args)
    return learn_ptuning(model, data, args)

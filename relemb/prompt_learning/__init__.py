"""relemb.prompt_learning: learned relation prompts, AutoPrompt (discrete) and P-tuning (continuous).

Both learn ``[T]*n1 <subj> [T]*n2 <obj> [T]*n3 <mask>`` with the encoder frozen, on the fine-tuning
objective itself (the rows of :func:`relemb.training.records_to_dataset`, the loss of
:func:`relemb.training.build_loss` with every option of the ``LossArguments``), and leave an ordinary
relemb model behind: AutoPrompt a template string of real words, P-tuning a template of added prompt
tokens whose embedding rows hold the learned vectors. See ``docs/prompts.md``.

>>> from relemb import RelBERT
>>> from relemb.data import load_relation_similarity
>>> from relemb.prompt_learning import PromptLearningArguments, learn_prompt
>>> from relemb.train_config import LossArguments
>>> model = RelBERT.from_pretrained("minilm")                                     # doctest: +SKIP
>>> args = PromptLearningArguments(prompt="autoprompt", prompt_iterations=20)     # doctest: +SKIP
>>> result = learn_prompt(model, load_relation_similarity("semeval2012"), args,   # doctest: +SKIP
...                       loss=LossArguments(loss="nce", temperature=0.1))
>>> model.template == result.template                                           # doctest: +SKIP
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from relemb._compat import lazy_exports

from .config import PROMPT_KINDS, PromptLearningArguments
from .layout import TriggerLayout

#: The torch-side names, imported on first use (the argument dataclass stays light for relemb-train --help).
_LAZY = {
    **dict.fromkeys(
        ["AutoPromptResult", "CandidateVocabulary", "EmbeddingGradients", "TemplateRoundTripError",
         "candidate_vocabulary", "hotflip_candidates", "learn_autoprompt", "trigger_positions"],
        "relemb.prompt_learning.autoprompt",
    ),
    **dict.fromkeys(["PromptObjective", "frozen_encoder", "resolve_loss"], "relemb.prompt_learning.objective"),
    **dict.fromkeys(
        ["PROMPT_TOKEN_FORMAT", "PromptEncoder", "PTuning", "PTuningResult", "add_prompt_tokens", "learn_ptuning"],
        "relemb.prompt_learning.ptuning",
    ),
}  # fmt: skip
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

if TYPE_CHECKING:
    from torch import nn

    from relemb.data import RelationRecord
    from relemb.model import RelBERT
    from relemb.train_config import LossArguments
    from relemb.training import TrainingData

    from .autoprompt import AutoPromptResult
    from .objective import PromptObjective
    from .ptuning import PTuningResult

__all__ = [
    "PROMPT_KINDS",
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
    "candidate_vocabulary",
    "frozen_encoder",
    "hotflip_candidates",
    "learn_autoprompt",
    "learn_prompt",
    "learn_ptuning",
    "resolve_loss",
    "trigger_positions",
]


def learn_prompt(
    model: RelBERT,
    data: Sequence[RelationRecord] | TrainingData | PromptObjective | Any,
    args: PromptLearningArguments,
    *,
    loss: nn.Module | LossArguments | None = None,
) -> AutoPromptResult | PTuningResult | None:
    """Learn the prompt ``args.prompt`` asks for, in place on ``model``; ``manual`` does nothing.

    ``data``: training relations, the trainer's rows (a :class:`relemb.training.TrainingData` or its
    ``datasets.Dataset``) or a ready :class:`PromptObjective`. ``loss``: the loss the prompt is learned on,
    a ready loss module (``relemb-train`` passes the one it fine-tunes with) or ``LossArguments``
    (default ``LossArguments()``), built by :func:`relemb.training.build_loss`.

    Returns the :class:`AutoPromptResult` / :class:`PTuningResult`, or ``None`` for ``manual``.

    Example::

        result = learn_prompt(model, train_records, PromptLearningArguments(prompt="ptuning"),
                              loss=LossArguments(loss="nce", loob=True))
    """
    if not isinstance(args, PromptLearningArguments):
        raise TypeError(f"args must be PromptLearningArguments, got {type(args).__name__}")
    if args.prompt == "manual":
        return None
    if args.prompt == "autoprompt":
        from .autoprompt import learn_autoprompt

        return learn_autoprompt(model, data, args, loss=loss)
    from .ptuning import learn_ptuning

    return learn_ptuning(model, data, args, loss=loss)

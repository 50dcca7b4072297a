"""``PromptLearningArguments``: the options of prompt learning, one dataclass for ``HfArgumentParser``.

Every field is prefixed with ``prompt`` so the dataclass parses next to
``SentenceTransformerTrainingArguments`` without clashing (``--seed``, ``--learning_rate`` stay the
trainer's). There is no loss option here: a prompt is learned on the fine-tuning loss
(``--loss`` and its options, :class:`relemb.train_config.LossArguments`).

>>> from transformers import HfArgumentParser
>>> (args,) = HfArgumentParser(PromptLearningArguments).parse_args_into_dataclasses(
...     ["--prompt", "autoprompt", "--prompt_n1", "2", "--prompt_iterations", "5"])
>>> args.prompt, args.n_triggers, args.prompt_iterations
('autoprompt', (2, 3, 2), 5)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from relemb.choices import PROMPT_KINDS, check_choice


@dataclass
class PromptLearningArguments:
    """How to learn a prompt ``[T]*n1 <subj> [T]*n2 <obj> [T]*n3 <mask>`` with the encoder frozen (the loss
    is the fine-tuning loss, given separately).

    >>> PromptLearningArguments(prompt="ptuning", prompt_n1=0, prompt_n3=0).n_triggers
    (0, 3, 0)
    """

    prompt: str = field(
        default="manual",
        metadata={
            "help": "prompt kind: manual (the --template as given), autoprompt (discrete trigger "
            "search) or ptuning (continuous prompt vectors)",
            "choices": list(PROMPT_KINDS),
        },
    )
    prompt_n1: int = field(default=2, metadata={"help": "trigger tokens before <subj>"})
    prompt_n2: int = field(default=3, metadata={"help": "trigger tokens between <subj> and <obj>"})
    prompt_n3: int = field(default=2, metadata={"help": "trigger tokens between <obj> and <mask>"})
    prompt_iterations: int = field(
        default=50,
        metadata={
            "help": "AutoPrompt: trigger flips tried (one position per iteration, round robin); "
            "P-tuning: optimizer steps"
        },
    )
    prompt_candidates: int = field(
        default=10, metadata={"help": "AutoPrompt: top-k HotFlip candidates re-scored with the loss per iteration"}
    )
    prompt_batch_size: int = field(
        default=64, metadata={"help": "word pairs per prompt-learning batch (rounded to whole relations)"}
    )
    prompt_lr: float = field(default=1e-3, metadata={"help": "P-tuning: Adam learning rate of the prompt encoder"})
    prompt_seed: int = field(default=0, metadata={"help": "seed of batch order and prompt-encoder initialisation"})
    prompt_initial_token: str = field(
        default="the", metadata={"help": "AutoPrompt: the word every trigger starts from"}
    )
    prompt_only: bool = field(
        default=False,
        metadata={
            "help": "stop after prompt learning (frozen encoder); default: fine-tune the encoder "
            "with the learned prompt afterwards"
        },
    )

    def __post_init__(self) -> None:
        check_choice(self.prompt, PROMPT_KINDS, "prompt kind")
        for name in ("prompt_n1", "prompt_n2", "prompt_n3"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if self.prompt != "manual" and sum(self.n_triggers) == 0:
            raise ValueError(
                f"--prompt {self.prompt} needs at least one trigger token: prompt_n1 + prompt_n2 + prompt_n3 is 0"
            )
        for name in ("prompt_iterations", "prompt_candidates", "prompt_batch_size"):
            value = getattr(self, name)
            minimum = 0 if name == "prompt_iterations" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        if not self.prompt_lr > 0:
            raise ValueError(f"prompt_lr must be > 0, got {self.prompt_lr!r}")
        if not isinstance(self.prompt_initial_token, str) or not self.prompt_initial_token.strip():
            raise ValueError(f"prompt_initial_token must be a non-empty word, got {self.prompt_initial_token!r}")

    @property
    def n_triggers(self) -> tuple[int, int, int]:
        """``(n1, n2, n3)``: trigger tokens before ``<subj>``, between the words, before ``<mask>``.

        >>> PromptLearningArguments().n_triggers
        (2, 3, 2)
        """
        return (self.prompt_n1, self.prompt_n2, self.prompt_n3)

    def to_dict(self) -> dict[str, Any]:
        """The arguments as a JSON-serialisable dict (stored in the model's ``config.training``).

        >>> PromptLearningArguments(prompt="autoprompt").to_dict()["prompt"]
        'autoprompt'
        """
        return asdict(self)

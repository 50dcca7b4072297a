"""P-tuning (Liu et al. 2021) for relation prompts: continuous prompt vectors from a prompt encoder.

The prompt ``[T]*n1 <subj> [T]*n2 <obj> [T]*n3 <mask>`` gets one new special token per trigger slot
(``<relemb_p0>``, ``<relemb_p1>`` ...), added to the tokenizer, with the backbone's token embeddings
resized. While the prompt learns, the encoder is frozen and a forward hook on the word-embedding
module puts the output of a :class:`PromptEncoder` (learnable inputs -> BiLSTM -> MLP) at those
tokens; only the prompt encoder trains.

When training ends, the prompt encoder's *output* vectors (what the encoder saw in training; the
reference saved the raw inputs, a bug) are written into the new tokens' embedding rows and the hook
is removed. The model is then an ordinary relemb model: ``save_pretrained`` writes the template with
the prompt tokens, the tokenizer with them and the embedding rows holding the prompt vectors;
``RelBERT.from_pretrained`` (or ``SentenceTransformer(..., trust_remote_code=True)``) restores
identical embeddings.

>>> from relemb import RelBERT
>>> from relemb.data import load_relation_similarity
>>> from relemb.prompt_learning import PromptLearningArguments, learn_ptuning
>>> model = RelBERT.from_pretrained("minilm")                                   # doctest: +SKIP
>>> args = PromptLearningArguments(prompt="ptuning", prompt_iterations=100)     # doctest: +SKIP
>>> result = learn_ptuning(model, load_relation_similarity("starter"), args)    # doctest: +SKIP
>>> model.save_pretrained("ptuned")                                            # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from relemb.prompt_learning.config import PromptLearningArguments
from relemb.prompt_learning.layout import TriggerLayout
from relemb.prompt_learning.objective import (
    PromptObjective,
    frozen_encoder,
    input_ids_of,
    record_prompt_learning,
    resolve_objective,
    token_embedding_matrix,
)

if TYPE_CHECKING:
    from torch.utils.hooks import RemovableHandle

    from relemb.data import RelationRecord
    from relemb.model import RelBERT
    from relemb.train_config import LossArguments
    from relemb.training import TrainingData

logger = logging.getLogger(__name__)

PROMPT_TOKEN_FORMAT = "<relemb_p{}>"


class PromptEncoder(nn.Module):
    """P-tuning's prompt encoder: ``n`` learnable input vectors through a 2-layer BiLSTM and an MLP.

    >>> encoder = PromptEncoder(n_tokens=3, dim=8)
    >>> tuple(encoder().shape)
    (3, 8)
    """

    def __init__(self, n_tokens: int, dim: int, num_layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        if n_tokens < 1 or dim < 2:
            raise ValueError(f"a prompt encoder needs n_tokens >= 1 and dim >= 2, got {n_tokens}, {dim}")
        self.n_tokens, self.dim = int(n_tokens), int(dim)
        self.inputs = nn.Embedding(self.n_tokens, self.dim)
        self.lstm = nn.LSTM(
            input_size=self.dim,
            hidden_size=self.dim // 2,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=True,
            batch_first=True,
        )
        self.mlp = nn.Sequential(nn.Linear(2 * (self.dim // 2), self.dim), nn.ReLU(), nn.Linear(self.dim, self.dim))

    def forward(self) -> Tensor:
        """The ``(n_tokens, dim)`` prompt vectors."""
        hidden, _ = self.lstm(self.inputs.weight.unsqueeze(0))
        return self.mlp(hidden).squeeze(0)


def free_prompt_token_names(tokenizer: Any, n: int) -> list[str]:
    """``n`` prompt token names ``<relemb_pK>`` not yet in the tokenizer (a P-tuned model can be
    P-tuned again).

    >>> from relemb.testing import build_tiny_tokenizer
    >>> free_prompt_token_names(build_tiny_tokenizer("bert"), 2)
    ['<relemb_p0>', '<relemb_p1>']
    """
    vocab = tokenizer.get_vocab()
    start = 0
    while True:
        names = [PROMPT_TOKEN_FORMAT.format(start + i) for i in range(n)]
        if not any(name in vocab for name in names):
            return names
        start += n


def add_prompt_tokens(model: RelBERT, n: int) -> tuple[list[str], list[int]]:
    """Add ``n`` special prompt tokens to the tokenizer and resize the backbone's token embeddings.

    New rows start as the mean of the existing embeddings. Returns the token names and ids.

    Example::

        names, ids = add_prompt_tokens(model, 2)   # names == ['<relemb_p0>', '<relemb_p1>']
    """
    from tokenizers import AddedToken

    tokenizer = model.tokenizer
    names = free_prompt_token_names(tokenizer, n)
    # lstrip like RoBERTa's <mask>: the space before a prompt token never becomes a token of its own
    added = [AddedToken(name, lstrip=True, rstrip=False, normalized=False, special=True) for name in names]
    tokenizer.add_tokens(added, special_tokens=True)
    ids = tokenizer.convert_tokens_to_ids(names)
    old_size = token_embedding_matrix(model).shape[0]
    new_size = max(len(tokenizer), old_size, max(ids) + 1)
    model.transformer.model.resize_token_embeddings(new_size, mean_resizing=False)
    with torch.no_grad():
        weight = token_embedding_matrix(model)
        weight[old_size:] = weight[:old_size].mean(dim=0)
    return names, ids


class PTuning:
    """The P-tuning state of one model: prompt tokens, prompt encoder and the embedding hook.

    Use :func:`learn_ptuning` for the whole procedure; this class exposes the steps (``attach``,
    ``fit``, ``finalize``) for tests and custom loops.

    Args:
        model: the relation model; tokens are added to it and its template is set to the prompt.
        layout: the numbers of prompt tokens per slot.
        seed: seed of the prompt encoder's initialisation.
    """

    def __init__(self, model: RelBERT, layout: TriggerLayout, seed: int = 0) -> None:
        self.model = model
        self.layout = layout
        self.previous_template = model.template
        self.token_names, self.token_ids = add_prompt_tokens(model, layout.n_triggers)
        vocabulary_size, hidden_size = token_embedding_matrix(model).shape
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.prompt_encoder = PromptEncoder(layout.n_triggers, hidden_size).to(model.device)
        torch.random.set_rng_state(generator_state)
        slot_of = torch.full((vocabulary_size,), -1, dtype=torch.long)
        slot_of[torch.as_tensor(self.token_ids)] = torch.arange(layout.n_triggers)
        self.slot_of = slot_of.to(model.device)
        self.template = layout.template(self.token_names)
        model.template = self.template
        self._handle: RemovableHandle | None = None
        self.finalized = False

    # ------------------------------------------------------------------ hook
    def attach(self) -> None:
        """Put the prompt encoder's output at the prompt tokens in every forward pass."""
        if self.finalized:
            raise RuntimeError("this P-tuning was finalized: its vectors are in the embedding matrix")
        if self._handle is None:
            module = self.model.transformer.model.get_input_embeddings()
            self._handle = module.register_forward_hook(self._hook, with_kwargs=True)

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _hook(self, module: nn.Module, args: tuple, kwargs: dict, output: Tensor) -> Tensor:
        input_ids = input_ids_of(args, kwargs)
        slots = self.slot_of.to(input_ids.device)[input_ids]
        is_prompt = slots >= 0
        if not bool(is_prompt.any()):
            return output
        vectors = self.prompt_encoder().to(output.dtype)
        return torch.where(is_prompt.unsqueeze(-1), vectors[slots.clamp(min=0)], output)

    # ------------------------------------------------------------------ training
    def fit(self, objective: PromptObjective, iterations: int, lr: float = 1e-3) -> list[float]:
        """Train the prompt encoder for ``iterations`` steps (encoder frozen); returns the batch losses."""
        self.attach()
        optimizer = torch.optim.Adam(self.prompt_encoder.parameters(), lr=lr)
        history = []
        self.prompt_encoder.train()
        with frozen_encoder(self.model, objective.loss_module):
            for step in range(iterations):
                pairs, labels = objective.batch(step)
                optimizer.zero_grad(set_to_none=True)
                value = objective.loss(pairs, labels, self.template)
                value.backward()
                torch.nn.utils.clip_grad_norm_(self.prompt_encoder.parameters(), 1.0)
                optimizer.step()
                history.append(float(value.item()))
                logger.info("p-tuning step %d/%d: loss %.4f", step + 1, iterations, history[-1])
        self.prompt_encoder.eval()
        return history

    @torch.no_grad()
    def prompt_vectors(self) -> Tensor:
        """The prompt vectors as the encoder sees them: the prompt encoder's output (eval mode)."""
        self.prompt_encoder.eval()
        return self.prompt_encoder().detach().clone()

    @torch.no_grad()
    def finalize(self) -> Tensor:
        """Write the prompt vectors into the prompt tokens' embedding rows and remove the hook.

        Afterwards the model needs neither the hook nor the prompt encoder; returns the vectors.
        """
        vectors = self.prompt_vectors()
        weight = token_embedding_matrix(self.model)
        weight[torch.as_tensor(self.token_ids, device=weight.device)] = vectors.to(weight.dtype)
        self.detach()
        self.finalized = True
        return vectors

    def abort(self) -> None:
        """Undo what can be undone after a failure: remove the hook, restore the previous template."""
        self.detach()
        self.model.template = self.previous_template


@dataclass
class PTuningResult:
    """What :func:`learn_ptuning` learned: the template (with the prompt tokens), the tokens, the
    vectors written into their embedding rows, the loss per step and the mean loss over one pass of
    the training data before and after."""

    template: str
    prompt_tokens: list[str]
    prompt_token_ids: list[int]
    prompt_vectors: Tensor
    loss_history: list[float] = field(default_factory=list)
    initial_loss: float = float("nan")
    final_loss: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (the vectors as their norms)."""
        return {
            "template": self.template,
            "prompt_tokens": self.prompt_tokens,
            "prompt_token_ids": self.prompt_token_ids,
            "prompt_vector_norms": self.prompt_vectors.norm(dim=1).tolist(),
            "loss_history": self.loss_history,
            "initial_loss": self.initial_loss,
            "final_loss": self.final_loss,
        }


def learn_ptuning(
    model: RelBERT,
    data: Sequence[RelationRecord] | TrainingData | PromptObjective | Any,
    args: PromptLearningArguments | None = None,
    *,
    loss: nn.Module | LossArguments | None = None,
) -> PTuningResult:
    """P-tune ``model`` (encoder frozen) in place: afterwards it holds the learned prompt and is ready to
    save, embed or fine-tune.

    Args:
        model: the relation model; prompt tokens are added to its tokenizer and embedding matrix and its
            template becomes ``[P]*n1 <subj> [P]*n2 <obj> [P]*n3 <mask>``.
        data: training relations (``load_relation_similarity(...)``), the trainer's rows
            (``relemb.training.build_datasets(...)`` or its ``.dataset``) or a ready :class:`PromptObjective`.
        args: prompt token counts, steps (``prompt_iterations``), batch size, learning rate, seed.
        loss: the fine-tuning loss to learn the prompt on: a ready loss module or
            ``relemb.train_config.LossArguments`` (default ``LossArguments()``), built by
            :func:`relemb.training.build_loss`; not with a ``PromptObjective`` (it has its loss).

    Example::

        result = learn_ptuning(model, load_relation_similarity("semeval2012"), args,
                               loss=LossArguments(loss="triplet", margin=0.5))
        model.save_pretrained("out")     # RelBERT.from_pretrained("out") gives the same embeddings
    """
    args = args or PromptLearningArguments(prompt="ptuning")
    layout = TriggerLayout(*args.n_triggers)
    objective = resolve_objective(model, data, args, loss)
    tuning = PTuning(model, layout, seed=args.prompt_seed)
    try:
        tuning.attach()
        with frozen_encoder(model, objective.loss_module):
            initial_loss = objective.full_loss(tuning.template)
        history = tuning.fit(objective, args.prompt_iterations, lr=args.prompt_lr)
        vectors = tuning.finalize()
        with frozen_encoder(model, objective.loss_module):
            final_loss = objective.full_loss(tuning.template)
    except BaseException:
        tuning.abort()
        raise
    result = PTuningResult(
        template=tuning.template,
        prompt_tokens=tuning.token_names,
        prompt_token_ids=list(tuning.token_ids),
        prompt_vectors=vectors,
        loss_history=history,
        initial_loss=initial_loss,
        final_loss=final_loss,
    )
    record_prompt_learning(
        model,
        "ptuning",
        args,
        objective,
        prompt_tokens=result.prompt_tokens,
        initial_loss=initial_loss,
        final_loss=final_loss,
    )
    return result

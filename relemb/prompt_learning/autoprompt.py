"""AutoPrompt (Shin et al. 2020) for relation prompts: discrete trigger words found by HotFlip search.

The prompt is ``[T]*n1 <subj> [T]*n2 <obj> [T]*n3 <mask>`` (:class:`TriggerLayout`). Each iteration
takes one trigger slot (round robin) and one batch of relations, with the encoder frozen:

1. the gradient of the loss with respect to the trigger's input embedding (a forward hook on the
   backbone's word-embedding module) is averaged over the batch;
2. every allowed vocabulary token ``v`` is ranked by the first-order loss change
   ``(e_v - e_current) . grad`` and the ``k`` most negative are kept;
3. each candidate template is re-scored on the batch with the real loss; the best replaces the
   current trigger if it lowers the loss.

Trigger slots only hold whole-word tokens that round-trip through the tokenizer in context (BERT:
alphabetic, no ``##``; RoBERTa: ``Ġ``-prefixed alphabetic inside the prompt), so the learned template
is an ordinary template string that retokenizes to exactly the searched ids; this is checked on every
gradient batch and at the end.

>>> from relemb import RelBERT
>>> from relemb.data import load_relation_similarity
>>> from relemb.prompt_learning import PromptLearningArguments, learn_autoprompt
>>> model = RelBERT.from_pretrained("minilm")                                      # doctest: +SKIP
>>> args = PromptLearningArguments(prompt="autoprompt", prompt_iterations=20)      # doctest: +SKIP
>>> result = learn_autoprompt(model, load_relation_similarity("starter"), args)    # doctest: +SKIP
>>> model.template == result.template                                            # doctest: +SKIP
True
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from relemb.pairs import Pair
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
    from torch import nn
    from torch.utils.hooks import RemovableHandle

    from relemb.data import RelationRecord
    from relemb.model import RelBERT
    from relemb.train_config import LossArguments
    from relemb.training import TrainingData

logger = logging.getLogger(__name__)


class TemplateRoundTripError(ValueError):
    """A trigger word of a learned template does not tokenize back to exactly its searched token."""


@dataclass
class CandidateVocabulary:
    """Token ids allowed in a trigger slot, as boolean masks over the vocabulary, and their words.

    ``start`` applies to a trigger that begins the prompt text, ``inner`` to every other slot (the two
    differ for byte-level BPE, where a word after a space is a different token).
    """

    start: Tensor
    inner: Tensor
    words: dict[int, str]

    def allowed(self, starts_text: bool) -> Tensor:
        return self.start if starts_text else self.inner

    def id_of(self, word: str, starts_text: bool) -> int:
        """The token id of ``word`` in a slot of that kind; ``ValueError`` if it is not a candidate."""
        allowed = self.allowed(starts_text)
        for token_id, candidate in self.words.items():
            if candidate == word and bool(allowed[token_id]):
                return token_id
        where = "at the start of the prompt" if starts_text else "inside the prompt"
        raise ValueError(
            f"{word!r} is not a whole-word token of this tokenizer {where} (it would not tokenize to exactly "
            "one alphabetic token); choose another --prompt_initial_token"
        )


def candidate_vocabulary(tokenizer: Any, vocab_size: int | None = None) -> CandidateVocabulary:
    """Whole-word, alphabetic (ASCII) tokens of ``tokenizer`` that round-trip in both slot contexts.

    A token ``t`` with word ``w`` (its decoded text, stripped) is allowed inside the prompt when
    ``" " + w`` tokenizes to exactly ``[t]``, and at the start when ``w`` alone does. Special tokens
    and single letters are excluded.

    >>> from relemb.testing import build_tiny_tokenizer
    >>> vocabulary = candidate_vocabulary(build_tiny_tokenizer("bert"))
    >>> token_id = vocabulary.id_of("the", starts_text=False)
    >>> vocabulary.words[token_id], bool(vocabulary.inner[token_id])
    ('the', True)
    """
    size = int(vocab_size or len(tokenizer))
    special = set(tokenizer.all_special_ids)
    ids, words = [], []
    for token, token_id in tokenizer.get_vocab().items():
        if token_id >= size or token_id in special:
            continue
        word = tokenizer.convert_tokens_to_string([token]).strip()
        if len(word) < 2 or not word.isascii() or not word.isalpha():
            continue
        ids.append(token_id)
        words.append(word)
    start = torch.zeros(size, dtype=torch.bool)
    inner = torch.zeros(size, dtype=torch.bool)
    if ids:
        alone = tokenizer(words, add_special_tokens=False)["input_ids"]
        spaced = tokenizer([" " + w for w in words], add_special_tokens=False)["input_ids"]
        for token_id, a, s in zip(ids, alone, spaced):
            start[token_id] = a == [token_id]
            inner[token_id] = s == [token_id]
    kept = {i: w for i, w in zip(ids, words) if bool(start[i]) or bool(inner[i])}
    if not bool(inner.any()):
        raise ValueError("the tokenizer has no whole-word alphabetic tokens to use as trigger words")
    return CandidateVocabulary(start=start, inner=inner, words=kept)


def trigger_positions(
    model: RelBERT,
    layout: TriggerLayout,
    triggers: Sequence[str],
    trigger_ids: Sequence[int],
    pairs: Sequence[Pair],
    input_ids: Tensor,
) -> Tensor:
    """Token positions ``(batch, n_triggers)`` of the trigger words in the tokenized prompts of ``pairs``.

    Found from the layout (character spans and the tokenizer's offsets), never by id, so repeated
    trigger words are told apart. Raises :class:`TemplateRoundTripError` when a trigger is not exactly
    one token with its searched id, or when the tokenization differs from ``input_ids``.

    Example::

        layout = TriggerLayout(1, 1, 0)
        features = model.encoder.preprocess([("dog", "puppy")], prompt=layout.template(["the", "the"]))
        trigger_positions(model, layout, ["the", "the"], [the_id, the_id], [("dog", "puppy")], features["input_ids"])
        # tensor([[1, 3]]): [CLS] the dog the puppy [MASK] [SEP]
    """
    tokenizer = model.tokenizer
    texts = model.transformer.render(pairs, layout.template(triggers))
    encoded = tokenizer(
        texts,
        return_offsets_mapping=True,
        padding=True,
        truncation=True,
        max_length=model.max_length,
        return_tensors="pt",
    )
    if encoded["input_ids"].shape != input_ids.shape or not torch.equal(encoded["input_ids"], input_ids.cpu()):
        raise RuntimeError("the prompt tokenization with offsets differs from the encoder's own tokenization")
    offsets = encoded["offset_mapping"].tolist()
    positions = torch.empty(len(pairs), layout.n_triggers, dtype=torch.long)
    mask = model.tokenizer.mask_token
    for row, (head, tail) in enumerate(pairs):
        spans = layout.trigger_spans(triggers, head, tail, mask)
        row_offsets = offsets[row]
        ids = encoded["input_ids"][row]
        for slot, (start, end) in enumerate(spans):
            covering = [j for j, (s, e) in enumerate(row_offsets) if e > s and s < end and e > start]
            if len(covering) != 1 or int(ids[covering[0]]) != int(trigger_ids[slot]):
                found = tokenizer.convert_ids_to_tokens([int(ids[j]) for j in covering])
                raise TemplateRoundTripError(
                    f"trigger {slot} {triggers[slot]!r} of the template {layout.template(triggers)!r} tokenizes to "
                    f"{found} in the prompt of {(head, tail)!r}, not to its searched token id {trigger_ids[slot]}"
                )
            positions[row, slot] = covering[0]
    return positions


class EmbeddingGradients:
    """Captures the word-embedding outputs of every forward pass so their gradients can be read.

    A forward hook on ``module`` replaces its output by a detached leaf that requires grad (the
    encoder itself is frozen); after ``backward`` each captured ``(input_ids, embeddings)`` has
    ``embeddings.grad``.
    """

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self.captured: list[tuple[Tensor, Tensor]] = []
        self._handle: RemovableHandle | None = None

    def __enter__(self) -> EmbeddingGradients:
        self._handle = self.module.register_forward_hook(self._hook, with_kwargs=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _hook(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Tensor) -> Tensor:
        leaf = output.detach().requires_grad_(True)
        self.captured.append((input_ids_of(args, kwargs).detach(), leaf))
        return leaf


def hotflip_candidates(gradient: Tensor, embeddings: Tensor, allowed: Tensor, current_id: int, k: int) -> list[int]:
    """The ``k`` allowed token ids whose swap in lowers the loss most to first order.

    ``score(v) = (e_v - e_current) . gradient``; the most negative scores win.

    >>> emb = torch.eye(3)
    >>> hotflip_candidates(torch.tensor([0.0, -1.0, 2.0]), emb, torch.tensor([True, True, True]), 0, 1)
    [1]
    """
    scores = (embeddings.float() - embeddings[current_id].float()) @ gradient.float()
    scores = scores.masked_fill(~allowed.to(scores.device), float("inf"))
    scores[current_id] = float("inf")
    k = min(int(k), int(torch.isfinite(scores).sum()))
    if k <= 0:
        return []
    return torch.topk(-scores, k).indices.tolist()


@dataclass
class AutoPromptResult:
    """What :func:`learn_autoprompt` found.

    ``loss_history[i]`` is the loss of the kept triggers on the batch of iteration ``i`` (after the
    flip, if one was accepted); ``initial_loss``/``final_loss`` are the mean loss over one pass of the
    training data before and after the search.
    """

    template: str
    trigger_tokens: list[str]
    trigger_ids: list[int]
    loss_history: list[float] = field(default_factory=list)
    initial_loss: float = float("nan")
    final_loss: float = float("nan")
    n_flips: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def learn_autoprompt(
    model: RelBERT,
    data: Sequence[RelationRecord] | TrainingData | PromptObjective | Any,
    args: PromptLearningArguments | None = None,
    *,
    loss: nn.Module | LossArguments | None = None,
) -> AutoPromptResult:
    """Search trigger words for ``model`` (encoder frozen) and set ``model.template`` to the result.

    Args:
        model: the relation model; only its template changes.
        data: training relations (``load_relation_similarity(...)``), the trainer's rows
            (``relemb.training.build_datasets(...)`` or its ``.dataset``) or a ready :class:`PromptObjective`.
        args: trigger counts, iterations, candidates, batch size, seed, initial word.
        loss: the fine-tuning loss to learn the prompt on: a ready loss module or
            ``relemb.train_config.LossArguments`` (default ``LossArguments()``), built by
            :func:`relemb.training.build_loss`; not with a ``PromptObjective`` (it has its loss).

    Example::

        result = learn_autoprompt(model, load_relation_similarity("semeval2012"), args,
                                  loss=LossArguments(loss="nce", temperature=0.1))
        print(result.template)   # e.g. 'applications peace <subj> drinking saddam signal <obj> reflective happiness <mask>'
        model.save_pretrained("out")
    """
    args = args or PromptLearningArguments(prompt="autoprompt")
    layout = TriggerLayout(*args.n_triggers)
    objective = resolve_objective(model, data, args, loss)
    vocabulary = candidate_vocabulary(model.tokenizer, token_embedding_matrix(model).shape[0])
    starts = [layout.starts_text(slot) for slot in range(layout.n_triggers)]
    trigger_ids = [vocabulary.id_of(args.prompt_initial_token.strip(), s) for s in starts]
    triggers = [vocabulary.words[i] for i in trigger_ids]
    history: list[float] = []
    n_flips = 0
    with frozen_encoder(model, objective.loss_module):
        initial_loss = objective.full_loss(layout.template(triggers))
        embedding_matrix = token_embedding_matrix(model).detach()
        for iteration in range(args.prompt_iterations):
            slot = iteration % layout.n_triggers
            pairs, labels = objective.batch(iteration)
            gradient, current = _trigger_gradient(model, objective, layout, triggers, trigger_ids, pairs, labels, slot)
            candidates = hotflip_candidates(
                gradient, embedding_matrix, vocabulary.allowed(starts[slot]), trigger_ids[slot], args.prompt_candidates
            )
            best_id, best_loss = None, current
            with torch.no_grad():
                for candidate in candidates:
                    trial = list(triggers)
                    trial[slot] = vocabulary.words[candidate]
                    value = objective.loss(pairs, labels, layout.template(trial)).item()
                    if value < best_loss:
                        best_id, best_loss = candidate, value
            if best_id is not None:
                trigger_ids[slot] = best_id
                triggers[slot] = vocabulary.words[best_id]
                n_flips += 1
            history.append(float(best_loss))
            logger.info(
                "autoprompt %d/%d slot %d: loss %.4f -> %.4f %s",
                iteration + 1,
                args.prompt_iterations,
                slot,
                current,
                best_loss,
                layout.template(triggers),
            )
        template = layout.template(triggers)
        final_loss = objective.full_loss(template)
        pairs, _ = objective.batch(0)
        features = model.encoder.preprocess(pairs, prompt=template)
        trigger_positions(model, layout, triggers, trigger_ids, pairs, features["input_ids"])  # round trip
    model.template = template
    result = AutoPromptResult(
        template=template,
        trigger_tokens=list(triggers),
        trigger_ids=list(trigger_ids),
        loss_history=history,
        initial_loss=initial_loss,
        final_loss=final_loss,
        n_flips=n_flips,
    )
    record_prompt_learning(
        model,
        "autoprompt",
        args,
        objective,
        trigger_tokens=result.trigger_tokens,
        initial_loss=initial_loss,
        final_loss=final_loss,
        n_flips=n_flips,
    )
    return result


def _trigger_gradient(
    model: RelBERT,
    objective: PromptObjective,
    layout: TriggerLayout,
    triggers: list[str],
    trigger_ids: list[int],
    pairs: list[Pair],
    labels: Tensor,
    slot: int,
) -> tuple[Tensor, float]:
    """The batch-mean gradient of the loss w.r.t. the input embedding of trigger ``slot``, and the loss."""
    template = layout.template(triggers)
    features = model.encoder.preprocess(pairs, prompt=template)
    positions = trigger_positions(model, layout, triggers, trigger_ids, pairs, features["input_ids"])
    with EmbeddingGradients(model.transformer.model.get_input_embeddings()) as capture:
        value = objective.loss(pairs, labels, template, features=features)
        value.backward()
    total, count = None, 0
    for input_ids, embeddings in capture.captured:
        if embeddings.grad is None or input_ids.shape != features["input_ids"].shape:
            continue
        if not torch.equal(input_ids.cpu(), features["input_ids"]):
            continue
        rows = torch.arange(len(pairs), device=embeddings.device)
        grads = embeddings.grad[rows, positions[:, slot].to(embeddings.device)]  # (batch, dim)
        total = grads.sum(dim=0) if total is None else total + grads.sum(dim=0)
        count += len(pairs)
    if total is None:
        raise RuntimeError(
            "no gradient reached the trigger embeddings: the loss did not embed the batch through the "
            "backbone's word-embedding module"
        )
    return total / count, float(value.item())

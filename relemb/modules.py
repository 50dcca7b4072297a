"""The two sentence-transformers modules that make an encoder a relation model.

``RelationTransformer`` is an input module: it turns ``(head, tail)`` pairs into prompt text with its
template, tokenizes them with dynamic padding and checks that every word reaches the model as written
(:meth:`RelationTransformer.word_losses`): a head or tail cut off by truncation, a word the tokenizer knows
only as its unknown token, a word that is one of its special tokens, or a word it drops, raises
:class:`LostWordError` (or warns, with ``on_word_loss="warn"``); a truncated mask token always raises
:class:`MaskTruncatedError`. ``RelationPooling`` pools the token embeddings at the mask (``mask``), over all
tokens (``average``) or over all tokens but the mask (``average_no_mask``); always means, never sums.

Both are saved in the checkpoint (``modules.json`` names them) and restored on load.
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import os
import reprlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from sentence_transformers.base.modules import Module, Transformer

from relemb._compat import no_unpadding_kwargs
from relemb.checkpoint import CONFIG_VERSION
from relemb.choices import DEFAULT_POOLING, WORD_LOSS_ACTIONS, check_choice, check_pooling_mode
from relemb.pairs import Pair, check_pairs
from relemb.prompts import (
    RenderedPrompt,
    render_prompt_spans,
    resolve_template,
    span_token_positions,
    validate_template,
)

if TYPE_CHECKING:
    import numpy as np
    from sentence_transformers.base.modules.transformer import ProcessingKwargs
    from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

#: What a relation model does with a pair that would lose a word (:class:`LostWordError`): ``"error"`` (the
#: default) refuses it, ``"warn"`` embeds what is left and says so (:class:`LostWordWarning`).
#: A tokenizer ``model_max_length`` above this is a placeholder for "no limit", not a length.
_NO_LIMIT = 1_000_000
_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 120


class MaskTruncatedError(ValueError):
    """The prompt of a pair is longer than ``max_length`` and truncation removed its mask token."""


class LostWordError(ValueError):
    """A word of a pair would not reach the model as written: cut off by truncation at ``max_length``, known to the
    tokenizer only as its unknown token, one of its special tokens, or dropped by it (no tokens at all)."""


class LostWordWarning(UserWarning):
    """Pairs were embedded although a word of theirs did not reach the model as written (``on_word_loss="warn"``)."""


@dataclass(frozen=True)
class WordLoss:
    """A word of a pair that does not reach the model as written.

    ``index`` is the pair's position among the pairs checked, ``role`` ``"head word"``, ``"tail word"`` or
    ``"mask token"``, ``problem`` one of ``"truncated"``, ``"unknown"``, ``"special"``, ``"dropped"`` and
    ``detail`` says it in words.
    """

    index: int
    pair: Pair
    role: str
    problem: str
    detail: str

    def message(self, index: int | None = None) -> str:
        """One line naming the pair by ``index`` (the caller's numbering; default: :attr:`index`).

        >>> WordLoss(0, ("a", "b"), "tail word", "dropped", "gives no tokens").message(7)
        "pair 7 ('a', 'b'): the tail word gives no tokens"
        """
        where = self.index if index is None else index
        return f"pair {where} {_short.repr(self.pair)}: the {self.role} {self.detail}"


def check_max_length(value: Any, low: int, high: int | None) -> int:
    """``value`` as an int if it is an integer in ``[low, high]`` (``high=None``: no upper bound); else a
    ``ValueError`` naming the range. The one rule for a relation model's ``max_length``
    (:meth:`RelationTransformer.max_length_range` gives the range).

    >>> check_max_length(64, 12, 512)
    64
    >>> check_max_length(0, 12, 512)
    Traceback (most recent call last):
    ...
    ValueError: max_length must be an integer from 12 (what the template needs) to 512 (the model's maximum), got 0
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and low <= int(value):
        if high is None or int(value) <= high:
            return int(value)
    upper = "" if high is None else f" to {high} (the model's maximum)"
    raise ValueError(f"max_length must be an integer from {low} (what the template needs){upper}, got {value!r}")


#: What to do about each kind of :class:`WordLoss`, said after the message of a refused pair.
_REMEDIES = {
    "truncated": "shorten the words or raise max_length",
    "dropped": "write the word with characters that the tokenizer keeps",
    "unknown": "write it with characters this tokenizer knows, or use a model whose tokenizer knows them",
    "special": "a special token is not a word; remove it from the word",
}


def report_word_losses(
    losses: Sequence[WordLoss], on_word_loss: str = "error", indices: Sequence[int] | np.ndarray | None = None
) -> None:
    """Raise :class:`LostWordError` for the first of ``losses`` (``on_word_loss="error"``) or issue one
    :class:`LostWordWarning` for them all (``"warn"``); a truncated mask token raises :class:`MaskTruncatedError`
    either way (there is nothing to pool at). A pair is named by ``indices[loss.index]`` (the caller's numbering)
    when given.

    >>> report_word_losses([WordLoss(0, ("[SEP]", "b"), "head word", "special", "is the special token '[SEP]'")], indices=[4])
    Traceback (most recent call last):
    ...
    relemb.modules.LostWordError: pair 4 ('[SEP]', 'b'): the head word is the special token '[SEP]'; a special token is not a word; remove it from the word, or pass on_word_loss='warn' (--on-word-loss warn) to embed the pair anyway
    """
    action = check_choice(on_word_loss, WORD_LOSS_ACTIONS, "on_word_loss")

    def message(loss: WordLoss) -> str:
        return loss.message(None if indices is None else int(indices[loss.index]))

    for loss in losses:
        if loss.role == "mask token":
            raise MaskTruncatedError(
                f"{message(loss)}: the words are too long for the template; {_REMEDIES['truncated']}"
            )
    if not losses:
        return
    if action == "error":
        first = losses[0]
        raise LostWordError(
            f"{message(first)}; {_REMEDIES[first.problem]}, or pass on_word_loss='warn' (--on-word-loss warn) to embed the pair anyway"
        )
    shown = "; ".join(message(loss) for loss in losses[:3])
    more = f"; and {len(losses) - 3} more" if len(losses) > 3 else ""
    warnings.warn(
        f"{len(losses)} pair(s) embedded without all their words as written (on_word_loss='warn'): {shown}{more}",
        LostWordWarning,
        stacklevel=3,
    )


class RelationTransformer(Transformer):
    """A :class:`~sentence_transformers.base.modules.Transformer` whose inputs are word pairs.

    Args:
        model_name_or_path: a transformers encoder checkpoint (Hub id or local folder).
        template: a template id (``a``-``e``) or a template string with ``<subj>``, ``<obj>``, ``<mask>``.
        max_seq_length: truncation length in tokens (RelBERT uses 64), checked by :func:`check_max_length`;
            default: the tokenizer's, at most the model's maximum.
        on_word_loss: ``"error"`` (default) or ``"warn"``: what :meth:`preprocess` does with a pair that loses
            a word (:meth:`word_losses`). Not saved with the model; ``RelBERT.get_embedding`` takes it per call.
        **kwargs: passed to ``Transformer`` (``model_kwargs``, ``processor_kwargs``, ``backend`` ...).

    Example::

        module = RelationTransformer("path/to/encoder", template="d", max_seq_length=64)
        features = module.preprocess([("Tokyo", "Japan")])
    """

    config_keys: list[str] = [*Transformer.config_keys, "template"]
    #: Key of the saved module config that records the relemb checkpoint format (:data:`CONFIG_VERSION`). It is
    #: a marker, not an option: :meth:`get_config_dict` writes it, :meth:`load_config` checks and removes it.
    VERSION_KEY = "relemb_config_version"

    def __init__(
        self, model_name_or_path: str, *, template: str | None = None, on_word_loss: str = "error", **kwargs: Any
    ) -> None:
        self.template = resolve_template(template)
        self.on_word_loss = check_choice(on_word_loss, WORD_LOSS_ACTIONS, "on_word_loss")
        self._skip_word_check = False
        # checked and set once the tokenizer is there (configure), so a bad value gets the one clear message
        requested_length = kwargs.pop("max_seq_length", None)
        # Pooling needs the padded (batch, seq, dim) layout; flash-attention unpadding would flatten it.
        kwargs.update(no_unpadding_kwargs())
        super().__init__(model_name_or_path, **kwargs)
        if self.tokenizer is None or self.tokenizer.mask_token is None:
            raise ValueError(
                f"the tokenizer of {model_name_or_path!r} has no mask token; relation prompts need one "
                "(BERT's [MASK], RoBERTa's <mask>)"
            )
        if not self.tokenizer.is_fast:
            logger.warning(
                "the tokenizer of %r is not a fast tokenizer (no character offsets): relemb cannot check that the "
                "head and tail words survive tokenization and truncation, only the mask token",
                model_name_or_path,
            )
        if requested_length is None:  # the tokenizer's own limit, at most what the model can take
            high = self.max_length_range()[1]
            if high is not None and self._text_tokenizer().model_max_length > high:
                self._text_tokenizer().model_max_length = high
        self.configure(
            template=self.template, max_seq_length=self.max_seq_length if requested_length is None else requested_length
        )

    def _text_tokenizer(self) -> PreTrainedTokenizerBase:
        tokenizer = self.tokenizer
        assert tokenizer is not None, "__init__ refuses a model without a tokenizer"
        return tokenizer

    @property
    def mask_token(self) -> str:
        return self._text_tokenizer().mask_token

    @property
    def mask_token_id(self) -> int:
        return self._text_tokenizer().mask_token_id

    # ------------------------------------------------------------------------------ template and length
    @property
    def max_seq_length(self) -> int:
        """The truncation length in tokens (the tokenizer's ``model_max_length``); setting it checks it
        (:func:`check_max_length` on :meth:`max_length_range`)."""
        return int(self._text_tokenizer().model_max_length)

    @max_seq_length.setter
    def max_seq_length(self, value: Any) -> None:
        self.configure(max_seq_length=value)

    def set_template(self, template: str) -> None:
        """Replace the template (an id or a template string), checked against this tokenizer
        (:meth:`configure`)."""
        self.configure(template=template)

    def configure(self, *, template: str | None = None, max_seq_length: Any = None) -> None:
        """Set the template and/or the max length together, after checking them with each other and with the
        tokenizer: the template must not write the mask token literally and must give exactly one mask token,
        and ``max_seq_length`` must lie in :meth:`max_length_range` of the (new) template. Nothing changes when
        a check fails. ``None`` keeps the current value."""
        template = self.template if template is None else resolve_template(template, self.mask_token)
        low, high = self.max_length_range(template)
        length = self.max_seq_length if max_seq_length is None else max_seq_length
        if max_seq_length is None and not low <= length:
            raise ValueError(
                f"the template {template!r} needs at least {low} tokens, more than max_length={length}; "
                f"raise max_length (up to {high}) first, or set both together"
            )
        length = check_max_length(length, low, high)
        self.template = template
        self._text_tokenizer().model_max_length = length

    def max_length_range(self, template: str | None = None) -> tuple[int, int | None]:
        """The allowed ``max_length`` for ``template`` (default: this module's): from the tokens of the template
        filled with one-letter words, special tokens included (``template`` is checked to give exactly one mask
        token), to the model's maximum: its position embeddings less any offset (RoBERTa's 2), else the
        tokenizer's own limit; ``None`` where neither is known."""
        template = self.template if template is None else template
        tokenizer = self._text_tokenizer()
        prompt = render_prompt_spans(template, "a", "b", self.mask_token)
        ids = tokenizer(prompt.text, add_special_tokens=True, verbose=False)["input_ids"]
        masks = sum(1 for token in ids if token == self.mask_token_id)
        if masks != 1:
            raise ValueError(
                f"the template {template!r} gives {masks} mask tokens with this tokenizer instead of one: does it "
                f"write the mask token {self.mask_token!r} literally? Write the placeholder <mask> once"
            )
        return len(ids), self._max_positions()

    def _max_positions(self) -> int | None:
        config = getattr(self.model, "config", None)
        positions = getattr(config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 0:
            return positions - self._position_offset()
        limit = self._text_tokenizer().init_kwargs.get("model_max_length")
        return int(limit) if isinstance(limit, int) and 0 < limit < _NO_LIMIT else None

    def _position_offset(self) -> int:
        """Positions a model's learned position table reserves before the first token: RoBERTa-family
        embeddings (a ``padding_idx`` beside ``position_embeddings``) start at ``padding_idx + 1``."""
        modules = getattr(self.model, "modules", None)  # a torch model; the ONNX/OpenVINO ones have none
        for module in modules() if callable(modules) else ():
            padding_idx = getattr(module, "padding_idx", None)
            if isinstance(padding_idx, int) and isinstance(
                getattr(module, "position_embeddings", None), torch.nn.Embedding
            ):
                return padding_idx + 1
        return 0

    # ------------------------------------------------------------------------------ prompts and checks
    def render(self, pairs: Sequence[Sequence[str]], template: str | None = None) -> list[str]:
        """The prompt texts of ``pairs``; raises ``TypeError``/``ValueError`` naming a bad item and its index."""
        return [prompt.text for prompt in self.render_spans(pairs, template)[1]]

    def render_spans(
        self, pairs: Sequence[Sequence[str]], template: str | None = None
    ) -> tuple[list[Pair], list[RenderedPrompt]]:
        """``pairs`` checked (:func:`relemb.pairs.check_pairs`) and their prompts with the character spans of
        the words (:func:`relemb.prompts.render_prompt_spans`)."""
        template = self.template if template is None else validate_template(template, self.mask_token)
        checked = check_pairs(pairs, mask_token=self.mask_token)
        return checked, [render_prompt_spans(template, head, tail, self.mask_token) for head, tail in checked]

    def word_losses(
        self, pairs: Sequence[Sequence[str]], template: str | None = None, *, kept: Sequence[int] | None = None
    ) -> list[WordLoss]:
        """The words of ``pairs`` that would not reach the model as written, at most one per pair, in order.

        The prompts are tokenized in full (no special tokens, no truncation) and each word is found among the
        tokens by its character span: a word with a token beyond the ``kept`` tokens of its prompt (default:
        what ``max_length`` keeps) is ``"truncated"``; a word with no token is ``"dropped"``; a word whose
        tokens are all the unknown token is ``"unknown"``; a word with a special token (``[SEP]``, ``<s>``...) is
        ``"special"``. A truncated mask token is reported as the role ``"mask token"``. A tokenizer without
        character offsets (not a fast one) reports nothing.

        >>> module.word_losses([("tokyo", "japan"), ("\U0001f600", "dog")])[0].problem  # doctest: +SKIP
        'unknown'
        """
        checked, prompts = self.render_spans(pairs, template)
        tokenizer = self._text_tokenizer()
        if not prompts or not tokenizer.is_fast:
            return []
        encoded = tokenizer(
            [prompt.text for prompt in prompts],
            add_special_tokens=False,
            truncation=False,
            return_offsets_mapping=True,
            verbose=False,
        )
        n_special = tokenizer.num_special_tokens_to_add(pair=False)
        if kept is None:
            kept = [self.max_seq_length - n_special] * len(prompts)
        unknown = tokenizer.unk_token_id
        special = set(tokenizer.all_special_ids) | {
            token_id for token_id, token in tokenizer.added_tokens_decoder.items() if token.special
        }
        special.discard(unknown)
        left = tokenizer.truncation_side == "left"
        losses = []
        for index, (pair, prompt, ids, offsets, keep) in enumerate(
            zip(checked, prompts, encoded["input_ids"], encoded["offset_mapping"], kept)
        ):
            first = max(0, len(ids) - int(keep)) if left else 0
            last = first + int(keep)
            for role, spans in (("mask token", prompt.mask), ("head word", prompt.head), ("tail word", prompt.tail)):
                positions = span_token_positions(offsets, spans)
                problem, detail = "", ""
                if any(not first <= position < last for position in positions):
                    problem = "truncated"
                    detail = (
                        f"is cut off by truncation at max_length={int(keep) + n_special} (the prompt has "
                        f"{len(ids) + n_special} tokens)"
                    )
                elif role == "mask token":
                    continue
                elif not positions:
                    problem, detail = "dropped", "gives no tokens: the tokenizer drops every character of it"
                elif any(ids[position] in special for position in positions):
                    tokens = [tokenizer.convert_ids_to_tokens(ids[p]) for p in positions if ids[p] in special]
                    is_or_has = "is" if len(tokens) == len(positions) else "contains"
                    problem, detail = "special", f"{is_or_has} the tokenizer's special token {tokens[0]!r}"
                elif unknown is not None and all(ids[position] == unknown for position in positions):
                    problem = "unknown"
                    detail = f"is unknown to the tokenizer: every token of it is {tokenizer.unk_token!r}"
                if problem:
                    losses.append(WordLoss(index, pair, role, problem, detail))
                    break
        return losses

    def check_words(
        self,
        pairs: Sequence[Sequence[str]],
        template: str | None = None,
        *,
        on_word_loss: str | None = None,
        indices: Sequence[int] | np.ndarray | None = None,
        kept: Sequence[int] | None = None,
    ) -> None:
        """Raise (``on_word_loss="error"``, default: this module's :attr:`on_word_loss`) or warn (``"warn"``,
        :class:`LostWordWarning`, one warning for all) about the words of ``pairs`` that :meth:`word_losses`
        finds; a truncated mask token always raises :class:`MaskTruncatedError`. Messages name a pair by
        ``indices[i]`` (the caller's numbering; default: its position in ``pairs``)."""
        action = self.on_word_loss if on_word_loss is None else on_word_loss
        report_word_losses(self.word_losses(pairs, template, kept=kept), action, indices)

    @contextlib.contextmanager
    def words_checked(self) -> Iterator[None]:
        """Within it, :meth:`preprocess` does not run :meth:`check_words`: for a caller that checked its pairs
        already (``RelBERT.get_embedding`` checks every pair up front, naming the user's indices)."""
        previous, self._skip_word_check = self._skip_word_check, True
        try:
            yield
        finally:
            self._skip_word_check = previous

    def preprocess(
        self,
        inputs: Sequence[Any],
        prompt: str | None = None,
        processing_kwargs: ProcessingKwargs | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Render pairs into prompts and tokenize them, padded to the longest in the batch.

        ``prompt``, when given (e.g. a named prompt from the model's ``prompts``), is used as the template;
        ``processing_kwargs`` and ``kwargs`` go to ``Transformer.preprocess``. The words are checked
        (:meth:`check_words`, with :attr:`on_word_loss`): by default a pair that loses a word raises
        :class:`LostWordError`, and one whose mask token was truncated :class:`MaskTruncatedError`.
        """
        if not inputs:
            return {}
        texts = self.render(inputs, template=prompt)
        features = super().preprocess(texts, processing_kwargs=processing_kwargs, **kwargs)
        input_ids = features["input_ids"]
        if not self._skip_word_check:
            mask = features.get("attention_mask")
            n_special = self._text_tokenizer().num_special_tokens_to_add(pair=False)
            kept = None if mask is None else [int(n) - n_special for n in mask.sum(dim=1).tolist()]
            self.check_words(inputs, prompt, kept=kept)
        n_masks = (input_ids == self.mask_token_id).sum(dim=1)
        if not bool((n_masks == 1).all()):
            index = int(torch.nonzero(n_masks != 1)[0, 0])
            limit = self.max_seq_length
            raise MaskTruncatedError(
                f"the prompt of pair {index} {tuple(inputs[index])!r} does not keep exactly one mask token "
                f"after tokenization ({int(n_masks[index])} found; max_length={limit}): the words are too long "
                "for the template; shorten them or raise max_length"
            )
        return features

    def get_config_dict(self) -> dict[str, Any]:
        """The module config saved in ``sentence_bert_config.json``: sentence-transformers' keys, the template,
        and the format marker :attr:`VERSION_KEY`."""
        config = super().get_config_dict()
        config["template"] = self.template
        config[self.VERSION_KEY] = CONFIG_VERSION
        return config

    @classmethod
    def load_config(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The saved module config as ``__init__`` arguments: the format marker :attr:`VERSION_KEY` is removed
        (a newer one is logged), so checkpoints of every relemb version load.

        >>> RelationTransformer.VERSION_KEY in RelationTransformer.load_config("./no/such/checkpoint")
        False
        """
        config = super().load_config(*args, **kwargs)
        version = config.pop(cls.VERSION_KEY, None)
        if isinstance(version, int) and version > CONFIG_VERSION:
            logger.warning(
                "this checkpoint's RelationTransformer config has %s %s, newer than this relemb's %s: "
                "loading the options it knows",
                cls.VERSION_KEY,
                version,
                CONFIG_VERSION,
            )
        return config

    def __repr__(self) -> str:
        return f"RelationTransformer(template={self.template!r}, architecture={self.model.__class__.__name__})"


class RelationPooling(Module):
    """Pool token embeddings into a relation embedding.

    Modes: ``mask`` (the hidden state at the mask token), ``average`` (mean over non-pad tokens) and
    ``average_no_mask`` (mean over non-pad tokens except the mask).

    Args:
        embedding_dimension: the encoder's hidden size.
        mask_token_id: the id of the tokenizer's mask token.
        pooling_mode: one of :data:`POOLING_MODES`.
    """

    config_keys: list[str] = ["embedding_dimension", "mask_token_id", "pooling_mode"]
    config_file_name: str = "config.json"

    def __init__(self, embedding_dimension: int, mask_token_id: int, pooling_mode: str = DEFAULT_POOLING) -> None:
        super().__init__()
        self.embedding_dimension = int(embedding_dimension)
        self.mask_token_id = int(mask_token_id)
        self.pooling_mode = check_pooling_mode(pooling_mode)

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        token_embeddings = features["token_embeddings"]
        attention_mask = features["attention_mask"].to(token_embeddings.dtype)
        is_mask = features["input_ids"] == self.mask_token_id
        features["sentence_embedding"] = pool(token_embeddings, attention_mask, is_mask, self.pooling_mode)
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return self.embedding_dimension

    def get_embedding_dimension(self) -> int:
        return self.embedding_dimension

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        os.makedirs(output_path, exist_ok=True)
        self.save_config(output_path)

    def __repr__(self) -> str:
        return f"RelationPooling(pooling_mode={self.pooling_mode!r}, dim={self.embedding_dimension})"


def pool(
    token_embeddings: torch.Tensor, attention_mask: torch.Tensor, is_mask: torch.Tensor, mode: str
) -> torch.Tensor:
    """Pool ``(batch, seq, dim)`` token embeddings; ``is_mask`` marks the mask token of each row.

    >>> emb = torch.tensor([[[1.0], [2.0], [6.0], [0.0]]])
    >>> am = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    >>> ism = torch.tensor([[False, True, False, False]])
    >>> [pool(emb, am, ism, m).item() for m in ("mask", "average", "average_no_mask")]
    [2.0, 3.0, 3.5]
    """
    if mode == "mask":
        weights = is_mask.to(token_embeddings.dtype)
    elif mode == "average":
        weights = attention_mask
    elif mode == "average_no_mask":
        weights = attention_mask * (~is_mask).to(token_embeddings.dtype)
    else:
        check_pooling_mode(mode)
    weights = weights.unsqueeze(-1)
    total = (token_embeddings * weights).sum(dim=1)
    return total / weights.sum(dim=1).clamp(min=1e-9)

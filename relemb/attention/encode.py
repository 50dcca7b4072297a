"""Attention weights of a relation prompt or a sentence, with the head, tail and mask token positions.

Everything in :mod:`relemb.attention` starts here. An :class:`AttentionInput` is a text plus the
character spans of the head word, the tail word and (in a prompt) the mask token; an
:class:`AttentionEncoder` runs any relemb model or plain transformers encoder with eager attention
(the only implementation that returns attention weights) in batches and yields one
:class:`EncodedInput` per text: the per-layer, per-head attention matrices without padding, the
tokens, and which token positions belong to the head, tail and mask.

Example::

    encoder = AttentionEncoder.from_pretrained("minilm")           # template d, as relemb embeds
    item = next(encoder.encode(encoder.inputs_from_pairs([("camera", "photographer")])))
    item.attentions.shape                                           # (layers, heads, tokens, tokens)
    item.tokens[item.head_positions[0]], item.tokens[item.tail_positions[0]]   # ('camera', 'photographer')

>>> x = AttentionInput.from_pair("Tokyo", "Japan", "<subj> is the <mask> of <obj>", mask_token="[MASK]")
>>> x.text, [x.text[a:b] for a, b in x.head], [x.text[a:b] for a, b in x.mask]
('Tokyo is the [MASK] of Japan', ['Tokyo'], ['[MASK]'])
>>> AttentionInput.from_sentence("The cat chased a mouse.", "cat", "mouse").tail
((17, 22),)
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relemb.data.records import is_random_label
from relemb.pairs import Pair, check_pair, check_pairs, check_word
from relemb.prompts import Span, render_prompt_spans, resolve_template

__all__ = [
    "CONTINUATION_MARK",
    "WORD_START_MARKS",
    "AttentionEncoder",
    "AttentionInput",
    "EncodedInput",
    "Span",
    "check_attentions",
    "display_token",
    "is_random_label",
    "word_groups",
]


#: The mark WordPiece puts on a token that continues a word (``play ##ing``).
CONTINUATION_MARK = "##"
#: The marks byte-level BPE (``Ġ``) and SentencePiece (``▁``) put on a token that starts a word.
WORD_START_MARKS = ("\u0120", "\u2581")


def _check_spans(text: str, spans: Sequence[Span], role: str) -> tuple[Span, ...]:
    checked = []
    for span in spans:
        if len(span) != 2:
            raise ValueError(f"{role} span {span!r} is not a (start, end) pair")
        start, end = int(span[0]), int(span[1])
        if not 0 <= start < end <= len(text):
            raise ValueError(f"{role} span {span!r} is empty or outside the text of {len(text)} characters: {text!r}")
        checked.append((start, end))
    return tuple(checked)


@dataclass(frozen=True)
class AttentionInput:
    """A text and the character spans of its head word, tail word and (optionally) mask token.

    A word may occur more than once (templates a and b name the pair twice); all its spans count as
    the word. Build one with :meth:`from_pair` (a relation prompt) or :meth:`from_sentence`. ``pair``, the
    ``(head, tail)`` words when known, is checked by :func:`relemb.pairs.check_pair`.
    """

    text: str
    head: tuple[Span, ...]
    tail: tuple[Span, ...]
    mask: tuple[Span, ...] = ()
    pair: Pair | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"the text is empty: {self.text!r}")
        object.__setattr__(self, "head", _check_spans(self.text, self.head, "head"))
        object.__setattr__(self, "tail", _check_spans(self.text, self.tail, "tail"))
        object.__setattr__(self, "mask", _check_spans(self.text, self.mask, "mask"))
        if not self.head or not self.tail:
            raise ValueError(f"an attention input needs a head span and a tail span: {self.text!r}")
        if len(self.mask) > 1:
            raise ValueError(f"at most one mask span is allowed, got {len(self.mask)}: {self.text!r}")
        if self.pair is not None:
            object.__setattr__(self, "pair", check_pair(self.pair, name="pair"))
        taken = sorted([*self.head, *self.tail, *self.mask])
        for (_, end), (start, _) in zip(taken, taken[1:]):
            if start < end:
                raise ValueError(f"the head, tail and mask spans overlap in {self.text!r}: {taken}")

    @classmethod
    def from_pair(cls, head: str, tail: str, template: str | None, mask_token: str) -> AttentionInput:
        """The relation prompt of ``(head, tail)``: ``template`` (an id a-e, a string, ``None`` for d)
        filled in by :func:`relemb.prompts.render_prompt_spans`, with the spans of every ``<subj>``,
        ``<obj>`` and the ``<mask>``.

        >>> x = AttentionInput.from_pair("cat", "animal", "a", "[MASK]")    # template a names the pair twice
        >>> [x.text[a:b] for a, b in x.head], x.pair
        (['cat', 'cat'], ('cat', 'animal'))
        """
        prompt = render_prompt_spans(resolve_template(template), head, tail, mask_token)
        return cls(prompt.text, prompt.head, prompt.tail, prompt.mask, pair=(head, tail))

    @classmethod
    def from_sentence(
        cls, text: str, head: str | Span | Sequence[Span], tail: str | Span | Sequence[Span]
    ) -> AttentionInput:
        """A sentence with the head and tail given as character spans, or as words (their first
        whole-word occurrence, case-sensitive).

        >>> x = AttentionInput.from_sentence("A cat, a catfish.", "catfish", (2, 5))
        >>> x.head, x.tail, x.mask
        (((9, 16),), ((2, 5),), ())
        """

        def locate(value: Any, role: str) -> tuple[Span, ...]:
            if isinstance(value, str):
                word = check_word(value, f"{role} word")
                match = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text)
                if match is None:
                    raise ValueError(f"the {role} word {word!r} does not occur as a word in {text!r}")
                return ((match.start(), match.end()),)
            if len(value) == 2 and all(isinstance(v, (int, np.integer)) for v in value):
                return ((int(value[0]), int(value[1])),)
            return tuple(tuple(v) for v in value)

        return cls(text, locate(head, "head"), locate(tail, "tail"))


@dataclass
class EncodedInput:
    """One encoded text: attention weights ``(layers, heads, tokens, tokens)`` (rows attend, columns are
    attended; padding removed), optional hidden states ``(layers + 1, tokens, dim)`` (embeddings first),
    and the token positions of the head, tail, mask and framing special tokens (CLS/SEP, <s>/</s>).

    ``word_ids`` maps each token to its word in the text (``None`` for special tokens), as the fast
    tokenizer's pre-tokenizer splits words (:func:`word_groups` turns them into the tokens of each word);
    ``offsets`` ``(tokens, 2)`` are the tokens' character spans in the text (``(0, 0)`` for special tokens).
    """

    input: AttentionInput
    tokens: list[str]
    attentions: np.ndarray
    head_positions: np.ndarray
    tail_positions: np.ndarray
    mask_positions: np.ndarray
    special_positions: np.ndarray
    word_ids: list[int | None]
    hidden_states: np.ndarray | None = None
    offsets: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        """Layers of the attention weights."""
        return int(self.attentions.shape[0])

    @property
    def n_heads(self) -> int:
        """Heads per layer."""
        return int(self.attentions.shape[1])

    @property
    def n_tokens(self) -> int:
        """Tokens of the text, special tokens included (no padding)."""
        return int(self.attentions.shape[-1])


def word_groups(word_ids: Sequence[int | None]) -> list[tuple[int, ...]]:
    """The token positions of each word, in token order: the one rule of :mod:`relemb.attention` for which
    tokens make a word (word-level attention, word scores of a trace).

    A word is a run of **consecutive** tokens with the same word id; every token whose word id is ``None``
    (a special token: CLS/SEP, <s>/</s>) is a word of its own. A word id that comes back after other tokens
    starts a new word: a fast tokenizer numbers the words of each text from 0, so in a text pair (or in
    hand-built ids) the same id can name two different words, never one word split apart.

    >>> word_groups([None, 0, 0, 1, None])
    [(0,), (1, 2), (3,), (4,)]
    >>> word_groups([None, 0, 0, 1, None, 0, 0, None])    # a second text, numbered from 0 again
    [(0,), (1, 2), (3,), (4,), (5, 6), (7,)]
    """
    groups: list[list[int]] = []
    previous: int | None = None  # the word id of the last token, None after a special token
    for position, word in enumerate(word_ids):
        if word is None:
            groups.append([position])
            previous = None
            continue
        if isinstance(word, (bool, np.bool_)) or not isinstance(word, (int, np.integer)):
            raise TypeError(f"the word id at position {position} must be an int or None, got {word!r}")
        if previous == int(word):
            groups[-1].append(position)
        else:
            groups.append([position])
        previous = int(word)
    return [tuple(group) for group in groups]


def display_token(token: str) -> str:
    """A token as a label: without the byte-level BPE ``Ġ`` or SentencePiece ``▁`` word-start mark (a
    bare mark is kept, so no label is empty).

    >>> display_token("\u0120camera"), display_token("##ing"), display_token("\u0120")
    ('camera', '##ing', 'Ġ')
    """
    for mark in WORD_START_MARKS:
        if token.startswith(mark) and len(token) > len(mark):
            return token[len(mark) :]
    return token


def check_attentions(attentions: Any) -> np.ndarray:
    """``attentions`` as an array (dtype kept) after checking that it is ``(layers, heads, tokens, tokens)``
    with at least one of each and square attention matrices; ``ValueError`` otherwise.

    >>> check_attentions(np.full((2, 1, 3, 3), 1 / 3)).shape
    (2, 1, 3, 3)
    >>> check_attentions(np.ones((1, 1, 3, 4)))
    Traceback (most recent call last):
    ...
    ValueError: attention matrices must be square (tokens, tokens), got shape (1, 1, 3, 4)
    """
    array = np.asarray(attentions)
    if array.ndim != 4:
        raise ValueError(f"attentions must have shape (layers, heads, tokens, tokens), got shape {array.shape}")
    if array.shape[-1] != array.shape[-2]:
        raise ValueError(f"attention matrices must be square (tokens, tokens), got shape {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"attentions must have at least one layer, head and token, got shape {array.shape}")
    return array


def _positions(offsets: np.ndarray, candidates: np.ndarray, spans: Sequence[Span]) -> np.ndarray:
    """Token positions (among ``candidates``) whose character range overlaps one of ``spans``."""
    found = []
    for position in candidates:
        start, end = offsets[position]
        if end > start and any(start < span_end and end > span_start for span_start, span_end in spans):
            found.append(int(position))
    return np.asarray(found, dtype=np.int64)


class AttentionEncoder:
    """Runs an encoder with eager attention and returns attention weights per text.

    Args:
        model: a transformers encoder (``AutoModel``); switched to eager attention.
        tokenizer: its fast tokenizer (offsets and word ids are needed).
        template: the prompt template of :meth:`inputs_from_pairs` (an id a-e or a string; default d).
        max_length: truncation length in tokens; a head, tail or mask cut off raises ``ValueError``.
        name: a label for results and figures.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        template: str | None = None,
        max_length: int = 128,
        name: str | None = None,
    ) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("attention analysis needs a fast tokenizer (character offsets and word ids)")
        if max_length < 4:
            raise ValueError(f"max_length must be at least 4 tokens, got {max_length}")
        _use_eager_attention(model)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.template = resolve_template(template)
        self.max_length = int(max_length)
        self.name = name or getattr(model.config, "_name_or_path", None) or type(model).__name__
        framing = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id}
        self._framing_ids = {i for i in framing if i is not None}

    # -------------------------------------------------------------------------------- construction
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        *,
        template: str | None = None,
        max_length: int | None = None,
        device: str | None = None,
        **kwargs: Any,
    ) -> AttentionEncoder:
        """Load a relemb model, a plain encoder folder, a Hub id or ``minilm`` (the embedded all-MiniLM-L6-v2).

        The template and max length default to the model's own (relemb checkpoints store them).

        >>> encoder = AttentionEncoder.from_pretrained("minilm", device="cpu")   # doctest: +SKIP
        >>> encoder.n_layers, encoder.n_heads                                   # doctest: +SKIP
        (6, 12)
        """
        from relemb import RelBERT

        relbert = RelBERT.from_pretrained(
            name_or_path, template=template, max_length=max_length, device=device, **kwargs
        )
        return cls.from_relbert(relbert, name=str(name_or_path))

    @classmethod
    def from_relbert(cls, model: Any, *, name: str | None = None) -> AttentionEncoder:
        """Share the encoder of a loaded :class:`~relemb.RelBERT` (switched to eager attention).

        >>> from relemb import RelBERT                                               # doctest: +SKIP
        >>> encoder = AttentionEncoder.from_relbert(RelBERT.from_pretrained("minilm"))   # doctest: +SKIP
        """
        return cls(
            model.transformer.auto_model,
            model.tokenizer,
            template=model.template,
            max_length=max(model.max_length, 4),
            name=name or model.config.base_model,
        )

    def random_control(self, seed: int = 0) -> AttentionEncoder:
        """A copy with the same architecture and tokenizer but randomly initialised weights (the control
        of a probe: what it finds there comes from the inputs and the architecture, not from training).

        >>> control = encoder.random_control(seed=0)                 # doctest: +SKIP
        >>> control.name                                             # doctest: +SKIP
        'minilm (random init)'
        """
        import torch
        from transformers import AutoModel

        config = copy.deepcopy(self.model.config)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = AutoModel.from_config(config, attn_implementation="eager")
        model.to(self.device)
        return AttentionEncoder(
            model, self.tokenizer, template=self.template, max_length=self.max_length, name=f"{self.name} (random init)"
        )

    @property
    def device(self) -> Any:
        """The ``torch.device`` of the model's weights."""
        return next(self.model.parameters()).device

    @property
    def n_layers(self) -> int:
        """The encoder's layers (``config.num_hidden_layers``)."""
        return int(self.model.config.num_hidden_layers)

    @property
    def n_heads(self) -> int:
        """Attention heads per layer (``config.num_attention_heads``)."""
        return int(self.model.config.num_attention_heads)

    # -------------------------------------------------------------------------------------- inputs
    def inputs_from_pairs(self, pairs: Iterable[Sequence[str]], template: str | None = None) -> list[AttentionInput]:
        """Relation prompts of ``pairs`` (the encoder's template unless ``template`` is given), the pairs
        checked by :func:`relemb.pairs.check_pairs` (errors name the pair's index).

        >>> encoder.inputs_from_pairs([("camera", "photographer")])[0].pair      # doctest: +SKIP
        ('camera', 'photographer')
        """
        template = self.template if template is None else template
        inputs = []
        mask_token = self.tokenizer.mask_token
        for head, tail in check_pairs(pairs, mask_token=mask_token):
            inputs.append(AttentionInput.from_pair(head, tail, template, mask_token))
        return inputs

    # ------------------------------------------------------------------------------------ encoding
    def encode(
        self,
        inputs: Sequence[AttentionInput],
        *,
        batch_size: int = 32,
        output_hidden_states: bool = False,
        show_progress_bar: bool = False,
    ) -> Iterator[EncodedInput]:
        """Yield one :class:`EncodedInput` per input, in order, computing ``batch_size`` texts at a time.

        Raises ``ValueError`` naming the input when truncation cuts off its head, tail or mask.

        >>> (item,) = encoder.encode(encoder.inputs_from_pairs([("camera", "photographer")]))   # doctest: +SKIP
        >>> [item.tokens[p] for p in item.head_positions]                                     # doctest: +SKIP
        ['camera']
        """
        import torch
        from tqdm.auto import tqdm

        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        inputs = list(inputs)
        for index, item in enumerate(inputs):
            if not isinstance(item, AttentionInput):
                raise TypeError(f"input {index} is a {type(item).__name__}, not an AttentionInput")
        bar = tqdm(total=len(inputs), desc="attention", unit="text", disable=not show_progress_bar)
        try:
            for first in range(0, len(inputs), batch_size):
                chunk = inputs[first : first + batch_size]
                batch = self.tokenizer(
                    [item.text for item in chunk],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_offsets_mapping=True,
                    return_tensors="pt",
                )
                offsets = batch.pop("offset_mapping").numpy()
                model_inputs = {k: v.to(self.device) for k, v in batch.items()}
                with torch.inference_mode():
                    output = self.model(
                        **model_inputs,
                        output_attentions=True,
                        output_hidden_states=output_hidden_states,
                        return_dict=True,
                    )
                if output.attentions is None or len(output.attentions) == 0:
                    raise RuntimeError(f"{self.name} returned no attention weights; it needs eager attention")
                attentions = torch.stack(output.attentions, dim=1).float().cpu().numpy()  # (B, L, H, T, T)
                hidden = None
                if output_hidden_states:
                    hidden = torch.stack(output.hidden_states, dim=1).float().cpu().numpy()  # (B, L+1, T, D)
                lengths = batch["attention_mask"].sum(dim=1).tolist()
                ids = batch["input_ids"].numpy()
                for row, item in enumerate(chunk):
                    yield self._item(
                        item,
                        first + row,
                        ids[row, : lengths[row]],
                        offsets[row, : lengths[row]],
                        batch.word_ids(row)[: lengths[row]],
                        attentions[row, :, :, : lengths[row], : lengths[row]],
                        None if hidden is None else hidden[row, :, : lengths[row]],
                    )
                bar.update(len(chunk))
        finally:
            bar.close()

    def _item(
        self,
        item: AttentionInput,
        index: int,
        ids: np.ndarray,
        offsets: np.ndarray,
        word_ids: list[int | None],
        attentions: np.ndarray,
        hidden: np.ndarray | None,
    ) -> EncodedInput:
        special = np.asarray([i for i, t in enumerate(ids) if int(t) in self._framing_ids], dtype=np.int64)
        regular = np.asarray([i for i in range(len(ids)) if i not in set(special.tolist())], dtype=np.int64)
        found = {}
        for role, spans in (("head", item.head), ("tail", item.tail), ("mask", item.mask)):
            found[role] = _positions(offsets, regular, spans)
            if spans and len(found[role]) == 0:
                what = f"pair {item.pair!r}" if item.pair else repr(item.text)
                raise ValueError(
                    f"input {index} ({what}): the {role} was truncated away at max_length={self.max_length} tokens; "
                    "shorten the text or raise max_length"
                )
        mask_id = self.tokenizer.mask_token_id
        if item.mask and mask_id is not None:
            found["mask"] = np.asarray([p for p in found["mask"] if int(ids[p]) == mask_id], dtype=np.int64)
        words = [None if i in set(special.tolist()) else w for i, w in enumerate(word_ids)]
        return EncodedInput(
            input=item,
            tokens=self.tokenizer.convert_ids_to_tokens([int(t) for t in ids]),
            attentions=np.ascontiguousarray(attentions, dtype=np.float32),
            head_positions=found["head"],
            tail_positions=found["tail"],
            mask_positions=found["mask"],
            special_positions=special,
            word_ids=words,
            hidden_states=None if hidden is None else np.ascontiguousarray(hidden, dtype=np.float32),
            offsets=np.asarray(offsets, dtype=np.int64),
        )


def _use_eager_attention(model: Any) -> None:
    """Switch a transformers model to eager attention, the only implementation returning weights."""
    if getattr(model.config, "_attn_implementation", "eager") == "eager":
        return
    setter = getattr(model, "set_attn_implementation", None)
    if setter is not None:
        setter("eager")
    else:  # older transformers read the config at call time
        model.config._attn_implementation = "eager"

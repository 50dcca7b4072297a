"""Which input tokens a chosen token draws on: layer-wise attention tracing and attention rollout.

Two ways of following attention from one token (the mask of a relation prompt, or the first token)
back through the layers to the input tokens, giving one score per input token (scores sum to 1):

- :func:`trace_attention` (layer-wise attention tracing, Wu, Nguyen and Ong 2020): for each head
  separately, start from a one-hot vector on the start token and multiply it by that head's attention
  matrix of every layer, top layer first; then sum over the heads and normalise.
- :func:`attention_rollout` (Abnar and Zuidema 2020): fuse the heads of each layer (mean by default),
  add the residual connection (``0.5 * A + 0.5 * I``, rows renormalised) and multiply the layers;
  the row of the start token is the score.

Both take the attention weights of one text, ``(layers, heads, tokens, tokens)`` with rows attending
and columns attended, as :class:`~relemb.attention.encode.EncodedInput` holds them. On top of them,
:func:`trace` runs an :class:`~relemb.attention.encode.AttentionEncoder` in batches and returns one
:class:`TokenScores` per input (JSON-ready with :meth:`TokenScores.to_dict`), and
:func:`relemb.attention.plots.plot_token_scores` draws them as a heat map PNG.

Example::

    encoder = AttentionEncoder.from_pretrained("minilm")
    scores = trace(encoder, encoder.inputs_from_pairs([("camera", "photographer")]), start="mask")
    scores[0].words()                     # [{'word': '[CLS]', 'tracing': ..., 'rollout': ...}, ...]
    plot_token_scores(scores, "camera.png")   # from relemb.attention.plots

>>> A = np.zeros((2, 1, 4, 4))
>>> A[1, 0, 3, 2] = A[1, 0, :3, 0] = 1.0          # layer 1: token 3 attends to token 2
>>> A[0, 0, 2, 0] = A[0, 0, [0, 1, 3], 1] = 1.0   # layer 0: token 2 attends to token 0
>>> trace_attention(A, start=3)
array([1., 0., 0., 0.])
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from relemb._io import to_jsonable
from relemb.attention.encode import (
    CONTINUATION_MARK,
    AttentionEncoder,
    AttentionInput,
    EncodedInput,
    check_attentions,
    display_token,
    word_groups,
)
from relemb.choices import check_choice

__all__ = [
    "HEAD_FUSIONS",
    "START_CHOICES",
    "TokenScores",
    "attention_rollout",
    "start_position",
    "token_scores",
    "trace",
    "trace_attention",
    "word_scores",
]

#: How :func:`attention_rollout` fuses the heads of a layer.
HEAD_FUSIONS = ("mean", "max", "min")

#: The named start tokens of :func:`trace` (an int position is allowed too).
START_CHOICES = ("mask", "first", "head", "tail")


# ----------------------------------------------------------------------------------- pure functions
def _check_attentions(attentions: Any) -> np.ndarray:
    """Checked attention probabilities as float64: the shape of :func:`check_attentions`, finite, non-negative."""
    array = check_attentions(attentions).astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError("attentions contain NaN or infinite values")
    if np.any(array < 0):
        raise ValueError("attentions contain negative weights; pass attention probabilities (after softmax)")
    return array


def _check_start(start: Any, n_tokens: int) -> int:
    if isinstance(start, (bool, np.bool_)):
        raise ValueError(f"start must be a token position, got {start!r}")
    try:
        position = operator.index(start)
    except TypeError:
        raise ValueError(f"start must be an integer token position, got {start!r}") from None
    if not 0 <= position < n_tokens:
        raise ValueError(f"start position {position} is out of range for {n_tokens} tokens")
    return position


def _normalise(scores: np.ndarray) -> np.ndarray:
    """Rows of ``scores`` scaled to sum to 1."""
    totals = scores.sum(axis=-1, keepdims=True)
    if np.any(totals <= 0):
        raise ValueError("the traced attention sums to zero; the attention weights carry no mass")
    return scores / totals


def _flow(matrices: np.ndarray, start: int) -> np.ndarray:
    """Follow a one-hot vector on ``start`` down through ``matrices`` ``(layers, [heads,] T, T)``, top
    layer first; returns ``(layers, [heads,] T)``: row ``l`` is the vector at the input of layer ``l``."""
    n_layers = matrices.shape[0]
    vector = np.zeros(matrices.shape[1:-1], dtype=np.float64)
    vector[..., start] = 1.0
    steps = np.empty((n_layers, *vector.shape), dtype=np.float64)
    for layer in range(n_layers - 1, -1, -1):
        vector = np.einsum("...i,...ij->...j", vector, matrices[layer])
        steps[layer] = vector
    return steps


def trace_attention(attentions: np.ndarray, start: int, *, return_layers: bool = False) -> np.ndarray:
    """Layer-wise attention tracing (Wu, Nguyen and Ong 2020): how much each input token feeds ``start``.

    For every head ``h`` a one-hot vector on ``start`` is multiplied by ``A[l, h]`` for ``l`` from the
    top layer down to layer 0 (``v <- v @ A[l, h]``: from the attending token to the attended tokens);
    the heads' vectors are summed and normalised to sum to 1.

    Args:
        attentions: ``(layers, heads, tokens, tokens)`` attention probabilities, rows attending.
        start: the position of the token to trace from (``0 <= start < tokens``).
        return_layers: return ``(layers, tokens)`` instead: row ``l`` is the normalised score after
            tracing down to the input of layer ``l`` (row 0 equals the default result; the last row
            is the top layer's own attention, summed over heads).

    Returns:
        ``(tokens,)`` scores summing to 1 (``(layers, tokens)`` with ``return_layers``).

    Raises:
        ValueError: on a wrongly shaped or negative ``attentions`` or an out-of-range ``start``.

    >>> uniform = np.full((3, 2, 4, 4), 0.25)
    >>> trace_attention(uniform, start=0)
    array([0.25, 0.25, 0.25, 0.25])
    >>> trace_attention(uniform, start=1, return_layers=True).shape
    (3, 4)
    """
    array = _check_attentions(attentions)
    position = _check_start(start, array.shape[-1])
    steps = _flow(array, position).sum(axis=1)  # (layers, tokens): summed over heads
    scores = _normalise(steps)
    return scores if return_layers else scores[0]


def _fuse_and_residual(array: np.ndarray, residual: bool, head_fusion: str) -> np.ndarray:
    fusions: dict[str, Callable[..., np.ndarray]] = {"mean": np.mean, "max": np.max, "min": np.min}
    fuse = fusions[_check_head_fusion(head_fusion)]
    fused = fuse(array, axis=1)
    if residual:
        fused = 0.5 * fused + 0.5 * np.eye(fused.shape[-1])
    totals = fused.sum(axis=-1, keepdims=True)
    return np.divide(fused, totals, out=np.zeros_like(fused), where=totals > 0)


def attention_rollout(
    attentions: np.ndarray,
    start: int,
    *,
    residual: bool = True,
    head_fusion: str = "mean",
    return_layers: bool = False,
) -> np.ndarray:
    """Attention rollout (Abnar and Zuidema 2020): the ``start`` row of the product of the layers' attention.

    Each layer's heads are fused (``head_fusion``: ``"mean"``, ``"max"`` or ``"min"``); with
    ``residual`` the skip connection is added as ``A' = 0.5 * A + 0.5 * I``; rows are renormalised to
    sum to 1. The rollout ``R = A'[L-1] @ ... @ A'[0]`` gives, in row ``start``, how much each input
    token reaches the start token's top-layer representation.

    Args:
        attentions: ``(layers, heads, tokens, tokens)`` attention probabilities, rows attending.
        start: the position of the token to roll out from (``0 <= start < tokens``).
        residual: add the identity for the residual connection (the paper's version).
        head_fusion: how to fuse the heads of a layer.
        return_layers: return ``(layers, tokens)``: row ``l`` is the rollout from the top down to the
            input of layer ``l`` (row 0 equals the default result).

    Returns:
        ``(tokens,)`` scores summing to 1 (``(layers, tokens)`` with ``return_layers``).

    >>> identity = np.broadcast_to(np.eye(3), (2, 4, 3, 3))
    >>> attention_rollout(identity, start=2)
    array([0., 0., 1.])
    >>> A = np.array([[[[0.0, 1.0], [0.0, 1.0]]]])   # one layer, one head: every token attends to token 1
    >>> attention_rollout(A, start=0), attention_rollout(A, start=0, residual=False)
    (array([0.5, 0.5]), array([0., 1.]))
    """
    array = _check_attentions(attentions)
    position = _check_start(start, array.shape[-1])
    matrices = _fuse_and_residual(array, residual, head_fusion)
    scores = _normalise(_flow(matrices, position))
    return scores if return_layers else scores[0]


def _check_head_fusion(head_fusion: str) -> str:
    return check_choice(head_fusion, HEAD_FUSIONS, "head_fusion")


def _labelled_words(
    word_ids: Sequence[int | None],
    tokens: Sequence[str],
    text: str | None = None,
    offsets: Any = None,
) -> list[tuple[str, list[int]]]:
    """The words of :func:`~relemb.attention.encode.word_groups` as ``(word text, positions)``: the text
    under the tokens' ``offsets`` when given, else the tokens joined (a special token keeps its own name)."""
    if len(word_ids) != len(tokens):
        raise ValueError(f"word_ids has {len(word_ids)} entries but there are {len(tokens)} tokens")
    if offsets is not None and (text is None or len(offsets) != len(tokens)):
        offsets = None
    labelled = []
    for group in word_groups(word_ids):
        positions = list(group)
        special = word_ids[positions[0]] is None
        label = None
        if not special and offsets is not None and text is not None:
            start = min(int(offsets[p][0]) for p in positions)
            end = max(int(offsets[p][1]) for p in positions)
            if end > start:
                label = text[start:end]
        if label is None:
            parts = [display_token(tokens[positions[0]])]
            parts += [tokens[p].removeprefix(CONTINUATION_MARK) for p in positions[1:]]
            label = tokens[positions[0]] if special else "".join(parts)
        labelled.append((label, positions))
    return labelled


def word_scores(
    scores: np.ndarray,
    word_ids: Sequence[int | None],
    tokens: Sequence[str],
    *,
    text: str | None = None,
    offsets: Any = None,
) -> list[tuple[str, float]]:
    """Token scores summed over the sub-tokens of each word, as ``(word, score)`` in text order.

    The words are those of :func:`~relemb.attention.encode.word_groups`: tokens with the same word id next
    to each other form a word; special tokens (word id ``None``: CLS/SEP, <s>/</s>) are entries of their own. The word text is taken from ``text`` when the tokens'
    character ``offsets`` are given, otherwise joined from the tokens (dropping WordPiece ``##`` and the
    byte-level BPE ``Ġ`` / SentencePiece ``▁`` word-start marks, so lower-cased or byte-mangled
    tokens stay that way).

    >>> word_scores(np.array([0.1, 0.2, 0.3, 0.4]), [None, 0, 0, None], ["[CLS]", "photo", "##grapher", "[SEP]"])
    [('[CLS]', 0.1), ('photographer', 0.5), ('[SEP]', 0.4)]
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1 or len(values) != len(tokens):
        raise ValueError(f"scores must have shape ({len(tokens)},) to match the tokens, got {values.shape}")
    groups = _labelled_words(word_ids, tokens, text, offsets)
    return [(label, float(values[positions].sum())) for label, positions in groups]


# -------------------------------------------------------------------------------------- with a model
@dataclass
class TokenScores:
    """Tracing and rollout scores of one input's tokens (each sums to 1).

    ``tracing_layers`` is ``(layers, tokens)``: row ``l`` is the tracing score at the input of layer
    ``l`` (row 0 equals ``tracing``). ``offsets`` are the tokens' character spans in ``text`` (``(0, 0)``
    for special tokens), used to name words in :meth:`words`.

    >>> scores = TokenScores("cat food", ["[CLS]", "cat", "fo", "##od", "[SEP]"], 0, "[CLS]",
    ...                      tracing=np.array([0.4, 0.1, 0.2, 0.1, 0.2]), rollout=np.full(5, 0.2),
    ...                      head_positions=[1], tail_positions=[2, 3], mask_positions=[],
    ...                      word_ids=[None, 0, 1, 1, None])
    >>> [(w["word"], w["positions"], round(w["tracing"], 2)) for w in scores.words()]
    [('[CLS]', [0], 0.4), ('cat', [1], 0.1), ('food', [2, 3], 0.3), ('[SEP]', [4], 0.2)]
    >>> scores.to_dict()["rollout"]
    [0.2, 0.2, 0.2, 0.2, 0.2]
    """

    text: str
    tokens: list[str]
    start_position: int
    start_token: str
    tracing: np.ndarray
    rollout: np.ndarray
    head_positions: list[int]
    tail_positions: list[int]
    mask_positions: list[int]
    word_ids: list[int | None]
    tracing_layers: np.ndarray | None = None
    offsets: list[tuple[int, int]] | None = None
    pair: tuple[str, str] | None = None
    model: str | None = None

    @property
    def n_tokens(self) -> int:
        """Tokens of the text, special tokens included."""
        return len(self.tokens)

    def words(self) -> list[dict[str, Any]]:
        """Scores summed over each word's sub-tokens (the words of :func:`~relemb.attention.encode.word_groups`):
        ``{"word", "positions", "tracing", "rollout"}`` (see the class example)."""
        return [
            {
                "word": label,
                "positions": positions,
                "tracing": float(np.sum(self.tracing[positions])),
                "rollout": float(np.sum(self.rollout[positions])),
            }
            for label, positions in _labelled_words(self.word_ids, self.tokens, self.text, self.offsets)
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (:func:`relemb._io.to_jsonable`: plain ints, floats, strings and lists), word
        scores included (see the class example)."""
        return to_jsonable(
            {
                "model": self.model,
                "text": self.text,
                "pair": self.pair,
                "tokens": self.tokens,
                "start_position": self.start_position,
                "start_token": self.start_token,
                "head_positions": self.head_positions,
                "tail_positions": self.tail_positions,
                "mask_positions": self.mask_positions,
                "tracing": self.tracing,
                "rollout": self.rollout,
                "tracing_layers": self.tracing_layers,
                "words": self.words(),
            }
        )


_NO_MASK_HINT = "use start='first', 'head', 'tail' or a position for a sentence"


def _check_start_choice(start: Any) -> None:
    """A named start is one of :data:`START_CHOICES`; any other start is an int position (its range is
    checked against each input)."""
    if isinstance(start, str):
        if start not in START_CHOICES:
            raise ValueError(f"unknown start {start!r}; choose one of {', '.join(START_CHOICES)} or a token position")
    elif isinstance(start, (bool, np.bool_)) or not isinstance(start, (int, np.integer)):
        raise ValueError(f"start must be one of {', '.join(START_CHOICES)} or an int position, got {start!r}")


def start_position(item: EncodedInput, start: str | int = "mask", *, index: int | None = None) -> int:
    """The token position ``start`` names in ``item``: ``"mask"`` (the mask token), ``"first"``
    (position 0: CLS or <s>), ``"head"`` / ``"tail"`` (the first token of that word) or a position.

    Raises ``ValueError`` (naming input ``index`` when given) for a missing mask or a bad position.

    >>> x = AttentionInput.from_sentence("cat dog", "cat", "dog")
    >>> item = EncodedInput(x, ["[CLS]", "cat", "dog", "[SEP]"], np.full((1, 1, 4, 4), 0.25), np.array([1]),
    ...                     np.array([2]), np.array([], dtype=int), np.array([0, 3]), [None, 0, 1, None])
    >>> start_position(item, "tail"), start_position(item, "first"), start_position(item, 3)
    (2, 0, 3)
    >>> start_position(item, "mask", index=7)
    Traceback (most recent call last):
    ...
    ValueError: input 7 ('cat dog') has no mask token; use start='first', 'head', 'tail' or a position for a sentence
    """
    where = f"input {index} " if index is not None else ""
    where += f"({item.input.text!r})"
    if isinstance(start, str):
        _check_start_choice(start)
        if start == "first":
            return 0
        named = {"mask": item.mask_positions, "head": item.head_positions, "tail": item.tail_positions}
        positions = named[start]
        if len(positions) == 0:
            hint = f"; {_NO_MASK_HINT}" if start == "mask" else ""
            raise ValueError(f"{where} has no {start} token{hint}")
        return int(positions[0])
    try:
        return _check_start(start, item.n_tokens)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def token_scores(
    item: EncodedInput,
    start: str | int = "mask",
    *,
    offsets: Any = None,
    model: str | None = None,
    index: int | None = None,
    residual: bool = True,
    head_fusion: str = "mean",
) -> TokenScores:
    """Tracing and rollout scores of one :class:`~relemb.attention.encode.EncodedInput`.

    ``offsets`` (the tokens' character spans, for word names) default to the item's own.

    >>> x = AttentionInput.from_sentence("cat dog", "cat", "dog")
    >>> item = EncodedInput(x, ["[CLS]", "cat", "dog", "[SEP]"], np.full((2, 1, 4, 4), 0.25), np.array([1]),
    ...                     np.array([2]), np.array([], dtype=int), np.array([0, 3]), [None, 0, 1, None])
    >>> scores = token_scores(item, "head")
    >>> scores.start_token, scores.tracing.tolist(), scores.tracing_layers.shape
    ('cat', [0.25, 0.25, 0.25, 0.25], (2, 4))
    """
    offsets = item.offsets if offsets is None else offsets
    position = start_position(item, start, index=index)
    layers = trace_attention(item.attentions, position, return_layers=True)
    rollout = attention_rollout(item.attentions, position, residual=residual, head_fusion=head_fusion)
    return TokenScores(
        text=item.input.text,
        tokens=list(item.tokens),
        start_position=position,
        start_token=item.tokens[position],
        tracing=layers[0].copy(),
        rollout=rollout,
        head_positions=[int(p) for p in item.head_positions],
        tail_positions=[int(p) for p in item.tail_positions],
        mask_positions=[int(p) for p in item.mask_positions],
        word_ids=list(item.word_ids),
        tracing_layers=layers,
        offsets=None if offsets is None else [(int(a), int(b)) for a, b in offsets],
        pair=item.input.pair,
        model=model,
    )


def trace(
    encoder: AttentionEncoder,
    inputs: Sequence[AttentionInput],
    *,
    start: str | int = "mask",
    batch_size: int = 32,
    show_progress_bar: bool = False,
    residual: bool = True,
    head_fusion: str = "mean",
) -> list[TokenScores]:
    """Encode ``inputs`` in batches and trace attention from ``start`` in each (see :func:`start_position`).

    Returns one :class:`TokenScores` per input, in order, with the tracing score (and its per-layer
    rows) and the rollout score (``residual`` and ``head_fusion`` as in :func:`attention_rollout`).
    ``start`` is checked on every input before the model runs where it can be (a missing mask).

    >>> encoder = AttentionEncoder.from_pretrained("minilm")                                  # doctest: +SKIP
    >>> (scores,) = trace(encoder, encoder.inputs_from_pairs([("camera", "photographer")]))  # doctest: +SKIP
    >>> scores.start_token, round(float(scores.tracing.sum()), 6)                            # doctest: +SKIP
    ('[MASK]', 1.0)
    """
    inputs = list(inputs)
    _check_start_choice(start)
    if start == "mask":
        for index, item in enumerate(inputs):
            if isinstance(item, AttentionInput) and not item.mask:
                raise ValueError(f"input {index} ({item.text!r}) has no mask token; {_NO_MASK_HINT}")
    _check_head_fusion(head_fusion)
    results: list[TokenScores] = []
    encoded = encoder.encode(inputs, batch_size=batch_size, show_progress_bar=show_progress_bar)
    for index, encoded_input in enumerate(encoded):
        results.append(
            token_scores(
                encoded_input,
                start,
                model=encoder.name,
                index=index,
                residual=residual,
                head_fusion=head_fusion,
            )
        )
    return results

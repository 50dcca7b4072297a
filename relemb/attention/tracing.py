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
:func:`plot_token_scores` draws them as a heat map PNG.

Example::

    encoder = AttentionEncoder.from_pretrained("minilm")
    scores = trace(encoder, encoder.inputs_from_pairs([("camera", "photographer")]), start="mask")
    scores[0].words()                     # [{'word': '[CLS]', 'tracing': ..., 'rollout': ...}, ...]
    plot_token_scores(scores, "camera.png")

>>> A = np.zeros((2, 1, 4, 4))
>>> A[1, 0, 3, 2] = A[1, 0, :3, 0] = 1.0          # layer 1: token 3 attends to token 2
>>> A[0, 0, 2, 0] = A[0, 0, [0, 1, 3], 1] = 1.0   # layer 0: token 2 attends to token 0
>>> trace_attention(A, start=3)
array([1., 0., 0., 0.])
"""

from __future__ import annotations

import operator
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from relemb._io import output_file, save_figure
from relemb.attention.encode import AttentionEncoder, AttentionInput, EncodedInput

__all__ = [
    "HEAD_FUSIONS",
    "START_CHOICES",
    "TokenScores",
    "attention_rollout",
    "plot_token_scores",
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

#: Marks tokenizers put on sub-tokens: WordPiece continuation, byte-level BPE and SentencePiece word starts.
_CONTINUATION = "##"
_WORD_STARTS = ("\u0120", "\u2581")  # "Ġ", "▁"


# ----------------------------------------------------------------------------------- pure functions
def _check_attentions(attentions: Any) -> np.ndarray:
    array = np.asarray(attentions, dtype=np.float64)
    if array.ndim != 4:
        raise ValueError(f"attentions must have shape (layers, heads, tokens, tokens), got shape {array.shape}")
    layers, heads, rows, columns = array.shape
    if layers == 0 or heads == 0 or rows == 0:
        raise ValueError(f"attentions must have at least one layer, head and token, got shape {array.shape}")
    if rows != columns:
        raise ValueError(f"attention matrices must be square (tokens, tokens), got shape {array.shape}")
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
    if head_fusion == "mean":
        fused = array.mean(axis=1)
    elif head_fusion == "max":
        fused = array.max(axis=1)
    elif head_fusion == "min":
        fused = array.min(axis=1)
    else:
        raise ValueError(f"unknown head_fusion {head_fusion!r}; choose one of {', '.join(HEAD_FUSIONS)}")
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


def _display_token(token: str) -> str:
    for mark in _WORD_STARTS:
        if token.startswith(mark) and len(token) > len(mark):
            return token[len(mark) :]
    return token


def _word_groups(
    word_ids: Sequence[int | None],
    tokens: Sequence[str],
    text: str | None = None,
    offsets: Any = None,
) -> list[tuple[str, list[int]]]:
    """Consecutive tokens of one word (same non-``None`` word id) as ``(word text, positions)``;
    special tokens (word id ``None``) stay on their own."""
    if len(word_ids) != len(tokens):
        raise ValueError(f"word_ids has {len(word_ids)} entries but there are {len(tokens)} tokens")
    if offsets is not None and (text is None or len(offsets) != len(tokens)):
        offsets = None
    groups: list[tuple[Any, list[int]]] = []
    for position, word in enumerate(word_ids):
        if word is not None and groups and groups[-1][0] == word:
            groups[-1][1].append(position)
        else:
            groups.append((word, [position]))
    labelled = []
    for word, positions in groups:
        label = None
        if word is not None and offsets is not None:
            start = min(int(offsets[p][0]) for p in positions)
            end = max(int(offsets[p][1]) for p in positions)
            if end > start:
                label = text[start:end]
        if label is None:
            parts = [_display_token(tokens[positions[0]])]
            parts += [tokens[p].removeprefix(_CONTINUATION) for p in positions[1:]]
            label = "".join(parts) if word is not None else tokens[positions[0]]
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

    Tokens with the same word id next to each other form a word; special tokens (word id ``None``:
    CLS/SEP, <s>/</s>) are entries of their own. The word text is taken from ``text`` when the tokens'
    character ``offsets`` are given, otherwise joined from the tokens (dropping WordPiece ``##`` and the
    byte-level BPE ``Ġ`` / SentencePiece ``▁`` word-start marks, so lower-cased or byte-mangled
    tokens stay that way).

    >>> word_scores(np.array([0.1, 0.2, 0.3, 0.4]), [None, 0, 0, None], ["[CLS]", "photo", "##grapher", "[SEP]"])
    [('[CLS]', 0.1), ('photographer', 0.5), ('[SEP]', 0.4)]
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1 or len(values) != len(tokens):
        raise ValueError(f"scores must have shape ({len(tokens)},) to match the tokens, got {values.shape}")
    groups = _word_groups(word_ids, tokens, text, offsets)
    return [(label, float(values[positions].sum())) for label, positions in groups]


# -------------------------------------------------------------------------------------- with a model
@dataclass
class TokenScores:
    """Tracing and rollout scores of one input's tokens (each sums to 1).

    ``tracing_layers`` is ``(layers, tokens)``: row ``l`` is the tracing score at the input of layer
    ``l`` (row 0 equals ``tracing``). ``offsets`` are the tokens' character spans in ``text`` (``(0, 0)``
    for special tokens), used to name words in :meth:`words`.
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
        return len(self.tokens)

    def words(self) -> list[dict[str, Any]]:
        """Scores summed over each word's sub-tokens: ``{"word", "positions", "tracing", "rollout"}``."""
        return [
            {
                "word": label,
                "positions": positions,
                "tracing": float(np.sum(self.tracing[positions])),
                "rollout": float(np.sum(self.rollout[positions])),
            }
            for label, positions in _word_groups(self.word_ids, self.tokens, self.text, self.offsets)
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (plain ints, floats, strings and lists), word scores included."""
        return {
            "model": self.model,
            "text": self.text,
            "pair": None if self.pair is None else list(self.pair),
            "tokens": list(self.tokens),
            "start_position": int(self.start_position),
            "start_token": self.start_token,
            "head_positions": [int(p) for p in self.head_positions],
            "tail_positions": [int(p) for p in self.tail_positions],
            "mask_positions": [int(p) for p in self.mask_positions],
            "tracing": [float(v) for v in self.tracing],
            "rollout": [float(v) for v in self.rollout],
            "tracing_layers": None
            if self.tracing_layers is None
            else [[float(v) for v in row] for row in self.tracing_layers],
            "words": self.words(),
        }


def start_position(item: EncodedInput, start: str | int = "mask", *, index: int | None = None) -> int:
    """The token position ``start`` names in ``item``: ``"mask"`` (the mask token), ``"first"``
    (position 0: CLS or <s>), ``"head"`` / ``"tail"`` (the first token of that word) or a position.

    Raises ``ValueError`` (naming input ``index`` when given) for a missing mask or a bad position.
    """
    where = f"input {index} " if index is not None else ""
    where += f"({item.input.text!r})"
    if isinstance(start, str):
        if start == "first":
            return 0
        named = {"mask": item.mask_positions, "head": item.head_positions, "tail": item.tail_positions}
        if start not in named:
            raise ValueError(f"unknown start {start!r}; choose one of {', '.join(START_CHOICES)} or a token position")
        positions = named[start]
        if len(positions) == 0:
            hint = "; use start='first', 'head', 'tail' or a position for a sentence" if start == "mask" else ""
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
    """
    inputs = list(inputs)
    if isinstance(start, str):
        if start not in START_CHOICES:
            raise ValueError(f"unknown start {start!r}; choose one of {', '.join(START_CHOICES)} or a token position")
        if start == "mask":
            for index, item in enumerate(inputs):
                if isinstance(item, AttentionInput) and not item.mask:
                    raise ValueError(
                        f"input {index} ({item.text!r}) has no mask token; "
                        "use start='first', 'head', 'tail' or a position for a sentence"
                    )
    elif isinstance(start, (bool, np.bool_)) or not isinstance(start, (int, np.integer)):
        raise ValueError(f"start must be one of {', '.join(START_CHOICES)} or an int position, got {start!r}")
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"unknown head_fusion {head_fusion!r}; choose one of {', '.join(HEAD_FUSIONS)}")
    results: list[TokenScores] = []
    for index, item in enumerate(encoder.encode(inputs, batch_size=batch_size, show_progress_bar=show_progress_bar)):
        results.append(
            token_scores(
                item,
                start,
                model=encoder.name,
                index=index,
                residual=residual,
                head_fusion=head_fusion,
            )
        )
    return results


# ---------------------------------------------------------------------------------------- plotting
#: Tick label colours of the marked tokens.
_COLOURS = {"start": "tab:red", "head": "tab:blue", "tail": "tab:green"}


def _label_ticks(axes: Any, item: TokenScores) -> None:
    labels = [_display_token(token) for token in item.tokens]
    axes.set_xticks(range(item.n_tokens))
    axes.set_xticklabels(labels, rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
    head, tail = set(item.head_positions), set(item.tail_positions)
    for position, tick in enumerate(axes.get_xticklabels()):
        if position == item.start_position:
            tick.set_color(_COLOURS["start"])
            tick.set_fontweight("bold")
        elif position in head:
            tick.set_color(_COLOURS["head"])
        elif position in tail:
            tick.set_color(_COLOURS["tail"])


def _heat_map(axes: Any, values: np.ndarray, row_labels: list[str], item: TokenScores, title: str) -> Any:
    image = axes.imshow(values, aspect="auto", cmap="viridis", vmin=0.0, vmax=max(float(values.max()), 1e-12))
    axes.set_yticks(range(len(row_labels)))
    axes.set_yticklabels(row_labels, fontsize=8)
    _label_ticks(axes, item)
    axes.set_title(title, fontsize=9, loc="left")
    if values.shape[1] <= 40 and values.shape[0] <= 16:
        threshold = 0.6 * float(values.max())
        for row in range(values.shape[0]):
            for column in range(values.shape[1]):
                value = float(values[row, column])
                label = f"{value:.2f}"
                axes.text(
                    column,
                    row,
                    label[1:] if label.startswith("0.") else label,
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="black" if value > threshold else "white",
                )
    return image


def plot_token_scores(
    scores: TokenScores | Sequence[TokenScores],
    path: str | os.PathLike,
    *,
    title: str | None = None,
    layers: bool = False,
) -> Path:
    """Draw token scores as a heat map PNG at ``path`` and return the path.

    One panel per input, tokens on the x axis, rows ``tracing`` and ``rollout``; with ``layers=True``
    (one input only) one row per layer of tracing instead, the top layer first. The start token's
    label is red and bold, the head word's tokens blue, the tail word's green.

    The file is written atomically (a temporary file in the same folder, renamed into place); missing
    parent folders are created; a ``path`` that is an existing folder raises ``IsADirectoryError``.
    """
    items = [scores] if isinstance(scores, TokenScores) else list(scores)
    if not items:
        raise ValueError("no token scores to plot")
    for index, item in enumerate(items):
        if not isinstance(item, TokenScores):
            raise TypeError(f"item {index} is a {type(item).__name__}, not TokenScores")
    if layers:
        if len(items) != 1:
            raise ValueError(f"layers=True plots one input, got {len(items)}")
        if items[0].tracing_layers is None:
            raise ValueError("these scores have no tracing_layers; compute them with trace() or token_scores()")
    target = output_file(path, ".png")

    from matplotlib.figure import Figure

    width = min(40.0, max(6.0, 0.42 * max(item.n_tokens for item in items) + 2.0))
    if layers:
        n_rows = items[0].tracing_layers.shape[0]
        heights = [0.32 * n_rows + 1.6]
    else:
        heights = [2.3] * len(items)
    figure = Figure(figsize=(width, sum(heights) + (0.4 if title else 0.0)), dpi=120)
    grid = figure.subplots(len(heights), 1, squeeze=False, gridspec_kw={"height_ratios": heights})
    for axes, item in zip(grid[:, 0], items):
        what = " ".join(item.pair) if item.pair else item.text
        panel = f"{what} | start: {_display_token(item.start_token)!s} (red); head blue, tail green"
        if layers:
            values = item.tracing_layers[::-1]
            n = values.shape[0]
            row_labels = [f"layer {n - 1 - r}" for r in range(n)]
            image = _heat_map(axes, values, row_labels, item, f"tracing per layer | {panel}")
            axes.set_ylabel("traced to the input of", fontsize=8)
        else:
            image = _heat_map(axes, np.stack([item.tracing, item.rollout]), ["tracing", "rollout"], item, panel)
        figure.colorbar(image, ax=axes, fraction=0.025, pad=0.01)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    return save_figure(figure, target)

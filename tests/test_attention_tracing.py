"""Layer-wise attention tracing and attention rollout: hand-checked synthetic attention, then tiny encoders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from relemb.attention.encode import AttentionEncoder, AttentionInput
from relemb.attention.plots import plot_token_scores
from relemb.attention.tracing import (
    TokenScores,
    attention_rollout,
    trace,
    trace_attention,
    word_scores,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PAIRS = [("tokyo", "japan"), ("puppy", "dog"), ("wheel", "car")]


def _rows(n_layers: int, n_heads: int, n_tokens: int) -> np.ndarray:
    """Uniform attention to be overwritten row by row."""
    return np.full((n_layers, n_heads, n_tokens, n_tokens), 1.0 / n_tokens)


# ------------------------------------------------------------------------------------ tracing (pure)
def test_trace_one_hot_chain_reaches_the_first_token():
    attentions = _rows(2, 1, 4)
    attentions[1, 0, 3] = [0, 0, 1, 0]  # top layer: token 3 attends to token 2
    attentions[0, 0, 2] = [1, 0, 0, 0]  # bottom layer: token 2 attends to token 0
    np.testing.assert_allclose(trace_attention(attentions, 3), [1, 0, 0, 0])
    layers = trace_attention(attentions, 3, return_layers=True)
    assert layers.shape == (2, 4)
    np.testing.assert_allclose(layers, [[1, 0, 0, 0], [0, 0, 1, 0]])


def test_trace_uniform_attention_gives_uniform_scores():
    scores = trace_attention(_rows(3, 4, 5), start=2)
    np.testing.assert_allclose(scores, np.full(5, 0.2))


def test_trace_sums_heads_after_tracing_each_head():
    attentions = _rows(2, 2, 3)
    attentions[1, 0, 2] = [0, 1, 0]
    attentions[1, 1, 2] = [0.5, 0, 0.5]
    attentions[0, 0, 1] = [0.2, 0.8, 0]
    attentions[0, 1, 0] = [1, 0, 0]
    attentions[0, 1, 2] = [0, 0, 1]
    # head 0: e2 -> [0, 1, 0] -> [0.2, 0.8, 0]; head 1: e2 -> [.5, 0, .5] -> [.5, 0, .5]; sum / 2
    np.testing.assert_allclose(trace_attention(attentions, 2), [0.35, 0.4, 0.25])
    # fusing the heads first (what rollout without residual does) gives a different answer
    fused = attention_rollout(attentions, 2, residual=False)
    assert not np.allclose(fused, [0.35, 0.4, 0.25])
    # mean of heads: top row 2 = [.25, .5, .25]; bottom rows [2/3, 1/6, 1/6], [.267, .567, .167], [1/6, 1/6, 2/3]
    np.testing.assert_allclose(fused, [0.34166667, 0.36666667, 0.29166667], rtol=1e-6)


def test_trace_return_layers_first_row_is_the_default_and_rows_sum_to_one():
    rng = np.random.default_rng(0)
    attentions = rng.random((4, 3, 6, 6))
    attentions /= attentions.sum(-1, keepdims=True)
    layers = trace_attention(attentions, 1, return_layers=True)
    assert layers.shape == (4, 6)
    np.testing.assert_allclose(layers[0], trace_attention(attentions, 1))
    np.testing.assert_allclose(layers.sum(axis=1), np.ones(4))
    np.testing.assert_allclose(layers[-1], attentions[-1, :, 1].mean(axis=0))  # the top layer's own attention
    layers = attention_rollout(attentions, 1, return_layers=True)
    assert layers.shape == (4, 6)
    np.testing.assert_allclose(layers[0], attention_rollout(attentions, 1))


@pytest.mark.parametrize("function", [trace_attention, attention_rollout])
def test_bad_inputs_raise(function):
    good = _rows(2, 2, 3)
    with pytest.raises(ValueError, match="shape"):
        function(good[0], 0)  # 3-D
    with pytest.raises(ValueError, match="square"):
        function(np.ones((1, 1, 3, 4)) / 4, 0)
    with pytest.raises(ValueError, match="out of range"):
        function(good, 3)
    with pytest.raises(ValueError, match="out of range"):
        function(good, -1)
    with pytest.raises(ValueError, match="position"):
        function(good, 1.5)
    with pytest.raises(ValueError, match="NaN"):
        function(np.full((1, 1, 2, 2), np.nan), 0)
    with pytest.raises(ValueError, match="negative"):
        function(-good, 0)
    no_mass = {} if function is trace_attention else {"residual": False}  # the residual alone carries mass
    with pytest.raises(ValueError, match="zero"):
        function(np.zeros((1, 1, 2, 2)), 0, **no_mass)


# ------------------------------------------------------------------------------------ rollout (pure)
def test_rollout_identity_attention_is_one_hot_on_start():
    identity = np.broadcast_to(np.eye(4), (3, 2, 4, 4))
    for residual in (True, False):
        np.testing.assert_allclose(attention_rollout(identity, 1, residual=residual), [0, 1, 0, 0])


def test_rollout_residual_two_layers_by_hand():
    attentions = np.zeros((2, 1, 2, 2))
    attentions[0, 0, :, 0] = 1.0  # bottom layer: everything attends to token 0
    attentions[1, 0, :, 1] = 1.0  # top layer: everything attends to token 1
    # A0' = [[1, 0], [.5, .5]], A1' = [[.5, .5], [0, 1]]; row 0 of A1' @ A0' = [.75, .25]
    np.testing.assert_allclose(attention_rollout(attentions, 0), [0.75, 0.25])
    np.testing.assert_allclose(attention_rollout(attentions, 0, return_layers=True), [[0.75, 0.25], [0.5, 0.5]])
    np.testing.assert_allclose(attention_rollout(attentions, 0, residual=False), [1.0, 0.0])
    np.testing.assert_allclose(attention_rollout(attentions, 1), [0.5, 0.5])  # e1 @ A1' = [0, 1]; @ A0' = [.5, .5]


def test_rollout_head_fusions():
    attentions = np.zeros((1, 2, 2, 2))
    attentions[0, 0, :, 0] = 1.0
    attentions[0, 1, :, 1] = 1.0
    # max: [[1, 1], [1, 1]] + residual -> [[1, .5], [.5, 1]] / 1.5; min: 0 + residual -> identity
    np.testing.assert_allclose(attention_rollout(attentions, 0, head_fusion="max"), [2 / 3, 1 / 3])
    np.testing.assert_allclose(attention_rollout(attentions, 0, head_fusion="min"), [1.0, 0.0])
    np.testing.assert_allclose(attention_rollout(attentions, 0, head_fusion="mean"), [0.75, 0.25])
    with pytest.raises(ValueError, match="head_fusion"):
        attention_rollout(attentions, 0, head_fusion="sum")


# -------------------------------------------------------------------------------------- word scores
def test_word_scores_sum_sub_tokens_and_keep_special_tokens():
    tokens = ["<s>", "Ġphoto", "grapher", "Ġis", "</s>"]
    words = word_scores(np.array([0.1, 0.2, 0.3, 0.15, 0.25]), [None, 0, 0, 1, None], tokens)
    assert [w for w, _ in words] == ["<s>", "photographer", "is", "</s>"]
    np.testing.assert_allclose([s for _, s in words], [0.1, 0.5, 0.15, 0.25])
    # with offsets, the word text comes from the text itself (case kept)
    text = "Photographer is"
    offsets = [(0, 0), (0, 5), (5, 12), (13, 15), (0, 0)]
    words = word_scores(np.full(5, 0.2), [None, 0, 0, 1, None], tokens, text=text, offsets=offsets)
    assert [w for w, _ in words] == ["<s>", "Photographer", "is", "</s>"]
    with pytest.raises(ValueError, match="shape"):
        word_scores(np.ones(3), [None, 0, None, None], ["a", "b", "c", "d"])


def test_word_scores_use_the_word_groups_of_word_level_attention():
    from relemb.attention.heads import word_level_attention

    # a second text numbered from 0 again: its word 0 is another word, as in word-level attention
    tokens = ["[CLS]", "photo", "##grapher", "[SEP]", "photo", "[SEP]"]
    ids = [None, 0, 0, None, 0, None]
    scores = np.array([0.1, 0.2, 0.3, 0.1, 0.2, 0.1])
    words = word_scores(scores, ids, tokens)
    assert words == [("[CLS]", 0.1), ("photographer", 0.5), ("[SEP]", 0.1), ("photo", 0.2), ("[SEP]", 0.1)]
    _, groups = word_level_attention(np.full((6, 6), 1 / 6), ids)
    assert [list(g) for g in groups] == [w["positions"] for w in _scores(tokens, ids, scores).words()]


def _scores(tokens, ids, values) -> TokenScores:
    n = len(tokens)
    return TokenScores("photographer photo", tokens, 0, tokens[0], values, values, [], [], [], ids, np.zeros((1, n)))


# ---------------------------------------------------------------------------------- tiny encoders
@pytest.fixture(scope="module")
def bert_encoder(tiny_bert_path) -> AttentionEncoder:
    return AttentionEncoder.from_pretrained(tiny_bert_path, device="cpu")


@pytest.fixture(scope="module")
def roberta_encoder(tiny_roberta_path) -> AttentionEncoder:
    return AttentionEncoder.from_pretrained(tiny_roberta_path, device="cpu")


@pytest.fixture(scope="module", params=["bert", "roberta"])
def encoder(request, bert_encoder, roberta_encoder) -> AttentionEncoder:
    return bert_encoder if request.param == "bert" else roberta_encoder


def test_trace_prompts_from_the_mask(encoder):
    inputs = encoder.inputs_from_pairs(PAIRS)
    results = trace(encoder, inputs, start="mask", batch_size=2)
    encoded = list(encoder.encode(inputs))
    assert len(results) == len(PAIRS)
    for result, item in zip(results, encoded):
        assert isinstance(result, TokenScores)
        assert result.tokens == item.tokens and len(result.tracing) == len(result.rollout) == item.n_tokens
        assert result.start_token == encoder.tokenizer.mask_token
        assert result.start_position == int(item.mask_positions[0])
        assert result.tracing.sum() == pytest.approx(1.0) and result.rollout.sum() == pytest.approx(1.0)
        assert result.tracing_layers.shape == (encoder.n_layers, item.n_tokens)
        np.testing.assert_allclose(result.tracing_layers[0], result.tracing)
        np.testing.assert_allclose(result.tracing, trace_attention(item.attentions, result.start_position), atol=1e-6)
        np.testing.assert_allclose(result.rollout, attention_rollout(item.attentions, result.start_position), atol=1e-6)
        assert result.pair in PAIRS and result.model == encoder.name
    words = [w["word"] for w in results[0].words()]
    assert "tokyo" in words and "japan" in words
    assert sum(w["tracing"] for w in results[0].words()) == pytest.approx(1.0)
    payload = json.loads(json.dumps([r.to_dict() for r in results]))
    assert payload[0]["start_token"] == encoder.tokenizer.mask_token
    assert len(payload[0]["tracing"]) == len(payload[0]["tokens"])
    assert len(payload[0]["tracing_layers"]) == encoder.n_layers


def test_trace_batching_gives_the_same_scores(bert_encoder):
    inputs = bert_encoder.inputs_from_pairs(PAIRS) + [
        AttentionInput.from_pair("photographer", "camera", "a", bert_encoder.tokenizer.mask_token)
    ]
    one = trace(bert_encoder, inputs, batch_size=1)
    three = trace(bert_encoder, inputs, batch_size=3)
    for a, b in zip(one, three):
        assert a.tokens == b.tokens and a.offsets == b.offsets
        np.testing.assert_allclose(a.tracing, b.tracing, atol=1e-5)
        np.testing.assert_allclose(a.rollout, b.rollout, atol=1e-5)
        np.testing.assert_allclose(a.tracing_layers, b.tracing_layers, atol=1e-5)


def test_trace_sentences_and_start_choices(encoder):
    sentence = AttentionInput.from_sentence("the cat chased a dog in the school", "cat", "dog")
    prompt = encoder.inputs_from_pairs([("puppy", "dog")])[0]
    with pytest.raises(ValueError, match="input 1 .* no mask"):
        trace(encoder, [prompt, sentence], start="mask")
    first, head, tail = (trace(encoder, [sentence], start=s)[0] for s in ("first", "head", "tail"))
    item = next(encoder.encode([sentence]))
    assert first.start_position == 0 and first.start_token == item.tokens[0]
    assert head.start_position == int(item.head_positions[0]) and tail.start_position == int(item.tail_positions[0])
    assert head.start_token.lstrip("\u0120") == "cat"
    assert trace(encoder, [sentence], start=2)[0].start_position == 2
    with pytest.raises(ValueError, match="out of range"):
        trace(encoder, [sentence], start=item.n_tokens)
    with pytest.raises(ValueError, match="unknown start"):
        trace(encoder, [sentence], start="cls")
    with pytest.raises(ValueError, match="head_fusion"):
        trace(encoder, [sentence], start="first", head_fusion="sum")


# ------------------------------------------------------------------------------------------ plotting
def test_plot_writes_a_png_atomically(bert_encoder, tmp_path):
    results = trace(bert_encoder, bert_encoder.inputs_from_pairs(PAIRS[:2]))
    target = tmp_path / "new" / "folder" / "scores.png"
    assert plot_token_scores(results, target, title="tiny BERT") == target
    assert target.read_bytes()[:8] == PNG_MAGIC and target.stat().st_size > 1000
    assert [p.name for p in target.parent.iterdir()] == ["scores.png"]
    layers = plot_token_scores(results[0], tmp_path / "layers.png", layers=True)
    assert layers.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="one input"):
        plot_token_scores(results, tmp_path / "two.png", layers=True)
    with pytest.raises(IsADirectoryError):
        plot_token_scores(results, tmp_path / "new")
    with pytest.raises(ValueError, match="no token scores"):
        plot_token_scores([], tmp_path / "empty.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layers.png", "new"]


def test_plot_failure_leaves_nothing_half_written(bert_encoder, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    result = trace(bert_encoder, bert_encoder.inputs_from_pairs(PAIRS[:1]))[0]
    target = tmp_path / "scores.png"
    target.write_bytes(b"old")

    def broken(self, fname, **kwargs):
        with open(fname, "wb") as handle:
            handle.write(PNG_MAGIC)
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_token_scores(result, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.png"]


# ------------------------------------------------------------------------------------------- MiniLM
@pytest.mark.slow
def test_minilm_trace_and_plot(minilm_path, tmp_path):
    encoder = AttentionEncoder.from_pretrained(minilm_path, device="cpu")
    results = trace(encoder, encoder.inputs_from_pairs([("camera", "photographer")]), start="mask")
    assert results[0].start_token == "[MASK]"
    assert results[0].tracing.sum() == pytest.approx(1.0)
    words = {w["word"] for w in results[0].words()}
    assert {"camera", "photographer"} <= words
    assert plot_token_scores(results, tmp_path / "minilm.png").read_bytes()[:8] == PNG_MAGIC

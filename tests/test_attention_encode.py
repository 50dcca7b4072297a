"""relemb.attention.encode: prompt/sentence spans, eager attention, token positions of head, tail and mask."""

from __future__ import annotations

import numpy as np
import pytest

from relemb.attention.encode import (
    AttentionEncoder,
    AttentionInput,
    check_attentions,
    display_token,
    is_random_label,
    word_groups,
)
from relemb.prompts import TEMPLATES


@pytest.fixture(scope="module")
def bert_encoder(tiny_bert_path):
    return AttentionEncoder.from_pretrained(tiny_bert_path, device="cpu")


@pytest.fixture(scope="module")
def roberta_encoder(tiny_roberta_path):
    return AttentionEncoder.from_pretrained(tiny_roberta_path, device="cpu")


# ------------------------------------------------------------------------------------------- inputs
def test_from_pair_spans_cover_every_occurrence():
    item = AttentionInput.from_pair("camera", "photographer", "a", mask_token="<mask>")
    assert item.text == TEMPLATES["a"].replace("<subj>", "camera").replace("<obj>", "photographer")
    assert [item.text[a:b] for a, b in item.head] == ["camera", "camera"]
    assert [item.text[a:b] for a, b in item.tail] == ["photographer", "photographer"]
    assert [item.text[a:b] for a, b in item.mask] == ["<mask>"]
    assert item.pair == ("camera", "photographer")


def test_from_pair_rejects_bad_words_and_templates():
    with pytest.raises(ValueError, match="empty"):
        AttentionInput.from_pair(" ", "b", "d", mask_token="[MASK]")
    with pytest.raises(ValueError, match="no <mask>"):
        AttentionInput.from_pair("a", "b", "<subj> and <obj>", mask_token="[MASK]")
    with pytest.raises(ValueError, match="mask token"):
        AttentionInput.from_pair("a [MASK]", "b", "d", mask_token="[MASK]")


def test_from_sentence_words_and_spans():
    item = AttentionInput.from_sentence("The cat chased the catfish.", "cat", "catfish")
    assert item.head == ((4, 7),) and item.tail == ((19, 26),)
    assert item.mask == ()
    same = AttentionInput.from_sentence("The cat chased the catfish.", (4, 7), [(19, 26)])
    assert same == item
    with pytest.raises(ValueError, match="does not occur"):
        AttentionInput.from_sentence("The cat sat.", "dog", "cat")
    with pytest.raises(ValueError, match="overlap"):
        AttentionInput.from_sentence("The cat sat.", (4, 7), (5, 9))
    with pytest.raises(ValueError, match="outside the text"):
        AttentionInput.from_sentence("The cat sat.", (4, 7), (10, 40))
    with pytest.raises(ValueError, match="empty"):
        AttentionInput.from_sentence("  ", (0, 1), (1, 2))
    assert AttentionInput("a b", ((0, 1),), ((2, 3),), pair=["a", "b"]).pair == ("a", "b")
    with pytest.raises(TypeError, match="pair is not a \\(head, tail\\) pair"):
        AttentionInput("a b", ((0, 1),), ((2, 3),), pair=("a",))


def test_random_labels():
    assert [is_random_label(x) for x in ("random", "RANDOM", "false", "hyper", "Synonym")] == [
        True,
        True,
        True,
        False,
        False,
    ]


# -------------------------------------------------------------------------------------- word groups
def test_word_groups_are_runs_of_consecutive_tokens():
    # [CLS] play ##ing dog [SEP]
    assert word_groups([None, 0, 0, 1, None]) == [(0,), (1, 2), (3,), (4,)]
    # every special token is a word of its own, also next to another one
    assert word_groups([None, None, 0, None]) == [(0,), (1,), (2,), (3,)]
    # a word id that comes back after other tokens is another word (a second text is numbered from 0 again)
    assert word_groups([None, 0, 1, None, 0, 0, None]) == [(0,), (1,), (2,), (3,), (4, 5), (6,)]
    assert word_groups([0, 1, 0]) == [(0,), (1,), (2,)]
    # a special token between two tokens of the same id splits them
    assert word_groups([3, None, 3]) == [(0,), (1,), (2,)]
    assert word_groups(np.array([0, 0, 1])) == [(0, 1), (2,)]  # numpy ids
    assert word_groups([]) == []
    with pytest.raises(TypeError, match="position 1"):
        word_groups([0, "1"])
    with pytest.raises(TypeError, match="position 0"):
        word_groups([True, True])


def test_word_groups_cover_every_token_once_in_order():
    ids = [None, 0, 0, 1, 2, 2, 2, None, 0, 1, 1, None]
    groups = word_groups(ids)
    assert [p for group in groups for p in group] == list(range(len(ids)))
    for group in groups:
        assert len({ids[p] for p in group}) == 1
        assert list(group) == list(range(group[0], group[-1] + 1))


@pytest.mark.parametrize("which", ["bert_encoder", "roberta_encoder"])
def test_word_groups_of_encoded_prompts_join_sub_tokens(which, request):
    encoder = request.getfixturevalue(which)
    (item,) = encoder.encode(encoder.inputs_from_pairs([("sunflowers", "photographer")]))
    groups = word_groups(item.word_ids)
    special = set(item.special_positions.tolist())
    assert [g for g in groups if g[0] in special] == [(p,) for p in sorted(special)]
    head = [g for g in groups if set(g) & set(item.head_positions.tolist())]
    assert head == [tuple(item.head_positions.tolist())]  # the head word's sub-tokens form one word
    spans = item.offsets[list(head[0])]
    assert item.input.text[spans[:, 0].min() : spans[:, 1].max()] == "sunflowers"


def test_check_attentions_and_display_token():
    a = np.full((2, 3, 4, 4), 0.25, dtype=np.float32)
    assert check_attentions(a) is a  # no copy, dtype kept
    with pytest.raises(ValueError, match="shape"):
        check_attentions(a[0])
    with pytest.raises(ValueError, match="square"):
        check_attentions(np.ones((1, 1, 2, 3)))
    with pytest.raises(ValueError, match="at least one"):
        check_attentions(np.ones((0, 1, 2, 2)))
    assert [display_token(t) for t in ("\u0120cat", "\u2581cat", "##s", "\u0120", "[SEP]")] == [
        "cat",
        "cat",
        "##s",
        "\u0120",
        "[SEP]",
    ]


# ----------------------------------------------------------------------------------------- encoding
@pytest.mark.parametrize("which", ["bert_encoder", "roberta_encoder"])
def test_positions_name_the_right_tokens(which, request):
    encoder = request.getfixturevalue(which)
    pairs = [("camera", "photographer"), ("puppy", "dog")]
    items = list(encoder.encode(encoder.inputs_from_pairs(pairs)))
    assert len(items) == 2
    for item, (head, tail) in zip(items, pairs):
        assert item.attentions.shape == (encoder.n_layers, encoder.n_heads, item.n_tokens, item.n_tokens)
        assert np.allclose(item.attentions.sum(-1), 1.0, atol=1e-5)
        decoded = encoder.tokenizer.convert_tokens_to_string
        assert decoded([item.tokens[p] for p in item.head_positions]).strip() == head
        assert decoded([item.tokens[p] for p in item.tail_positions]).strip() == tail
        assert [item.tokens[p] for p in item.mask_positions] == [encoder.tokenizer.mask_token]
        spans = item.offsets[item.head_positions]
        assert item.input.text[spans[:, 0].min() : spans[:, 1].max()] == head
        assert item.offsets.shape == (item.n_tokens, 2)
        assert item.special_positions.tolist() == [0, item.n_tokens - 1]
        assert item.word_ids[0] is None and item.word_ids[-1] is None
        assert len(item.tokens) == item.n_tokens == len(item.word_ids)


def test_batching_and_padding_do_not_change_attention(bert_encoder):
    pairs = [("a", "b"), ("photographer", "camera"), ("tokyo", "japan")]
    inputs = bert_encoder.inputs_from_pairs(pairs, template="<subj> and <obj> : <mask>")
    one = list(bert_encoder.encode(inputs, batch_size=1))
    three = list(bert_encoder.encode(inputs, batch_size=3))
    for x, y in zip(one, three):
        assert x.tokens == y.tokens
        np.testing.assert_allclose(x.attentions, y.attentions, atol=1e-5)


def test_hidden_states_and_sentences(roberta_encoder):
    sentence = AttentionInput.from_sentence("the puppy is a young dog", "puppy", "dog")
    (item,) = roberta_encoder.encode([sentence], output_hidden_states=True)
    config = roberta_encoder.model.config
    assert item.hidden_states.shape == (config.num_hidden_layers + 1, item.n_tokens, config.hidden_size)
    assert item.mask_positions.size == 0
    # the head's positions cover exactly the word's tokens (however the tiny BPE splits it)
    assert "".join(item.tokens[p].lstrip("\u0120") for p in item.head_positions) == "puppy"
    assert "".join(item.tokens[p].lstrip("\u0120") for p in item.tail_positions) == "dog"


def test_truncated_head_or_tail_names_the_input(tiny_bert_path):
    encoder = AttentionEncoder.from_pretrained(tiny_bert_path, device="cpu", max_length=32)
    template = "<subj> is the <mask> of " + "a very long text " * 10 + "and <obj>"  # over 40 tokens before the tail
    inputs = encoder.inputs_from_pairs([("a", "b")], template=template)
    with pytest.raises(ValueError, match=r"input 0 .*'a', 'b'.*tail was truncated away at max_length=32"):
        list(encoder.encode(inputs))


def test_bad_inputs(bert_encoder):
    with pytest.raises(TypeError, match="not an AttentionInput"):
        list(bert_encoder.encode(["a sentence"]))
    with pytest.raises(ValueError, match="batch_size"):
        list(bert_encoder.encode([], batch_size=0))
    with pytest.raises(ValueError, match=r"bad pair at index 1"):
        bert_encoder.inputs_from_pairs([("a", "b"), ("", "c")])
    with pytest.raises(TypeError, match="not a \\(head, tail\\) pair"):
        bert_encoder.inputs_from_pairs(["ab"])


def test_random_control_shares_tokenizer_but_not_weights(bert_encoder):
    control = bert_encoder.random_control(seed=3)
    again = bert_encoder.random_control(seed=3)
    inputs = bert_encoder.inputs_from_pairs([("camera", "photographer")])
    (x,) = bert_encoder.encode(inputs)
    (y,) = control.encode(inputs)
    (z,) = again.encode(inputs)
    assert x.tokens == y.tokens and x.attentions.shape == y.attentions.shape
    assert not np.allclose(x.attentions, y.attentions)
    np.testing.assert_allclose(y.attentions, z.attentions)  # seeded
    assert "random init" in control.name


def test_from_relbert_switches_to_eager(tiny_bert_path):
    from relemb import RelBERT

    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu", template="a")
    before = model.get_embedding(("camera", "photographer"))
    encoder = AttentionEncoder.from_relbert(model)
    assert encoder.model.config._attn_implementation == "eager"
    assert encoder.template == TEMPLATES["a"]
    # the relation embedding is unchanged by the switch
    assert np.allclose(before, model.get_embedding(("camera", "photographer")), atol=1e-6)


@pytest.mark.slow
def test_minilm_prompt_positions(minilm_path):
    encoder = AttentionEncoder.from_pretrained(minilm_path, device="cpu")
    (item,) = encoder.encode(encoder.inputs_from_pairs([("camera", "photographer")]))
    assert item.attentions.shape[:2] == (6, 12)
    assert [item.tokens[p] for p in item.head_positions] == ["camera"]
    assert [item.tokens[p] for p in item.tail_positions] == ["photographer"]
    assert [item.tokens[p] for p in item.mask_positions] == ["[MASK]"]

import json

import pytest
import torch
from sentence_transformers import SentenceTransformer
from transformers import AutoModel

from relemb.choices import POOLING_MODES, check_pooling_mode
from relemb.modules import (
    LostWordError,
    LostWordWarning,
    MaskTruncatedError,
    RelationPooling,
    RelationTransformer,
    pool,
)
from relemb.prompts import TEMPLATES

PAIRS = [("tokyo", "japan"), ("puppy", "dog"), ("wheel", "car")]


def _encoder(path, template="d", pooling="mask", max_length=64):
    transformer = RelationTransformer(path, template=template, max_seq_length=max_length)
    pooler = RelationPooling(transformer.get_embedding_dimension(), transformer.mask_token_id, pooling)
    return SentenceTransformer(modules=[transformer, pooler], device="cpu")


def _manual_hidden_states(path, transformer, pairs):
    """Tokenize the rendered prompts one by one and run the raw transformers model."""
    model = AutoModel.from_pretrained(path).eval()
    outputs = []
    for text in transformer.render(pairs):
        ids = transformer.tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**ids).last_hidden_state[0]
        outputs.append((ids["input_ids"][0], hidden))
    return outputs


@pytest.mark.parametrize("mode", POOLING_MODES)
def test_pooling_matches_manual_forward(tiny_encoder_path, mode):
    encoder = _encoder(tiny_encoder_path, pooling=mode)
    transformer = encoder[0]
    got = torch.from_numpy(encoder.encode(PAIRS, batch_size=2))
    for row, (ids, hidden) in zip(got, _manual_hidden_states(tiny_encoder_path, transformer, PAIRS)):
        is_mask = ids == transformer.mask_token_id
        assert int(is_mask.sum()) == 1
        if mode == "mask":
            expected = hidden[is_mask][0]
        elif mode == "average":
            expected = hidden.mean(0)
        else:
            expected = hidden[~is_mask].mean(0)
        torch.testing.assert_close(row, expected, atol=1e-5, rtol=1e-4)


def test_average_no_mask_excludes_exactly_the_mask():
    emb = torch.arange(12, dtype=torch.float32).reshape(1, 4, 3)
    attention = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    is_mask = torch.tensor([[False, False, True, False]])
    no_mask = pool(emb, attention, is_mask, "average_no_mask")
    torch.testing.assert_close(no_mask, emb[0, :2].mean(0, keepdim=True))
    average = pool(emb, attention, is_mask, "average")
    torch.testing.assert_close(average, emb[0, :3].mean(0, keepdim=True))
    # means, not sums: scaling the sequence with padding does not change the result
    torch.testing.assert_close(pool(emb, attention, is_mask, "mask"), emb[0, 2:3])


def test_padding_does_not_change_embeddings(tiny_encoder_path):
    encoder = _encoder(tiny_encoder_path, pooling="average")
    alone = encoder.encode([PAIRS[0]])
    batched = encoder.encode([PAIRS[0], ("a", "pneumonoultramicroscopic silicovolcanoconiosis")])
    assert abs(alone[0] - batched[0]).max() < 1e-5


def test_dynamic_padding(tiny_bert_path):
    transformer = RelationTransformer(tiny_bert_path, template="<subj> is the <mask> of <obj>", max_seq_length=64)
    features = transformer.preprocess([("tokyo", "japan")])
    # [CLS] tokyo is the [MASK] of japan [SEP]: padded to the batch, never to max_length
    assert features["input_ids"].shape[1] < 16


@pytest.mark.parametrize("key", list(TEMPLATES))
def test_every_template_has_one_mask_token(tiny_encoder_path, key):
    transformer = RelationTransformer(tiny_encoder_path, template=key)
    features = transformer.preprocess(PAIRS)
    assert ((features["input_ids"] == transformer.mask_token_id).sum(1) == 1).all()


def test_mask_truncated_raises(tiny_bert_path):
    transformer = RelationTransformer(tiny_bert_path, template="<subj> is the <mask> of <obj>", max_seq_length=12)
    transformer.preprocess([("tokyo", "japan")])  # fits
    with pytest.raises(MaskTruncatedError, match=r"pair 1 .*max_length=12"):
        transformer.preprocess([("tokyo", "japan"), (" ".join(["tokyo"] * 12), "japan")])


def test_bad_pairs_name_index(tiny_bert_path):
    transformer = RelationTransformer(tiny_bert_path)
    with pytest.raises(TypeError, match="index 1"):
        transformer.preprocess([("a", "b"), "ab"])
    with pytest.raises(ValueError, match="index 0"):
        transformer.preprocess([("", "b")])


def test_prompt_argument_acts_as_template(tiny_bert_path):
    transformer = RelationTransformer(tiny_bert_path, template="d")
    short = transformer.preprocess([("a", "b")], prompt="<subj> <mask> <obj>")
    default = transformer.preprocess([("a", "b")])
    assert short["input_ids"].shape[1] < default["input_ids"].shape[1]


def test_unknown_pooling_mode():
    with pytest.raises(ValueError, match="unknown pooling mode 'sum'"):
        check_pooling_mode("sum")
    with pytest.raises(ValueError, match="average_no_mask"):
        RelationPooling(8, 4, "cls")


def test_template_and_pooling_saved_in_module_configs(tmp_path, tiny_roberta_path):
    encoder = _encoder(tiny_roberta_path, template="a", pooling="average")
    encoder.save(str(tmp_path), create_model_card=False)
    reloaded = SentenceTransformer(str(tmp_path), trust_remote_code=True, device="cpu")
    assert reloaded[0].template == TEMPLATES["a"]
    assert reloaded[1].pooling_mode == "average"
    assert abs(reloaded.encode(PAIRS) - encoder.encode(PAIRS)).max() < 1e-6


def test_config_version_is_a_saved_marker_not_an_option(tmp_path, tiny_bert_path):
    import inspect
    import json

    from relemb.checkpoint import CONFIG_VERSION

    assert "relemb_config_version" not in inspect.signature(RelationTransformer.__init__).parameters
    assert "relemb_config_version" not in RelationTransformer.config_keys
    encoder = _encoder(tiny_bert_path)
    encoder.save(str(tmp_path), create_model_card=False)
    saved = json.loads((tmp_path / "sentence_bert_config.json").read_text())
    assert saved["relemb_config_version"] == CONFIG_VERSION  # still written: older relemb versions read it
    assert RelationTransformer.VERSION_KEY not in RelationTransformer.load_config(str(tmp_path))
    with pytest.raises(TypeError, match="relemb_config_version"):
        RelationTransformer(tiny_bert_path, relemb_config_version=1)


@pytest.mark.parametrize("version", [None, 1, 2])
def test_checkpoints_with_any_config_version_marker_load(tmp_path, tiny_bert_path, caplog, version):
    import json
    import logging

    encoder = _encoder(tiny_bert_path, template="a")
    encoder.save(str(tmp_path), create_model_card=False)
    path = tmp_path / "sentence_bert_config.json"
    saved = json.loads(path.read_text())
    if version is None:
        saved.pop("relemb_config_version")
    else:
        saved["relemb_config_version"] = version  # 1: every checkpoint so far; 2: a newer relemb's
    path.write_text(json.dumps(saved))
    with caplog.at_level(logging.WARNING, logger="relemb"):
        reloaded = SentenceTransformer(str(tmp_path), trust_remote_code=True, device="cpu")
    assert reloaded[0].template == TEMPLATES["a"]
    assert abs(reloaded.encode(PAIRS) - encoder.encode(PAIRS)).max() < 1e-6
    assert ("relemb_config_version 2, newer than" in caplog.text) == (version == 2)


# ------------------------------------------------------------------------------ words that would be lost
LONG_A = " ".join(["dog"] * 79 + ["cat"])
LONG_B = " ".join(["dog"] * 79 + ["cow"])  # differs from LONG_A in its last word only


def test_a_truncated_tail_is_refused(tiny_bert_path):
    transformer = RelationTransformer(tiny_bert_path, max_seq_length=64)
    with pytest.raises(LostWordError, match=r"pair 1 .*the tail word is cut off by truncation at max_length=64"):
        transformer.preprocess([("tokyo", "japan"), ("tokyo", LONG_A)])
    (loss,) = transformer.word_losses([("tokyo", "japan"), ("tokyo", LONG_A)])
    assert (loss.index, loss.role, loss.problem) == (1, "tail word", "truncated")


def test_on_word_loss_warn_embeds_and_says_so(tiny_bert_path):
    transformer = RelationTransformer(tiny_bert_path, max_seq_length=64, on_word_loss="warn")
    with pytest.warns(LostWordWarning, match=r"2 pair\(s\) .*pair 0 .*pair 1 .*cut off"):
        features = transformer.preprocess([("tokyo", LONG_A), ("tokyo", LONG_B)])
    assert features["input_ids"].shape[1] == 64
    # the two tails differ only beyond max_length: that is why the default refuses them
    assert bool((features["input_ids"][0] == features["input_ids"][1]).all())
    with pytest.raises(ValueError, match="unknown on_word_loss 'ignore'; choose one of error, warn"):
        RelationTransformer(tiny_bert_path, on_word_loss="ignore")


def test_a_long_head_before_the_tail_removes_the_tail(tiny_encoder_path):
    transformer = RelationTransformer(tiny_encoder_path, template="<mask> is the relation of <subj> to <obj>")
    transformer.max_seq_length = 20
    with pytest.raises(LostWordError, match=r"pair 0 .*the head word is cut off"):
        transformer.preprocess([(" ".join(["dog"] * 30), "cat")])
    losses = transformer.word_losses([("cat", " ".join(["dog"] * 30)), ("a", "b")])
    assert [(loss.index, loss.role, loss.problem) for loss in losses] == [(0, "tail word", "truncated")]


@pytest.mark.parametrize(
    "kind, pair, role, problem, message",
    [
        (
            "bert",
            ("\U0001f600", "dog"),
            "head word",
            "unknown",
            r"the head word is unknown to the tokenizer: .*'\[UNK\]'",
        ),
        ("bert", ("cat", "[SEP]"), "tail word", "special", r"the tail word is the tokenizer's special token '\[SEP\]'"),
        ("bert", ("[PAD] cat", "dog"), "head word", "special", r"contains the tokenizer's special token '\[PAD\]'"),
        ("bert", ("\u0301", "dog"), "head word", "dropped", "the head word gives no tokens"),
        ("roberta", ("<s>", "dog"), "head word", "special", "special token '<s>'"),
        ("roberta", ("cat", "</s>"), "tail word", "special", "special token '</s>'"),
    ],
)
def test_words_the_tokenizer_cannot_carry_are_refused(
    tiny_bert_path, tiny_roberta_path, kind, pair, role, problem, message
):
    transformer = RelationTransformer(tiny_bert_path if kind == "bert" else tiny_roberta_path)
    (loss,) = transformer.word_losses([("cat", "dog"), pair])
    assert (loss.index, loss.role, loss.problem) == (1, role, problem)
    with pytest.raises(LostWordError, match=rf"pair 1 .*{message}"):
        transformer.preprocess([("cat", "dog"), pair])
    with pytest.warns(LostWordWarning, match=message):
        transformer.check_words([("cat", "dog"), pair], on_word_loss="warn")


def test_words_a_byte_level_tokenizer_carries_pass(tiny_roberta_path):
    transformer = RelationTransformer(tiny_roberta_path)
    assert transformer.word_losses([("\U0001f600", "\U0001f642"), ("[SEP]", "caf\u00e9")]) == []


def test_two_emoji_pairs_are_no_longer_one_vector(tiny_bert_path):
    encoder = _encoder(tiny_bert_path)
    with pytest.raises(LostWordError, match="pair 0 .*unknown"):
        encoder.encode([("\U0001f600", "\U0001f642"), ("\U0001f355", "\U0001f354")])


def test_the_mask_is_reported_before_the_words_it_shares_the_cut_with(tiny_bert_path):
    transformer = RelationTransformer(tiny_bert_path, template="<subj> is the <mask> of <obj>", max_seq_length=12)
    with pytest.raises(MaskTruncatedError, match=r"pair 0 .*mask token is cut off .*max_length=12"):
        transformer.check_words([(" ".join(["tokyo"] * 12), "japan")], on_word_loss="warn")


# ------------------------------------------------------------------------------ template and max length
@pytest.mark.parametrize("template", ["<subj> [MASK] <obj> <mask>", "<subj> is the [MASK] of <obj>"])
def test_a_literal_mask_token_in_the_template_is_named(tiny_bert_path, template):
    with pytest.raises(ValueError, match=r"writes the mask token '\[MASK\]' literally"):
        RelationTransformer(tiny_bert_path, template=template)
    transformer = RelationTransformer(tiny_bert_path)
    with pytest.raises(ValueError, match="literally"):
        transformer.set_template(template)
    with pytest.raises(ValueError, match="literally"):
        transformer.preprocess([("a", "b")], prompt=template)
    assert transformer.template == TEMPLATES["d"]


def test_a_template_that_tokenizes_to_two_masks_is_named(tiny_bert_path, monkeypatch):
    import relemb.modules

    transformer = RelationTransformer(tiny_bert_path)
    monkeypatch.setattr(relemb.modules, "resolve_template", lambda template, mask_token=None: template)
    with pytest.raises(ValueError, match=r"gives 2 mask tokens with this tokenizer instead of one"):
        transformer.set_template("<subj> [MASK] <obj> <mask>")


@pytest.mark.parametrize("value", [0, -5, 3, 24, 161, 10**6, 64.0, True, "64", None])
def test_max_length_outside_the_range_is_one_clear_error(tiny_bert_path, value):
    low, high = RelationTransformer(tiny_bert_path).max_length_range()
    assert (low, high) == (25, 160)  # template d on this tokenizer; 160 position embeddings
    message = r"max_length must be an integer from 25 \(what the template needs\) to 160 \(the model's maximum\)"
    if value is not None:
        with pytest.raises(ValueError, match=message):
            RelationTransformer(tiny_bert_path, max_seq_length=value)
    transformer = RelationTransformer(tiny_bert_path, max_seq_length=64)
    with pytest.raises(ValueError, match=message if value is not None else "max_length"):
        transformer.max_seq_length = value if value is not None else "none"
    assert transformer.max_seq_length == 64
    transformer.max_seq_length = 160
    assert transformer.max_seq_length == 160


def test_roberta_maximum_leaves_out_the_padding_offset(tiny_roberta_path):
    transformer = RelationTransformer(tiny_roberta_path)
    assert transformer.auto_model.config.max_position_embeddings == 162
    assert transformer.max_length_range()[1] == 160
    transformer.max_seq_length = 160
    long_pair = [("cat", " ".join(["dog"] * 200))]
    with pytest.warns(LostWordWarning):
        transformer.check_words(long_pair, on_word_loss="warn")
    with pytest.raises(ValueError, match="to 160"):
        transformer.max_seq_length = 161


def test_template_and_max_length_are_checked_together(tiny_bert_path):
    transformer = RelationTransformer(tiny_bert_path, template="<subj> <mask> <obj>", max_seq_length=8)
    assert transformer.max_length_range() == (5, 160)  # [CLS] a [MASK] b [SEP]
    with pytest.raises(ValueError, match=r"needs at least 25 tokens, more than max_length=8"):
        transformer.set_template("d")
    assert transformer.template == "<subj> <mask> <obj>"
    transformer.configure(template="d", max_seq_length=30)
    assert (transformer.template, transformer.max_seq_length) == (TEMPLATES["d"], 30)


def test_the_default_length_is_at_most_the_models(tiny_encoder_path, tmp_path):
    import shutil

    folder = tmp_path / "encoder"
    shutil.copytree(tiny_encoder_path, folder)  # RoBERTa: 162 position embeddings, 2 of them before the first token
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["model_max_length"] = 10**30  # "no limit", as some tokenizers say
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    assert RelationTransformer(str(folder)).max_seq_length == 160

import pytest
import torch
from sentence_transformers import SentenceTransformer
from transformers import AutoModel

from relemb.choices import POOLING_MODES, check_pooling_mode
from relemb.modules import MaskTruncatedError, RelationPooling, RelationTransformer, pool
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

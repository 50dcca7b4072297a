"""P-tuning on tiny models: prompt encoder, prompt tokens, frozen encoder, save/load bit-equality."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from relemb import RelBERT
from relemb.data import RelationRecord, load_relation_similarity
from relemb.losses import RelationNCELoss, RelationTripletLoss
from relemb.prompt_learning import (
    PromptEncoder,
    PromptLearningArguments,
    PromptObjective,
    PTuning,
    TriggerLayout,
    add_prompt_tokens,
    learn_autoprompt,
    learn_prompt,
    learn_ptuning,
)
from relemb.testing import ToyDirectionLoss as ToyLoss
from relemb.train_config import LossArguments
from relemb.training import records_to_dataset

PAIRS = [("camera", "photographer"), ("oak", "tree"), ("puppy", "dog"), ("tokyo", "japan")]


class FailingLoss(nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, sentence_features, labels):
        raise RuntimeError("loss exploded")


@pytest.fixture(scope="module")
def records():
    return load_relation_similarity("starter")[:4]


def toy_objective(model, records, loss=ToyLoss) -> PromptObjective:
    rows = records_to_dataset(records).dataset
    return PromptObjective(model, loss(model.encoder), rows["pair"], rows["label"], batch_size=10_000)


# ------------------------------------------------------------------------------------ building blocks
def test_prompt_encoder_is_a_bilstm_mlp_with_gradients():
    torch.manual_seed(0)
    encoder = PromptEncoder(n_tokens=4, dim=6)
    vectors = encoder()
    assert vectors.shape == (4, 6)
    vectors.sum().backward()
    assert encoder.inputs.weight.grad is not None and encoder.inputs.weight.grad.abs().sum() > 0
    assert isinstance(encoder.lstm, nn.LSTM) and encoder.lstm.bidirectional and encoder.lstm.num_layers == 2
    with pytest.raises(ValueError, match="n_tokens >= 1"):
        PromptEncoder(n_tokens=0, dim=6)


def test_training_rows_label_pairs_once_and_batches_keep_relations(tiny_bert_path):
    records = [
        RelationRecord("1/a", [("a", "b"), ("c", "d")], [("e", "f")]),
        RelationRecord("1/b", [("e", "f"), ("g", "h")], []),
        RelationRecord("2/a", [("i", "j"), ("k", "l")], [("a", "b")]),
    ]
    rows = records_to_dataset(records).dataset  # the trainer's rows are the prompt's rows
    pairs, labels = [tuple(p) for p in rows["pair"]], list(rows["label"])
    assert len(pairs) == 8
    assert labels[2] == [0, 0, 2] and labels[3] == [1, 1, 2]  # ("e", "f") is one pair in two relations
    assert labels[7] == [2, 0, 0]
    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    objective = PromptObjective(model, ToyLoss(model.encoder), pairs, labels, batch_size=3)
    seen = []
    for step in range(objective.batches_per_epoch):
        batch_pairs, batch_labels = objective.batch(step)
        relations = set(batch_labels[:, 0].tolist())
        for relation in relations:  # whole relations only
            assert (batch_labels[:, 0] == relation).sum() == sum(1 for label in labels if label[0] == relation)
        seen += batch_pairs
    assert sorted(seen) == sorted(pairs)
    assert PromptObjective.from_records(model, records, loss=ToyLoss(model.encoder)).pairs == pairs
    with pytest.raises(ValueError, match="empty list of records"):
        PromptObjective.from_records(model, [])


@pytest.mark.parametrize("n", [(2, 3, 2), (0, 2, 0)])
def test_prompt_tokens_are_one_token_each(tiny_encoder_path, n):
    model = RelBERT.from_pretrained(tiny_encoder_path, device="cpu")
    old_size = model.transformer.model.get_input_embeddings().weight.shape[0]
    names, ids = add_prompt_tokens(model, sum(n))
    assert names[0] == "<relemb_p0>" and len(set(ids)) == sum(n)
    assert model.transformer.model.get_input_embeddings().weight.shape[0] == old_size + sum(n)
    template = TriggerLayout(*n).template(names)
    with_prompt = model.tokenizer(model.transformer.render(PAIRS, template))["input_ids"]
    # the same layout with a one-token word in every slot: the prompt tokens take exactly its places
    words = model.tokenizer(model.transformer.render(PAIRS, TriggerLayout(*n).template(["the"] * sum(n))))
    the_ids = {i for text in ("the", " the") for i in model.tokenizer(text, add_special_tokens=False)["input_ids"]}
    for row_prompt, row_words in zip(with_prompt, words["input_ids"]):
        assert [i for i in row_prompt if i in ids] == ids  # each once, in order
        assert len(row_prompt) == len(row_words)  # no stray tokens (e.g. a lone space) around them
        assert [i for i in row_prompt if i not in ids] == [i for i in row_words if i not in the_ids]
    again, _ = add_prompt_tokens(model, 2)
    assert not set(again) & set(names)


# ------------------------------------------------------------------------------------ training
def test_ptuning_trains_only_the_prompt_encoder(tiny_bert_path, records):
    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    before = {k: v.clone() for k, v in model.transformer.model.state_dict().items()}
    old_rows = before["embeddings.word_embeddings.weight"].shape[0]
    objective = toy_objective(model, records)
    args = PromptLearningArguments(prompt="ptuning", prompt_iterations=15, prompt_lr=1e-2)
    result = learn_ptuning(model, objective, args)

    assert len(result.loss_history) == 15
    assert result.final_loss < result.initial_loss - 1e-3
    assert result.final_loss < result.loss_history[0]
    after = model.transformer.model.state_dict()
    for key, value in before.items():
        if key == "embeddings.word_embeddings.weight":
            assert torch.equal(after[key][:old_rows], value)
            assert torch.equal(after[key][result.prompt_token_ids], result.prompt_vectors)
        else:
            assert torch.equal(after[key], value), key
    assert all(p.requires_grad for p in model.encoder.parameters())  # restored for later fine-tuning
    assert model.template == result.template and "<relemb_p6>" in model.template
    assert model.config.training["prompt_learning"]["prompt_tokens"] == result.prompt_tokens
    assert not model.transformer.model.get_input_embeddings()._forward_hooks


def test_saved_prompt_vectors_are_the_trained_ones(tiny_encoder_path, records, tmp_path):
    model = RelBERT.from_pretrained(tiny_encoder_path, device="cpu")
    tuning = PTuning(model, TriggerLayout(1, 2, 1), seed=0)
    tuning.fit(toy_objective(model, records), iterations=3, lr=1e-2)
    during_training = model.get_embedding(PAIRS)  # through the prompt encoder's hook
    raw_inputs = tuning.prompt_encoder.inputs.weight.detach().clone()
    vectors = tuning.finalize()
    rows = model.transformer.model.get_input_embeddings().weight[tuning.token_ids].detach()
    assert torch.equal(rows, vectors) and not torch.allclose(rows, raw_inputs)  # outputs, not raw inputs
    after_finalize = model.get_embedding(PAIRS)
    assert np.array_equal(during_training, after_finalize)

    model.save_pretrained(tmp_path / "pt")
    loaded = RelBERT.from_pretrained(tmp_path / "pt", device="cpu")
    assert loaded.template == model.template
    assert np.array_equal(loaded.get_embedding(PAIRS), during_training)

    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(str(tmp_path / "pt"), trust_remote_code=True, device="cpu")
    assert np.array_equal(encoder.encode(PAIRS), during_training)
    with pytest.raises(RuntimeError, match="finalized"):
        tuning.attach()


def test_failed_ptuning_removes_the_hook_and_restores_the_template(tiny_bert_path, records):
    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    template = model.template
    flags = [p.requires_grad for p in model.encoder.parameters()]
    with pytest.raises(RuntimeError, match="loss exploded"):
        learn_ptuning(model, toy_objective(model, records, FailingLoss), PromptLearningArguments(prompt="ptuning"))
    assert model.template == template
    assert not model.transformer.model.get_input_embeddings()._forward_hooks
    assert [p.requires_grad for p in model.encoder.parameters()] == flags
    assert "prompt_learning" not in model.config.training


def test_learn_prompt_dispatches_by_kind(tiny_bert_path, records):
    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    template = model.template
    assert learn_prompt(model, records, PromptLearningArguments(prompt="manual")) is None
    assert model.template == template
    args = PromptLearningArguments(prompt="ptuning", prompt_n1=0, prompt_n2=1, prompt_n3=0, prompt_iterations=1)
    result = learn_prompt(model, records, args)  # RelBERT's nce loss
    assert model.template == result.template == "<subj> <relemb_p0> <obj> <mask>"
    # the trainer's rows (relemb.training.build_datasets(...).dataset) work as well
    from datasets import Dataset

    rows = records_to_dataset(records).dataset
    again = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    assert learn_prompt(again, rows, args).template == "<subj> <relemb_p0> <obj> <mask>"
    with pytest.raises(ValueError, match="columns 'pair' and 'label'"):
        learn_prompt(again, Dataset.from_dict({"pair": [["a", "b"]]}), args)
    with pytest.raises(TypeError, match="PromptLearningArguments"):
        learn_prompt(model, records, {"prompt": "ptuning"})
    other = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    with pytest.raises(ValueError, match="different model"):
        learn_ptuning(other, toy_objective(model, records), args)


def test_prompts_are_learned_on_the_loss_they_are_given(tiny_bert_path, records, monkeypatch):
    seen = []
    original = PromptObjective.__init__

    def objective_init(self, model, loss, *args, **kwargs):
        seen.append(loss)
        original(self, model, loss, *args, **kwargs)

    monkeypatch.setattr(PromptObjective, "__init__", objective_init)
    args = PromptLearningArguments(prompt="ptuning", prompt_n1=0, prompt_n2=1, prompt_n3=0, prompt_iterations=1)
    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu")

    learn_prompt(model, records, args)  # default: LossArguments(), RelBERT's nce
    assert isinstance(seen[-1], RelationNCELoss) and seen[-1].temperature == 0.05 and seen[-1].parent_groups is None
    options = LossArguments(
        loss="nce",
        temperature=0.3,
        loob=True,
        negative_augmentation=False,
        parent_contrast=True,
        classification_loss=True,
    )
    learn_ptuning(model, records, args, loss=options)  # every option, the parent classes from the records
    nce = seen[-1]
    assert nce.temperature == 0.3 and nce.loob and not nce.negative_augmentation and nce.head is not None
    assert nce.parent_groups.tolist() == records_to_dataset(records).parent_groups
    assert model.config.training["prompt_learning"]["loss"] == {"name": "RelationNCELoss", **nce.get_config_dict()}

    other = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    autoprompt = PromptLearningArguments(
        prompt="autoprompt", prompt_n1=0, prompt_n2=1, prompt_n3=0, prompt_iterations=1, prompt_candidates=1
    )
    learn_autoprompt(other, records, autoprompt, loss=LossArguments(loss="triplet", margin=0.25))
    assert isinstance(seen[-1], RelationTripletLoss) and seen[-1].margin == 0.25
    module = RelationTripletLoss(other.encoder, margin=2.0)
    learn_prompt(other, records, autoprompt, loss=module)  # a ready module is used as it is
    assert seen[-1] is module

    # the objective's value follows the options
    default = PromptObjective.from_records(other, records).full_loss()
    assert PromptObjective.from_records(other, records, loss=LossArguments(temperature=0.3)).full_loss() != default

    rows = records_to_dataset(records).dataset  # bare rows know no parent classes
    with pytest.raises(ValueError, match="parent_contrast needs the parent classes"):
        learn_prompt(other, rows, args, loss=LossArguments(parent_contrast=True))
    with pytest.raises(ValueError, match="carries its own loss"):
        learn_ptuning(other, toy_objective(other, records), args, loss=LossArguments())
    with pytest.raises(TypeError, match="LossArguments"):
        learn_prompt(other, records, args, loss="nce")


@pytest.mark.slow
def test_ptuned_minilm_reloads_identically(minilm_path, records, tmp_path):
    model = RelBERT.from_pretrained(minilm_path, device="cpu")
    args = PromptLearningArguments(
        prompt="ptuning", prompt_n1=1, prompt_n2=1, prompt_n3=1, prompt_iterations=1, prompt_batch_size=16
    )
    result = learn_ptuning(model, toy_objective(model, records), args)
    ids = model.tokenizer(model.transformer.render([("Dog", "Puppy")]))["input_ids"][0]
    assert [ids[1], ids[3], ids[5]] == result.prompt_token_ids  # the lower-casing tokenizer keeps them whole
    embeddings = model.get_embedding(PAIRS)
    model.save_pretrained(tmp_path / "minilm-pt")
    loaded = RelBERT.from_pretrained(tmp_path / "minilm-pt", device="cpu")
    assert np.array_equal(loaded.get_embedding(PAIRS), embeddings)

"""AutoPrompt on tiny models: arguments, layout, candidate vocabulary, HotFlip, search, round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from relemb import RelBERT
from relemb.data import load_relation_similarity
from relemb.prompt_learning import (
    PromptLearningArguments,
    PromptObjective,
    TemplateRoundTripError,
    TriggerLayout,
    candidate_vocabulary,
    hotflip_candidates,
    learn_autoprompt,
    trigger_positions,
)
from relemb.prompts import render_prompt
from relemb.testing import ToyDirectionLoss as ToyLoss
from relemb.training import records_to_dataset


@pytest.fixture(scope="module")
def records():
    return load_relation_similarity("starter")[:4]


def toy_objective(model, records) -> PromptObjective:
    rows = records_to_dataset(records).dataset
    return PromptObjective(model, ToyLoss(model.encoder), rows["pair"], rows["label"], batch_size=10_000)


def backbone_state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.transformer.model.state_dict().items()}


# ------------------------------------------------------------------------------------ arguments
def test_arguments_parse_next_to_training_arguments(tmp_path):
    from sentence_transformers import SentenceTransformerTrainingArguments
    from transformers import HfArgumentParser

    parser = HfArgumentParser((PromptLearningArguments, SentenceTransformerTrainingArguments))
    prompt_args, training_args = parser.parse_args_into_dataclasses(
        [
            "--prompt",
            "ptuning",
            "--prompt_n1",
            "1",
            "--prompt_n2",
            "0",
            "--prompt_n3",
            "4",
            "--prompt_candidates",
            "7",
            "--output_dir",
            str(tmp_path),
            "--seed",
            "3",
        ]
    )
    assert prompt_args.prompt == "ptuning"
    assert prompt_args.n_triggers == (1, 0, 4)
    assert prompt_args.prompt_candidates == 7
    assert training_args.seed == 3 and prompt_args.prompt_seed == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"prompt": "soft"}, "unknown prompt kind 'soft'"),
        ({"prompt": "autoprompt", "prompt_n1": 0, "prompt_n2": 0, "prompt_n3": 0}, "at least one trigger"),
        ({"prompt_n2": -1}, "prompt_n2 must be an integer >= 0"),
        ({"prompt_candidates": 0}, "prompt_candidates must be an integer >= 1"),
        ({"prompt_lr": 0.0}, "prompt_lr must be > 0"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PromptLearningArguments(**kwargs)


def test_no_loss_option_of_its_own():
    """The prompt is learned on the fine-tuning loss (LossArguments): no second list of losses."""
    import dataclasses

    assert all("loss" not in f.name for f in dataclasses.fields(PromptLearningArguments))
    with pytest.raises(TypeError, match="prompt_loss"):
        PromptLearningArguments(prompt_loss="nce")


# ------------------------------------------------------------------------------------ layout
@pytest.mark.parametrize("n", [(2, 3, 2), (0, 1, 0), (0, 0, 3), (1, 0, 0)])
def test_layout_spans_point_at_the_triggers(n):
    layout = TriggerLayout(*n)
    words = [f"w{i}" for i in range(layout.n_triggers)]
    template = layout.template(words)
    assert template.endswith("<mask>") and template.count("<subj>") == 1 and template.count("<obj>") == 1
    text = render_prompt(template, "ice cream", "cone", "[MASK]")
    spans = layout.trigger_spans(words, "ice cream", "cone", "[MASK]")
    assert [text[s:e] for s, e in spans] == words
    assert layout.starts_text(0) == (n[0] > 0)


def test_layout_rejects_bad_triggers():
    with pytest.raises(ValueError, match="at least one trigger"):
        TriggerLayout(0, 0, 0)
    with pytest.raises(ValueError, match="one word without spaces"):
        TriggerLayout(1, 0, 0).template(["two words"])
    with pytest.raises(ValueError, match="has 2 trigger slots, got 1"):
        TriggerLayout(1, 1, 0).template(["a"])


# ------------------------------------------------------------------------------------ vocabulary and HotFlip
def test_candidates_are_whole_words_that_round_trip(tiny_encoder_path):
    model = RelBERT.from_pretrained(tiny_encoder_path, device="cpu")
    tokenizer = model.tokenizer
    vocabulary = candidate_vocabulary(tokenizer)
    inner = vocabulary.inner.nonzero().flatten().tolist()
    start = vocabulary.start.nonzero().flatten().tolist()
    assert len(inner) > 20 and len(start) > 20
    for token_id in inner:
        word = vocabulary.words[token_id]
        assert word.isalpha() and not tokenizer.convert_ids_to_tokens(token_id).startswith("##")
        assert tokenizer(" " + word, add_special_tokens=False)["input_ids"] == [token_id]
    for token_id in start:
        assert tokenizer(vocabulary.words[token_id], add_special_tokens=False)["input_ids"] == [token_id]
    assert not set(tokenizer.all_special_ids) & set(inner + start)


def test_hotflip_ranks_by_first_order_loss_change():
    embeddings = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [-2.0, -2.0]])
    gradient = torch.tensor([1.0, 0.5])
    allowed = torch.tensor([True, True, True, True, False])
    # (e_v - e_0) . g: v1 = 1.0, v2 = 0.5, v3 = -1.0, v4 = -3.0 (not allowed); the current token 0 is excluded
    assert hotflip_candidates(gradient, embeddings, allowed, current_id=0, k=2) == [3, 2]
    assert hotflip_candidates(gradient, embeddings, allowed, current_id=0, k=10) == [3, 2, 1]


def test_trigger_positions_follow_the_layout_with_repeated_words(tiny_encoder_path):
    model = RelBERT.from_pretrained(tiny_encoder_path, device="cpu")
    vocabulary = candidate_vocabulary(model.tokenizer)
    layout = TriggerLayout(2, 2, 1)
    ids = [vocabulary.id_of("the", layout.starts_text(slot)) for slot in range(layout.n_triggers)]
    words = ["the"] * layout.n_triggers
    pairs = [("tokyo", "japan"), ("puppy", "dog")]
    features = model.encoder.preprocess(pairs, prompt=layout.template(words))
    positions = trigger_positions(model, layout, words, ids, pairs, features["input_ids"])
    assert positions.shape == (2, 5)
    for row in range(2):
        assert positions[row].tolist() == sorted(set(positions[row].tolist()))
        assert features["input_ids"][row, positions[row]].tolist() == ids
    wrong = list(ids)
    wrong[3] = ids[3] + 1
    with pytest.raises(TemplateRoundTripError, match="trigger 3"):
        trigger_positions(model, layout, words, wrong, pairs, features["input_ids"])


# ------------------------------------------------------------------------------------ search
def test_search_changes_tokens_and_lowers_the_loss_encoder_frozen(tiny_bert_path, records):
    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    before = backbone_state(model)
    flags = [p.requires_grad for p in model.encoder.parameters()]
    objective = toy_objective(model, records)
    args = PromptLearningArguments(prompt="autoprompt", prompt_iterations=6, prompt_candidates=8)
    result = learn_autoprompt(model, objective, args)

    assert result.n_flips >= 1
    assert result.trigger_tokens != ["the"] * 7
    assert len(result.loss_history) == 6
    # one batch holds all the data: every kept flip lowered the loss, so the history never rises
    assert all(b <= a + 1e-6 for a, b in zip(result.loss_history, result.loss_history[1:]))
    assert result.final_loss < result.initial_loss
    assert result.final_loss == pytest.approx(result.loss_history[-1], abs=1e-5)
    assert model.template == result.template
    assert model.config.training["prompt_learning"]["kind"] == "autoprompt"
    after = backbone_state(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [p.requires_grad for p in model.encoder.parameters()] == flags


def test_learned_template_round_trips_and_saves(tiny_encoder_path, records, tmp_path):
    model = RelBERT.from_pretrained(tiny_encoder_path, device="cpu")
    args = PromptLearningArguments(
        prompt="autoprompt", prompt_n1=1, prompt_n2=2, prompt_n3=1, prompt_iterations=4, prompt_candidates=4
    )
    result = learn_autoprompt(model, records, args)  # RelBERT's nce loss on real relations
    assert np.isfinite(result.loss_history).all()
    layout = TriggerLayout(1, 2, 1)
    assert result.template == layout.template(result.trigger_tokens)
    pairs = [("camera", "photographer"), ("oak", "tree")]
    features = model.encoder.preprocess(pairs)
    positions = trigger_positions(
        model, layout, result.trigger_tokens, result.trigger_ids, pairs, features["input_ids"]
    )
    assert features["input_ids"][0, positions[0]].tolist() == result.trigger_ids

    embeddings = model.get_embedding(pairs)
    model.save_pretrained(tmp_path / "ap")
    loaded = RelBERT.from_pretrained(tmp_path / "ap", device="cpu")
    assert loaded.template == result.template
    assert np.array_equal(loaded.get_embedding(pairs), embeddings)
    # the template is an ordinary template: it works on a fresh encoder too
    fresh = RelBERT.from_pretrained(tiny_encoder_path, template=result.template, device="cpu")
    assert fresh.get_embedding(pairs).shape == embeddings.shape


def test_unusable_initial_token_is_named(tiny_bert_path, records):
    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    args = PromptLearningArguments(prompt="autoprompt", prompt_initial_token="zzqx", prompt_iterations=1)
    with pytest.raises(ValueError, match="'zzqx' is not a whole-word token"):
        learn_autoprompt(model, records, args)
    assert model.template != "" and "zzqx" not in model.template


@pytest.mark.slow
def test_autoprompt_on_minilm_round_trips(minilm_path, records):
    model = RelBERT.from_pretrained(minilm_path, device="cpu")
    args = PromptLearningArguments(
        prompt="autoprompt",
        prompt_n1=1,
        prompt_n2=1,
        prompt_n3=1,
        prompt_iterations=2,
        prompt_candidates=3,
        prompt_batch_size=16,
    )
    result = learn_autoprompt(model, records, args)
    vocabulary = candidate_vocabulary(model.tokenizer)
    assert all(vocabulary.inner[i] or vocabulary.start[i] for i in result.trigger_ids)
    ids = model.tokenizer(model.transformer.render([("dog", "puppy")]))["input_ids"][0]
    assert [ids[1], ids[3], ids[5]] == result.trigger_ids  # [CLS] t <subj> t <obj> t [MASK] [SEP]

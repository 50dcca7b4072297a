"""relemb.training: data building, model selection, saved outputs, resume, fail-fast checks (tiny models, starter set)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from relemb import RelBERT
from relemb.data import DatasetNotFoundError, RelationRecord, load_relation_similarity
from relemb.evaluation import ValidationEvaluator
from relemb.losses import RelationNCELoss, RelationTripletLoss
from relemb.prompt_learning import PromptLearningArguments, PromptObjective
from relemb.results import RunResult
from relemb.train_config import DataArguments, LossArguments, ModelArguments, RelationTrainingArguments
from relemb.training import (
    LOSS_HEAD_FILE,
    RESULTS_FILE,
    TrainingData,
    build_datasets,
    build_evaluators,
    build_loss,
    records_to_dataset,
    select_relations,
    train,
)


def training_args(output_dir, **overrides) -> RelationTrainingArguments:
    values = dict(
        output_dir=str(output_dir),
        num_train_epochs=2,
        learning_rate=1e-3,
        per_device_train_batch_size=128,
        use_cpu=True,
        disable_tqdm=True,
        logging_steps=1,
        seed=11,
    )
    values.update(overrides)
    return RelationTrainingArguments(**values)


def weights(folder) -> dict[str, torch.Tensor]:
    return load_file(str(Path(folder) / "model.safetensors"))


# ------------------------------------------------------------------------------------------ data
def test_records_to_dataset_rows_and_shared_pair_ids():
    records = [
        RelationRecord("1/a", [("x", "y"), ("u", "v")], [("y", "x")]),
        RelationRecord("2/b", [("x", "y"), ("p", "q")], []),
    ]
    data = records_to_dataset(records)
    assert isinstance(data, TrainingData)
    dataset = data.dataset
    assert dataset.column_names == ["pair", "label"]
    assert dataset["pair"][0] == ["x", "y"]
    assert list(dataset["label"]) == [[0, 1, 0], [0, 1, 1], [0, 0, 2], [1, 1, 0], [1, 1, 3]]
    assert data.relations == ["1/a", "2/b"] and data.parents == ["1", "2"] and data.parent_groups == [0, 1]
    assert data.n_pairs == 5 and not data.validation and not data.test and not data.sources
    with pytest.raises(ValueError, match="empty list of records"):
        records_to_dataset([])
    with pytest.raises(TypeError, match="RelationRecord objects"):
        records_to_dataset([{"relation_type": "1/a", "positives": [["a", "b"]], "negatives": []}])


def test_select_relations_by_type_and_parent_class():
    records = load_relation_similarity("starter", "train")
    types = [r.relation_type for r in records]
    parent = records[0].parent
    kept, excluded = select_relations(records, [parent, types[-1]])
    assert all(r.parent != parent for r in kept) and types[-1] not in [r.relation_type for r in kept]
    assert set(excluded) == {t for t in types if t.split("/")[0] == parent} | {types[-1]}
    with pytest.raises(ValueError, match="'hypernymy' is neither a relation type nor a parent class"):
        select_relations(records, ["hypernymy"])
    with pytest.raises(ValueError, match="at least 2"):
        select_relations(records, sorted({r.parent for r in records}))


def test_build_datasets_loads_everything_up_front():
    data = build_datasets(DataArguments(data="starter", eval_datasets=["starter"], test_datasets=["starter"]))
    train_records = load_relation_similarity("starter", "train")
    assert data.n_pairs == sum(len(r.positives) + len(r.negatives) for r in train_records)
    assert list(data.validation) == ["starter_relations_validation", "starter_validation"]
    assert len(data.validation["starter_relations_validation"]) == len(
        load_relation_similarity("starter", "validation")
    )
    assert len(data.test["starter"]) == 96
    evaluator = build_evaluators(data)
    assert isinstance(evaluator, ValidationEvaluator)
    assert [e.name for e in evaluator.evaluators] == ["starter_relations_validation", "starter_validation"]
    # where every file came from, for results.json: train and validation relations, analogy validation, test
    assert [(s.name, s.split, Path(s.location).name) for s in data.sources] == [
        ("starter", "train", "train.jsonl"),
        ("starter", "validation", "valid.jsonl"),
        ("starter", "validation", "analogy_valid.jsonl"),
        ("starter", "test", "analogy_test.jsonl"),
    ]
    assert all(s.source == "bundled" and s.sha256 for s in data.sources)

    excluded = build_datasets(DataArguments(data="starter", exclude_relations=[train_records[0].parent]))
    key = "starter_relations_validation"
    assert len(excluded.validation[key]) < len(data.validation[key])
    assert train_records[0].relation_type not in excluded.relations


def test_build_datasets_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError):
        build_datasets(DataArguments(data=str(tmp_path / "missing.jsonl")))
    with pytest.raises(ValueError, match="dataset .u7. .*was not found"):
        build_datasets(DataArguments(data="starter", test_datasets=["u7"]))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"relation_type": "1/a", "positives": [["a", "b"]], "negatives": []}\n'
        '{"relation_type": "1/b", "positives": [["c", "d"], ["e", "f"]], "negatives": []}\n'
    )
    with pytest.raises(ValueError, match="at least 2 per relation"):
        build_datasets(DataArguments(data=str(bad)))


# ----------------------------------------------------------------------------------------- train
def test_train_end_to_end_writes_model_results_and_card(tiny_bert_path, tmp_path, caplog):
    out = tmp_path / "run"
    with caplog.at_level(logging.INFO):
        result = train(
            ModelArguments(base_model=tiny_bert_path, template="a", pooling="mask"),
            DataArguments(data="starter", test_datasets=["starter"]),
            LossArguments(loss="nce"),
            training_args(out),
        )
    assert "Error while generating model card" not in caplog.text
    # results.json is a RunResult (the results schema relemb-eval writes too)
    run = RunResult.load(out / RESULTS_FILE)
    assert run.task == "train" and run == result.run_result
    details, scores = run.details, run.scores
    assert details["best_checkpoint"].startswith(str(out / "checkpoint-"))
    history = [h["eval_validation_mean_accuracy"] for h in details["history"]]
    assert len(history) == 2 and details["best_metric"] == pytest.approx(max(history))
    assert details["global_steps"] > 0 and details["train_loss"] > 0 and details["train_seconds"] > 0
    assert set(scores) == {"validation", "validation_n", "test", "test_intervals", "test_n"}
    assert 0.0 <= scores["test"]["starter"] <= 1.0
    low, high = scores["test_intervals"]["starter"]
    assert low <= scores["test"]["starter"] <= high and scores["test_n"]["starter"] == 96
    assert len(details["test"]["starter"]["correct"]) == 96  # what relemb-eval compare pairs
    selection = scores["validation"]
    assert selection["validation_mean_accuracy_ci_low"] <= selection["validation_mean_accuracy"]
    assert selection["validation_mean_accuracy"] <= selection["validation_mean_accuracy_ci_high"]
    assert scores["validation"]["validation_mean_accuracy"] == pytest.approx(details["best_metric"])
    assert run.arguments["loss"] == "nce" and run.arguments["relations"] == 24
    assert run.model["base_model"] == tiny_bert_path and run.model["pooling"] == "mask"
    assert run.model["max_length"] == 64 and run.model["output_dir"] == str(out)
    assert [(s.split, Path(s.location).name) for s in run.datasets] == [
        ("train", "train.jsonl"),
        ("validation", "valid.jsonl"),
        ("test", "analogy_test.jsonl"),
    ]
    assert run.versions["relemb"] and run.seconds >= details["train_seconds"]
    # the flat view callers (relemb-train's table) read
    assert result.results["test"] == scores["test"] and result.results["validation"] == scores["validation"]
    assert result.results["best_checkpoint"] == details["best_checkpoint"]
    assert result.results["recipe"] == run.arguments and result.results["template"] == run.model["template"]

    model = RelBERT.from_pretrained(out, device="cpu")
    assert model.pooling == "mask" and model.template.startswith("Today, I finally")
    assert model.config.training["learning_rate"] == 1e-3
    assert model.config.results["starter_test_accuracy"] == pytest.approx(scores["test"]["starter"], abs=1e-4)
    card = (out / "README.md").read_text()
    assert "## Training" in card and "## Results" in card and "starter_test_accuracy" in card
    # the best checkpoint is what was saved as the final model
    best = weights(details["best_checkpoint"])
    final = weights(out)
    assert all(torch.equal(best[k], final[k]) for k in best)
    # checkpoints are loadable relemb models too
    assert RelBERT.from_pretrained(details["best_checkpoint"], device="cpu").pooling == "mask"
    assert result.model.encoder is not None


# ------------------------------------------------------------------------- one loss for prompt and fine-tuning
#: every option of LossArguments, off its default
NCE_OPTIONS = dict(
    loss="nce", temperature=0.2, loob=True, negative_augmentation=False, parent_contrast=True, classification_loss=True
)
TRIPLET_OPTIONS = dict(loss="triplet", margin=0.3, negative_augmentation=False, classification_loss=True)


@pytest.fixture
def captured_losses(monkeypatch):
    """The loss module of every PromptObjective and every RelationTrainer built during the test, in order."""
    import relemb.training as train_module

    seen: dict[str, list] = {"objective": [], "trainer": []}
    original = PromptObjective.__init__

    def objective_init(self, model, loss, *args, **kwargs):
        seen["objective"].append(loss)
        original(self, model, loss, *args, **kwargs)

    class Trainer(train_module.RelationTrainer):
        def __init__(self, *args, **kwargs):
            seen["trainer"].append(kwargs["loss"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(PromptObjective, "__init__", objective_init)
    monkeypatch.setattr(train_module, "RelationTrainer", Trainer)
    return seen


def assert_loss_has(module, options: dict, parent_groups: list[int]) -> None:
    """``module`` is the loss ``options`` (a LossArguments dict) asks for, with every option set."""
    if options["loss"] == "nce":
        assert isinstance(module, RelationNCELoss)
        assert module.temperature == options["temperature"] and module.loob == options["loob"]
        assert module.parent_groups is not None and module.parent_groups.tolist() == parent_groups
    else:
        assert isinstance(module, RelationTripletLoss)
        assert module.margin == options["margin"]
    assert module.negative_augmentation == options["negative_augmentation"]
    assert (module.head is not None) == options["classification_loss"]


@pytest.mark.parametrize(
    "options, kind, prompt_only",
    [(NCE_OPTIONS, "autoprompt", True), (TRIPLET_OPTIONS, "ptuning", False)],
    ids=["nce-autoprompt", "triplet-ptuning-then-fine-tuning"],
)
def test_every_loss_option_reaches_the_prompt_objective(
    tiny_bert_path, tmp_path, captured_losses, options, kind, prompt_only
):
    out = tmp_path / "run"
    prompt = PromptLearningArguments(
        prompt=kind, prompt_only=prompt_only, prompt_iterations=1, prompt_candidates=2, prompt_batch_size=10_000
    )
    result = train(
        ModelArguments(base_model=tiny_bert_path),
        DataArguments(data="starter"),
        LossArguments(**options),
        training_args(out, num_train_epochs=1),
        prompt_args=prompt,
    )
    parent_groups = build_datasets(DataArguments(data="starter")).parent_groups
    assert len(captured_losses["objective"]) == 1 and len(captured_losses["trainer"]) == 1
    (learned_on,) = captured_losses["objective"]
    assert_loss_has(learned_on, options, parent_groups)
    assert learned_on is captured_losses["trainer"][0]  # the prompt is learned on the fine-tuning loss itself
    # what the prompt was learned on is recorded, with the options
    recorded = RunResult.load(out / RESULTS_FILE).arguments["prompt_learning"]
    assert recorded["kind"] == kind and recorded["loss"] == {
        "name": type(learned_on).__name__,
        **learned_on.get_config_dict(),
    }
    assert "prompt_loss" not in recorded["arguments"]
    assert (
        result.run_result.details["train_loss"] is None if prompt_only else result.run_result.details["train_loss"] > 0
    )


def test_relemb_train_prompt_learns_on_the_loss_options(tiny_bert_path, tmp_path, captured_losses):
    from relemb.cli import main

    out = tmp_path / "cli"
    code = main(
        [
            "train",
            "--base_model",
            tiny_bert_path,
            "--data",
            "starter",
            "--output_dir",
            str(out),
            "--prompt",
            "autoprompt",
            "--prompt_only",
            "--prompt_iterations",
            "1",
            "--prompt_candidates",
            "2",
            "--loss",
            "nce",
            "--temperature",
            "0.2",
            "--loob",
            "--no_negative_augmentation",
            "--parent_contrast",
            "--classification_loss",
            "--use_cpu",
            "--disable_tqdm",
            "true",
        ]
    )
    assert code == 0
    (learned_on,) = captured_losses["objective"]
    assert_loss_has(learned_on, NCE_OPTIONS, build_datasets(DataArguments(data="starter")).parent_groups)
    assert learned_on is captured_losses["trainer"][0]


def test_sampled_relation_batches_train_end_to_end(tiny_bert_path, tmp_path):
    # in-batch InfoNCE: 4 relations a batch, an anchor, its positive and one hard negative each
    out = tmp_path / "sampled"
    result = train(
        ModelArguments(base_model=tiny_bert_path, pooling="mask"),
        DataArguments(data="starter"),
        LossArguments(loss="nce"),
        training_args(
            out,
            relations_per_batch=4,
            num_train_epochs=1,
            eval_strategy="steps",
            eval_steps=10,
            save_strategy="steps",
            save_steps=10,
        ),  # fmt: skip
    )
    # 24 relations x 8 training positives = 192 positives, 8 per batch: 24 steps, scored every 10 and at the end
    assert result.run_result.details["global_steps"] == 24
    assert len(result.run_result.details["history"]) == 3  # steps 10, 20 and the last one
    assert result.run_result.arguments["relations_per_batch"] == 4
    with pytest.raises(ValueError, match="relations_per_batch must be >= 2"):
        training_args(out, relations_per_batch=1)


def test_build_loss_from_training_data_or_rows(tiny_model):
    data = records_to_dataset(load_relation_similarity("starter", "train"))
    loss = build_loss(LossArguments(**NCE_OPTIONS), tiny_model, data)
    assert_loss_has(loss, NCE_OPTIONS, data.parent_groups)
    assert_loss_has(build_loss(LossArguments(**TRIPLET_OPTIONS), tiny_model), TRIPLET_OPTIONS, [])
    plain = build_loss(LossArguments(), tiny_model)  # no parent classes needed
    assert isinstance(plain, RelationNCELoss) and plain.parent_groups is None and plain.temperature == 0.05
    with pytest.raises(ValueError, match="parent_contrast needs the parent classes"):
        build_loss(LossArguments(parent_contrast=True), tiny_model)


def test_resume_from_checkpoint_loses_nothing(tiny_roberta_path, tmp_path):
    common = dict(load_best_model_at_end=False, eval_strategy="no", save_total_limit=None)
    data = DataArguments(data="starter")
    loss = LossArguments(loss="triplet", classification_loss=True)
    full = tmp_path / "full"
    train(ModelArguments(base_model=tiny_roberta_path), data, loss, training_args(full, **common))
    steps = sorted(int(p.name.split("-")[1]) for p in full.glob("checkpoint-*"))
    assert len(steps) == 2
    first, last = steps
    assert (full / f"checkpoint-{first}" / LOSS_HEAD_FILE).is_file()

    # a run "killed" after epoch 1: only its first checkpoint exists
    killed = tmp_path / "killed"
    killed.mkdir()
    shutil.copytree(full / f"checkpoint-{first}", killed / f"checkpoint-{first}")
    train(
        ModelArguments(base_model=tiny_roberta_path),
        data,
        loss,
        training_args(killed, resume_from_checkpoint="last", **common),
    )
    resumed, reference = weights(killed), weights(full)
    assert resumed.keys() == reference.keys()
    for key in reference:
        torch.testing.assert_close(resumed[key], reference[key], rtol=0, atol=1e-6)
    head_resumed = load_file(str(killed / f"checkpoint-{last}" / LOSS_HEAD_FILE))
    head_reference = load_file(str(full / f"checkpoint-{last}" / LOSS_HEAD_FILE))
    for key in head_reference:
        torch.testing.assert_close(head_resumed[key], head_reference[key], rtol=0, atol=1e-6)
    # and the weights did change during training
    start = weights(tiny_roberta_path)
    shared = [key for key in start if key in reference]
    assert shared and any(not torch.equal(start[key], reference[key]) for key in shared)


def test_bad_arguments_fail_before_the_model_is_loaded(tiny_bert_path, tmp_path, monkeypatch):
    import relemb.training as train_module

    def no_model(*args, **kwargs):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(train_module, "build_model", no_model)
    model = ModelArguments(base_model=tiny_bert_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(
            model,
            DataArguments(data="starter"),
            LossArguments(),
            training_args(tmp_path / "a", resume_from_checkpoint="last"),
        )
    with pytest.raises(DatasetNotFoundError):
        train(model, DataArguments(data=str(tmp_path / "nope.jsonl")), LossArguments(), training_args(tmp_path / "b"))
    with pytest.raises(ValueError, match="neither a relation type"):
        train(
            model,
            DataArguments(data="starter", exclude_relations=["99"]),
            LossArguments(),
            training_args(tmp_path / "c"),
        )
    single = tmp_path / "single.jsonl"
    single.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in load_relation_similarity("starter", "train")[:3]))
    with pytest.raises(ValueError, match="no validation set for model selection"):
        train(model, DataArguments(data=str(single)), LossArguments(), training_args(tmp_path / "d"))
    assert not (tmp_path / "b").exists() and not (tmp_path / "d").exists()


def test_argument_dataclasses_validate_themselves():
    with pytest.raises(ValueError, match="no <mask> placeholder"):
        ModelArguments(template="<subj> and <obj>")
    with pytest.raises(ValueError, match="unknown pooling mode 'cls'"):
        ModelArguments(pooling="cls")
    with pytest.raises(ValueError, match="unknown loss 'mse'"):
        LossArguments(loss="mse")
    with pytest.raises(ValueError, match="temperature must be > 0"):
        LossArguments(temperature=0)
    with pytest.raises(ValueError, match="output_dir is required"):
        RelationTrainingArguments()
    with pytest.raises(FileNotFoundError, match="not a folder"):
        DataArguments(data_dir="/no/such/folder")
    assert DataArguments(exclude_relations="1 8/d").exclude_relations == ["1", "8/d"]


@pytest.mark.data
def test_semeval2012_rows_and_validation_questions(data_dir):
    data = build_datasets(DataArguments(data="semeval2012", data_dir=str(data_dir), exclude_relations=["1"]))
    full = build_datasets(DataArguments(data="semeval2012", data_dir=str(data_dir)))
    assert len(full.relations) == 79 and full.n_pairs == 79 * 16
    assert len(full.validation["semeval2012_validation"]) == 79
    pair_ids = {label[2] for label in full.dataset["label"]}
    assert len(pair_ids) < full.n_pairs  # pairs listed under several relations share one id
    assert not any(r.startswith("1/") for r in data.relations) and all(e.startswith("1/") for e in data.excluded)
    assert len(data.validation["semeval2012_validation"]) == 79 - len(data.excluded)

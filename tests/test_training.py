"""relemb.training: data building, model selection, saved outputs, resume, fail-fast checks (tiny models, starter set)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

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
    # a training file of one relation says so (not a complaint about --exclude-relations)
    with pytest.raises(ValueError, match="the training data holds one relation .* needs at least two") as error:
        select_relations(records[:1], [])
    assert "exclude" not in str(error.value)


def test_one_relation_training_file_fails_before_the_model_is_loaded(tiny_bert_path, tmp_path, monkeypatch):
    import relemb.training as train_module

    monkeypatch.setattr(train_module, "build_model", lambda *a, **k: pytest.fail("the model must not be loaded"))
    single = tmp_path / "one.jsonl"
    single.write_text(json.dumps(load_relation_similarity("starter", "train")[0].to_dict()) + "\n")
    with pytest.raises(ValueError, match="the training data holds one relation"):
        train(
            ModelArguments(base_model=tiny_bert_path),
            DataArguments(data=str(single), validation_data="starter"),
            LossArguments(),
            training_args(tmp_path / "out"),
        )


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
            training_args(out, keep_checkpoints=True),
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
    assert set(scores) == {
        "validation",
        "validation_n",
        "test",
        "test_intervals",
        "test_n",
        "untrained_test",
        "untrained_test_intervals",
    }
    assert 0.0 <= scores["test"]["starter"] <= 1.0
    # the untrained base model, scored on the same questions before training (--compare_to_base)
    low, high = scores["untrained_test_intervals"]["starter"]
    assert low <= scores["untrained_test"]["starter"] <= high
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
    assert model.config.results["untrained_starter_test_accuracy"] == pytest.approx(
        scores["untrained_test"]["starter"], abs=1e-4
    )
    assert [row["step"] for row in model.config.results["history"]] == [3, 6]
    assert model.config.results["best_step"] == details["best_step"]
    assert Path(details["best_checkpoint"]).name == f"checkpoint-{details['best_step']}"
    card = (out / "README.md").read_text()
    assert "## Training" in card and "## Results" in card and "![Training loss" in card
    assert f"| starter | test | 96 | {100 * scores['test']['starter']:.1f} |" in " ".join(card.split())
    assert (out / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the figure the card links goes with the model when it is saved elsewhere (and so when pushed to the Hub)
    assert result.model.source_folder == out and model.source_folder == out
    copy = Path(model.save_pretrained(tmp_path / "copy"))
    assert (copy / "training_curve.png").read_bytes() == (out / "training_curve.png").read_bytes()
    assert "](training_curve.png)" in (copy / "README.md").read_text()
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
    loss="nce",
    temperature=0.2,
    loob=True,
    negative_augmentation=False,
    cross_negatives=True,
    parent_contrast=True,
    classification_loss=True,
)
TRIPLET_OPTIONS = dict(
    loss="triplet", margin=0.3, negative_augmentation=False, cross_negatives=True, classification_loss=True
)


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
    assert module.cross_negatives == options["cross_negatives"]
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
            "--cross_negatives",
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
    common = dict(load_best_model_at_end=False, eval_strategy="no", save_total_limit=None, keep_checkpoints=True)
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
    # no training is an argument error, not an untrained model saved as fine-tuned
    for bad, message in (
        (dict(num_train_epochs=0), "num_train_epochs .* must be > 0, got 0"),
        (dict(num_train_epochs=-1), "must be > 0, got -1"),
        (dict(max_steps=0), "max_steps must be > 0"),
        (dict(max_steps=-5), "max_steps must be > 0"),
    ):
        with pytest.raises(ValueError, match=message):
            RelationTrainingArguments(output_dir="x", **bad)
    assert RelationTrainingArguments(output_dir="x", num_train_epochs=0, max_steps=3).max_steps == 3
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


# ------------------------------------------------------------------- finished, interrupted, resumed runs
MODEL_FILES = {"model.safetensors", "README.md", RESULTS_FILE, "training_curve.png", "relemb_config.json"}


def run_once(model_path, out, **overrides):
    """A 2-epoch run on the starter set (3 steps an epoch, a checkpoint and an evaluation after each)."""
    return train(
        ModelArguments(base_model=model_path),
        DataArguments(data="starter"),
        LossArguments(loss="nce"),
        training_args(out, **overrides),
    )


@pytest.fixture(scope="module")
def kept_run(tiny_bert_path, tmp_path_factory):
    """A finished run whose checkpoints were kept (--keep_checkpoints): checkpoint-3, checkpoint-6."""
    out = tmp_path_factory.mktemp("kept") / "run"
    result = run_once(tiny_bert_path, out, keep_checkpoints=True)
    return out, result


def copy_run(source, target, *, drop=()):
    shutil.copytree(source, target)
    for name in drop:
        path = target / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return target


def csv_steps(out) -> list[int]:
    rows = (out / "eval" / "analogy_evaluation_starter_relations_validation_results.csv").read_text().splitlines()
    return [int(row.split(",")[1]) for row in rows[1:]]


class StopAt(TrainerCallback):
    """Ctrl-C after optimizer step ``step`` (the checkpoints written so far stay)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt


def test_finished_run_leaves_a_model_folder_worth_sharing(tiny_bert_path, tmp_path, kept_run):
    out = tmp_path / "run"
    result = run_once(tiny_bert_path, out)
    names = {path.name for path in out.iterdir()}
    assert MODEL_FILES <= names and not any(name.startswith("checkpoint-") for name in names)
    assert result.run_result.details["checkpoints_kept"] is False
    # removing the checkpoints changes nothing else: the same model as the run that kept them
    kept_out, kept = kept_run
    assert sorted(p.name for p in kept_out.glob("checkpoint-*")) == ["checkpoint-3", "checkpoint-6"]
    assert kept.run_result.details["checkpoints_kept"] is True
    final, reference = weights(out), weights(kept_out)
    assert all(torch.equal(final[k], reference[k]) for k in reference)
    # the whole run's loss: every step's, from the log (an entry at each evaluation and at the last step)
    logged = [h for h in load_trainer_state(kept_out / "checkpoint-6")["log_history"] if "loss" in h]
    assert logged[-1]["step"] == 6 and {3, 6} <= {h["step"] for h in logged}
    assert result.run_result.details["train_loss"] == pytest.approx(kept.run_result.details["train_loss"])


def load_trainer_state(checkpoint) -> dict:
    return json.loads((Path(checkpoint) / "trainer_state.json").read_text())


def test_an_interrupted_run_keeps_its_checkpoints_and_resumes_to_the_same_end(tiny_bert_path, tmp_path, kept_run):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(
            ModelArguments(base_model=tiny_bert_path),
            DataArguments(data="starter"),
            LossArguments(loss="nce"),
            training_args(out),
            callbacks=[StopAt(4)],
        )
    assert [p.name for p in out.glob("checkpoint-*")] == ["checkpoint-3"] and not (out / RESULTS_FILE).exists()
    before = load_trainer_state(out / "checkpoint-3")["stateful_callbacks"]["TrainingProgress"]
    first_session = before["attributes"]["train_seconds"]
    assert first_session > 0

    result = run_once(tiny_bert_path, out, resume_from_checkpoint="last")
    assert not list(out.glob("checkpoint-*"))  # finished now: the checkpoints go
    details = result.run_result.details
    assert details["resumed_from"] == str(out / "checkpoint-3") and details["global_steps"] == 6
    # the whole run's loss and time, not only the resumed part's
    _, reference = kept_run
    assert details["train_loss"] == pytest.approx(reference.run_result.details["train_loss"], rel=1e-3)
    assert details["train_seconds"] >= round(first_session, 1)
    assert [h["step"] for h in details["history"]] == [3, 6] and csv_steps(out) == [3, 6]
    final, kept = weights(out), weights(kept_run[0])
    for key in kept:
        torch.testing.assert_close(final[key], kept[key], rtol=0, atol=1e-6)


def test_resume_last_skips_a_checkpoint_cut_mid_save(tiny_bert_path, tmp_path, kept_run, caplog):
    # killed while saving checkpoint-6: its trainer state never written, no results.json; epoch 2's score is
    # already in the evaluation CSV
    out = copy_run(kept_run[0], tmp_path / "run", drop=[RESULTS_FILE, "checkpoint-6/trainer_state.json"])
    assert csv_steps(out) == [3, 6]
    with caplog.at_level(logging.INFO, logger="relemb.training"):
        result = run_once(tiny_bert_path, out, resume_from_checkpoint="last")
    assert "skipping incomplete checkpoint(s): checkpoint-6: no trainer_state.json" in caplog.text
    assert f"resuming from {out / 'checkpoint-3'}" in caplog.text
    assert result.run_result.details["global_steps"] == 6
    assert csv_steps(out) == [3, 6]  # epoch 2 scored again, its old row dropped: no duplicate


def test_resume_checks_every_file_and_names_the_damaged_one(tiny_bert_path, tmp_path, kept_run, monkeypatch):
    import relemb.training as train_module

    kept = kept_run[0]
    # a truncated optimizer state: 'last' falls back to the complete checkpoint, a named folder is an error
    out = copy_run(kept, tmp_path / "cut", drop=[RESULTS_FILE])
    optimizer = out / "checkpoint-6" / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:1000])
    assert train_module.checkpoint_problem(out / "checkpoint-6") == (
        "optimizer.pt is cut off (not a complete torch file)"
    )
    assert train_module.resolve_resume("last", str(out)) == str(out / "checkpoint-3")
    with pytest.raises(ValueError, match="cannot resume from .*checkpoint-6.*optimizer.pt is cut off"):
        train_module.resolve_resume(str(out / "checkpoint-6"), str(out))
    weights_file = out / "checkpoint-3" / "model.safetensors"
    weights_file.write_bytes(weights_file.read_bytes()[:-10])
    with pytest.raises(FileNotFoundError, match="no complete checkpoint.*model.safetensors is cut off"):
        train_module.resolve_resume("last", str(out))
    (out / "checkpoint-3" / "optimizer.pt").write_bytes(b"")
    size = weights_file.stat().st_size
    assert train_module.checkpoint_problem(out / "checkpoint-3") == (
        f"model.safetensors is cut off ({size} of {size + 10} bytes)"
    )  # the weights are checked first

    # damage the cheap checks cannot see (the pickled optimizer state garbled): one error naming the file
    out = copy_run(kept, tmp_path / "garbled", drop=[RESULTS_FILE, "checkpoint-6"])
    optimizer = out / "checkpoint-3" / "optimizer.pt"
    data = bytearray(optimizer.read_bytes())
    data[80:112] = b"\xff" * 32
    optimizer.write_bytes(bytes(data))
    assert train_module.checkpoint_problem(out / "checkpoint-3") is None
    with pytest.raises(ValueError) as error:
        run_once(tiny_bert_path, out, resume_from_checkpoint="last")
    message = str(error.value)
    assert "\n" not in message and "checkpoint-3: optimizer.pt is damaged" in message, message


def test_resuming_a_finished_run_does_nothing(tiny_bert_path, tmp_path, kept_run, monkeypatch):
    import relemb.training as train_module

    out = copy_run(kept_run[0], tmp_path / "done")
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    monkeypatch.setattr(train_module.RelationTrainer, "train", lambda *a, **k: pytest.fail("nothing to train"))
    for keep in (True, False):
        if not keep:  # a finished run without --keep_checkpoints has none left
            for checkpoint in out.glob("checkpoint-*"):
                shutil.rmtree(checkpoint)
        result = run_once(tiny_bert_path, out, resume_from_checkpoint="last")
        assert result.already_finished and result.run_result == RunResult.load(out / RESULTS_FILE)
        assert (out / "model.safetensors").stat().st_mtime_ns == stamp and csv_steps(out) == [3, 6]


def test_finished_work_is_not_overwritten_or_mixed(tiny_bert_path, tmp_path, kept_run, monkeypatch):
    import relemb.training as train_module

    out = copy_run(kept_run[0], tmp_path / "old")
    (out / "checkpoint-99").mkdir()  # a longer earlier run's checkpoint
    original_build = train_module.build_model
    monkeypatch.setattr(train_module, "build_model", lambda *a, **k: pytest.fail("the model must not be loaded"))
    with pytest.raises(FileExistsError, match="already holds a trained model .*results.json.*--overwrite_output_dir"):
        run_once(tiny_bert_path, out)
    for name in (RESULTS_FILE, "checkpoint-3", "checkpoint-6", "checkpoint-99"):
        assert (out / name).exists()
    # --overwrite_output_dir: the old run's results, checkpoints and evaluation rows go first
    monkeypatch.setattr(train_module, "build_model", original_build)
    old_date = RunResult.load(out / RESULTS_FILE).date
    result = run_once(tiny_bert_path, out, overwrite_output_dir=True, num_train_epochs=1)
    assert not list(out.glob("checkpoint-*")) and csv_steps(out) == [3]
    assert result.run_result.details["global_steps"] == 3 and RunResult.load(out / RESULTS_FILE).date >= old_date


def test_output_dir_is_checked_before_any_work(tiny_bert_path, tmp_path, monkeypatch):
    import os

    import relemb.training as train_module

    monkeypatch.setattr(train_module, "build_model", lambda *a, **k: pytest.fail("the model must not be loaded"))
    a_file = tmp_path / "model.txt"
    a_file.write_text("")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        run_once(tiny_bert_path, a_file)
    with pytest.raises(NotADirectoryError, match="is a file"):
        run_once(tiny_bert_path, a_file / "run")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError, match="no write permission"):
            run_once(tiny_bert_path, locked / "run")


def test_pin_memory_follows_the_device_and_cpu_runs_do_not_warn(tiny_bert_path, tmp_path):
    import warnings

    from relemb.training import accelerator_in_use

    args = training_args(tmp_path / "run", use_cpu=False, num_train_epochs=1)
    assert args.dataloader_pin_memory == accelerator_in_use()
    assert training_args(tmp_path / "x").dataloader_pin_memory is False  # --use_cpu
    if accelerator_in_use():
        return  # pinned memory is wanted there, and PyTorch does not warn
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(ModelArguments(base_model=tiny_bert_path), DataArguments(data="starter"), LossArguments(), args)
    assert not [w for w in caught if "pin_memory" in str(w.message)]


def test_checkpoints_follow_the_umask(tiny_bert_path, tmp_path):
    import os
    import stat

    previous = os.umask(0o027)
    try:
        out = tmp_path / "run"
        with pytest.raises(KeyboardInterrupt):
            train(
                ModelArguments(base_model=tiny_bert_path),
                DataArguments(data="starter"),
                LossArguments(),
                training_args(
                    out, save_strategy="steps", save_steps=1, eval_strategy="no", load_best_model_at_end=False
                ),
                callbacks=[StopAt(2)],  # after checkpoint-1 was saved
            )
    finally:
        os.umask(previous)
    checkpoint = out / "checkpoint-1"
    assert checkpoint.is_dir()
    for path in [checkpoint, *checkpoint.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o750 if path.is_dir() else 0o640), (path, oct(mode))

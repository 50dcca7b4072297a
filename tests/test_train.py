"""relemb.train: data building, model selection, saved outputs, resume, fail-fast checks (tiny models, starter set)."""

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
from relemb.train import (
    LOSS_HEAD_FILE,
    RESULTS_FILE,
    build_datasets,
    build_evaluators,
    records_to_dataset,
    select_relations,
    train,
)
from relemb.train_config import DataArguments, LossArguments, ModelArguments, RelationTrainingArguments


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
    dataset, relations, parents, groups = records_to_dataset(records)
    assert dataset.column_names == ["pair", "label"]
    assert dataset["pair"][0] == ["x", "y"]
    assert list(dataset["label"]) == [[0, 1, 0], [0, 1, 1], [0, 0, 2], [1, 1, 0], [1, 1, 3]]
    assert relations == ["1/a", "2/b"] and parents == ["1", "2"] and groups == [0, 1]


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
    assert [e.name for e in evaluator.evaluators] == ["starter_relations_validation", "starter_validation"]

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
    results = json.loads((out / RESULTS_FILE).read_text())
    assert results["best_checkpoint"].startswith(str(out / "checkpoint-"))
    history = [h["eval_validation_mean_accuracy"] for h in results["history"]]
    assert len(history) == 2 and results["best_metric"] == pytest.approx(max(history))
    assert 0.0 <= results["test"]["starter"] <= 1.0
    assert results["validation"]["validation_mean_accuracy"] == pytest.approx(results["best_metric"])
    assert results["recipe"]["loss"] == "nce" and results["recipe"]["relations"] == 24

    model = RelBERT.from_pretrained(out, device="cpu")
    assert model.pooling == "mask" and model.template.startswith("Today, I finally")
    assert model.config.training["learning_rate"] == 1e-3
    assert model.config.results["starter_test_accuracy"] == pytest.approx(results["test"]["starter"], abs=1e-4)
    card = (out / "README.md").read_text()
    assert "## Training" in card and "## Results" in card and "starter_test_accuracy" in card
    # the best checkpoint is what was saved as the final model
    best = weights(results["best_checkpoint"])
    final = weights(out)
    assert all(torch.equal(best[k], final[k]) for k in best)
    # checkpoints are loadable relemb models too
    assert RelBERT.from_pretrained(results["best_checkpoint"], device="cpu").pooling == "mask"
    assert result.model.encoder is not None


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
    import relemb.train as train_module

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

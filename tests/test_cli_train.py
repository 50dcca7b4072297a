"""relemb train / relemb-train: help, config files, end to end on the starter set, quickstart, bad arguments."""

from __future__ import annotations

import json

import pytest

from relemb.cli import main, train_main
from relemb.cli.train import format_results
from relemb.results import RunResult
from relemb.train_config import QUICKSTART, parse_training_arguments, quickstart_defaults, read_config_file

FAST = ["--use_cpu", "--disable_tqdm", "true", "--lr", "1e-3", "--batch-size", "128"]


@pytest.fixture
def no_model_loading(monkeypatch):
    """Make any model loading fail loudly: bad arguments must be caught before."""
    import relemb.training as train_module

    def refuse(*args, **kwargs):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(train_module, "build_model", refuse)


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--base_model",
        "--template",
        "--pooling",
        "--loss",
        "--temperature",
        "--lr",
        "--epochs",
        "--batch-size",
        "--seed",
        "--max_length",
        "--output_dir",
        "--data",
        "--data_dir",
        "--exclude_relations",
        "--classification_loss",
        "--fp16",
        "--gradient_accumulation_steps",
        "--save_steps",
        "--resume_from_checkpoint",
        "--config",
        "--quickstart",
    ):
        assert option in text, option
    assert "(default: roberta-large)" in " ".join(text.split())


def test_end_to_end_on_the_starter_set(tiny_bert_path, tmp_path, capsys):
    out = tmp_path / "model"
    code = main(
        [
            "train",
            "--base_model",
            tiny_bert_path,
            "--data",
            "starter",
            "--test_datasets",
            "starter",
            "--output_dir",
            str(out),
            "--epochs",
            "1",
            *FAST,
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    results = RunResult.load(out / "results.json")
    printed = " ".join(printed.split())
    starter = results.scores["test"]["starter"]
    assert f"| starter | test | 96 | {100 * starter:.1f} |" in printed
    low, high = results.scores["test_intervals"]["starter"]
    assert low <= starter <= high and results.details["test"]["starter"]["n"] == 96
    assert "| starter_relations | validation |" in printed
    assert (out / "model.safetensors").is_file() and (out / "README.md").is_file()


def test_config_file_and_command_line_precedence(tmp_path):
    config = tmp_path / "recipe.yaml"
    config.write_text(
        "base-model: minilm\nloss: triplet\nmargin: 0.5\nlr: 2.0e-5\nepochs: 3\n"
        "exclude_relations: [1, 8/d]\noutput_dir: from-config\n"
    )
    values = read_config_file(config)
    assert values["base_model"] == "minilm" and values["learning_rate"] == 2e-5
    values.update({"learning_rate": 1e-4})  # what the command line gives wins
    model, data, loss, prompt, training = parse_training_arguments(values)
    assert model.base_model == "minilm" and loss.loss == "triplet" and loss.margin == 0.5
    assert training.learning_rate == 1e-4 and training.num_train_epochs == 3
    assert data.exclude_relations == ["1", "8/d"]

    as_json = tmp_path / "recipe.json"
    as_json.write_text(
        json.dumps({"template": "a", "pooling": "mask", "output_dir": "x", "per_device_train_batch_size": 64})
    )
    model, _, _, _, training = parse_training_arguments(read_config_file(as_json))
    assert model.pooling == "mask" and training.per_device_train_batch_size == 64


def test_config_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_config_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("loss: [nce\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        read_config_file(bad)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(ValueError, match="mapping"):
        read_config_file(listing)
    other = tmp_path / "recipe.toml"
    other.write_text("x = 1")
    with pytest.raises(ValueError, match=r"\.yaml"):
        read_config_file(other)
    with pytest.raises(ValueError, match="unknown training option.*lossfn"):
        parse_training_arguments({"lossfn": "nce", "output_dir": "x"})


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--template", "<subj> and <obj>"], "no <mask> placeholder"),
        (["--pooling", "cls"], "unknown pooling mode 'cls'"),
        (["--data", "missing/relations.jsonl"], "was not found"),
        (["--data", "semeval2013"], "not a known relation_similarity dataset"),
        (["--exclude_relations", "99"], "'99' is neither a relation type nor a parent class"),
        (["--test_datasets", "u9"], "'u9'"),
        (["--temperature", "0"], "temperature must be > 0"),
        (["--resume_from_checkpoint", "last"], "no checkpoint-"),
        (["--epochs", "0"], "num_train_epochs (--epochs) must be > 0, got 0"),
        (["--epochs", "-1"], "num_train_epochs (--epochs) must be > 0, got -1"),
        (["--max_steps", "0"], "max_steps must be > 0"),
    ],
)
def test_bad_arguments_fail_before_training(tmp_path, capsys, no_model_loading, argv, message):
    out = tmp_path / "never"
    code = main(["train", "--data", "starter", "--output_dir", str(out), *FAST, *argv])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert not out.exists()


def test_unknown_loss_and_config_key(tmp_path, capsys, no_model_loading):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--loss", "cosine", "--output_dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "invalid choice: 'cosine'" in capsys.readouterr().err
    config = tmp_path / "c.yaml"
    config.write_text("loss: cosine\noutput_dir: x\n")
    assert main(["train", "--config", str(config)]) == 2
    assert "error: unknown loss 'cosine'" in capsys.readouterr().err
    assert main(["train", "--data", "starter"]) == 2
    assert "output_dir is required" in capsys.readouterr().err


def test_quickstart_defaults_follow_the_data_dir(monkeypatch):
    monkeypatch.delenv("RELEMB_DATA_DIR", raising=False)
    values = quickstart_defaults()
    assert values["data"] == "starter" and values["test_datasets"] == ["starter"]
    assert values["base_model"] == QUICKSTART["base_model"] == "minilm"
    assert quickstart_defaults(data_dir="/somewhere")["data"] == "semeval2012"
    monkeypatch.setenv("RELEMB_DATA_DIR", "/data")
    assert quickstart_defaults()["test_datasets"] == ["u2", "u4", "google", "bats"]


def test_quickstart_runs_with_a_tiny_model(tiny_roberta_path, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RELEMB_DATA_DIR", raising=False)
    out = tmp_path / "qs"
    code = main(
        ["train", "--quickstart", "--base_model", tiny_roberta_path, "--epochs", "1", "--output_dir", str(out), *FAST]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "| starter | test | 96 |" in " ".join(printed.split())
    results = RunResult.load(out / "results.json")
    assert results.arguments["data"] == "starter" and set(results.scores["test"]) == {"starter"}
    # a folder worth sharing: the model, its card and figure, results.json; the optimizer state is gone
    assert {"model.safetensors", "README.md", "results.json", "training_curve.png"} <= {p.name for p in out.iterdir()}
    assert not list(out.glob("checkpoint-*"))


def test_format_results_table():
    table = format_results(
        {
            "validation": {
                "semeval2012_validation_accuracy": 0.5,
                "semeval2012_validation_accuracy_ci_low": 0.25,
                "semeval2012_validation_accuracy_ci_high": 0.75,
                "validation_mean_accuracy": 0.5,
            },
            "validation_n": {"semeval2012_validation": 79},
            "test": {"u2": 0.25, "u4": 0.75},
            "test_intervals": {"u2": [0.2, 0.3], "u4": [0.7, 0.8]},
            "test_n": {"u2": 228, "u4": 432},
        }
    )
    lines = [" ".join(line.split()) for line in table.splitlines()]
    assert "| semeval2012 | validation | 79 | 50.0 | 25.0-75.0 |" in lines
    assert "| mean | validation | | 50.0 | |" in lines
    assert "| u2 | test | 228 | 25.0 | 20.0-30.0 |" in lines and "| mean | test | | 50.0 | |" in lines


@pytest.mark.slow
def test_quickstart_on_minilm_trains_and_scores(tmp_path, capsys, monkeypatch, minilm_path):
    monkeypatch.delenv("RELEMB_DATA_DIR", raising=False)
    out = tmp_path / "minilm"
    code = main(
        ["train", "--quickstart", "--max_steps", "2", "--output_dir", str(out), "--disable_tqdm", "true", "--use_cpu"]
    )
    assert code == 0
    results = RunResult.load(out / "results.json")
    assert results.model["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert results.details["global_steps"] == 2 and 0.0 <= results.scores["test"]["starter"] <= 1.0
    assert "| starter | test |" in " ".join(capsys.readouterr().out.split())


def test_prompt_autoprompt_only(tiny_bert_path, tmp_path):
    from relemb import RelBERT
    from relemb.prompts import TEMPLATES

    out = tmp_path / "autoprompt"
    code = main(
        [
            "train",
            "--base_model",
            tiny_bert_path,
            "--data",
            "starter",
            "--test_datasets",
            "starter",
            "--output_dir",
            str(out),
            "--prompt",
            "autoprompt",
            "--prompt_only",
            "--prompt_n1",
            "1",
            "--prompt_n2",
            "1",
            "--prompt_n3",
            "1",
            "--prompt_iterations",
            "3",
            "--prompt_candidates",
            "3",
            *FAST,
        ]
    )
    assert code == 0
    results = RunResult.load(out / "results.json")
    assert results.details["train_loss"] is None  # prompt only: the encoder was not fine-tuned
    assert "prompt_learning" in results.arguments
    model = RelBERT.from_pretrained(out, device="cpu")
    assert model.template != TEMPLATES["d"]
    assert model.template.count("<mask>") == 1 and model.template.endswith("<mask>")


def test_prompt_ptuning_then_fine_tuning(tiny_bert_path, tmp_path):
    from relemb import RelBERT

    out = tmp_path / "ptuning"
    code = main(
        [
            "train",
            "--base_model",
            tiny_bert_path,
            "--data",
            "starter",
            "--test_datasets",
            "starter",
            "--output_dir",
            str(out),
            "--prompt",
            "ptuning",
            "--prompt_iterations",
            "3",
            "--epochs",
            "1",
            *FAST,
        ]
    )
    assert code == 0
    results = RunResult.load(out / "results.json")
    assert results.details["train_loss"] is not None
    model = RelBERT.from_pretrained(out, device="cpu")
    assert "<relemb_p0>" in model.template
    assert model.get_embedding(("tokyo", "japan")).shape == (model.embedding_dim,)


def test_yaml_exponent_numbers_are_numbers(tmp_path):
    # YAML 1.1 reads 5e-6 (no dot) as a string; options that are numbers must still get numbers
    config = tmp_path / "c.yaml"
    config.write_text("learning_rate: 5e-6\nepochs: '3'\ntemperature: 1e-1\noutput_dir: x\n")
    model, data, loss, prompt, training = parse_training_arguments(read_config_file(config))
    assert training.learning_rate == 5e-6 and training.num_train_epochs == 3 and loss.temperature == 0.1
    with pytest.raises(ValueError, match="option learning_rate: expected a number, got 'fast'"):
        parse_training_arguments({"learning_rate": "fast", "output_dir": "x"})


def test_trainer_options_pass_through_and_unknown_ones_are_refused(tmp_path, capsys, monkeypatch):
    import relemb.training as train_module

    seen = {}

    def fake_train(model_args, data_args, loss_args, training_args, **kwargs):
        seen["args"] = training_args
        raise ValueError("stop here")

    monkeypatch.setattr(train_module, "train", fake_train)
    argv = ["train", "--data", "starter", "--output_dir", str(tmp_path / "o")]
    assert main([*argv, "--gradient_accumulation_steps", "3", "--weight_decay=0.1", "--use_cpu"]) == 2
    assert "stop here" in capsys.readouterr().err
    args = seen["args"]
    assert args.gradient_accumulation_steps == 3 and args.weight_decay == 0.1 and args.use_cpu
    assert main([*argv, "--no_such_option", "3"]) == 2
    assert "unrecognized arguments: --no_such_option 3" in capsys.readouterr().err


def test_help_trainer_lists_every_trainer_option(capsys):
    assert main(["train", "--help-trainer"]) == 0
    text = capsys.readouterr().out
    for option in ("--fp16", "--gradient_accumulation_steps", "--save_steps", "--resume_from_checkpoint"):
        assert option in text


def tiny_run(model_path, out, *extra):
    return [
        "train",
        "--base_model",
        model_path,
        "--data",
        "starter",
        "--output_dir",
        str(out),
        "--epochs",
        "2",
        *FAST,
        *extra,
    ]


def test_the_terminal_shows_one_line_per_evaluation_and_the_table(tiny_bert_path, tmp_path, capsys):
    assert main(tiny_run(tiny_bert_path, tmp_path / "quiet", "--test_datasets", "starter")) == 0
    captured = capsys.readouterr()
    lines = [line for line in (captured.out + captured.err).splitlines() if line.strip()]
    assert not [line for line in lines if line.lstrip().startswith("{")], lines  # no raw trainer dicts
    evaluations = [line for line in lines if line.startswith("epoch ")]
    assert len(evaluations) == 2 and evaluations[0].startswith("epoch 1, step 3/6: loss ")
    assert "starter_relations " in evaluations[0] and "(best so far)" in evaluations[0]
    assert "| starter | test | 96 |" in " ".join(captured.out.split())
    assert "untrained" in captured.out  # the untrained base model's column
    assert "pin_memory" not in captured.err and "Loading weights" not in captured.err

    # -v: the trainer's own logs are back
    assert main(["-v", *tiny_run(tiny_bert_path, tmp_path / "loud", "--keep_checkpoints")]) == 0
    captured = capsys.readouterr()
    assert "{'eval_starter_relations_validation_accuracy'" in captured.out
    assert sorted(p.name for p in (tmp_path / "loud").glob("checkpoint-*")) == ["checkpoint-3", "checkpoint-6"]


def test_the_recorded_command_reproduces_the_options(tmp_path, tiny_bert_path, monkeypatch):
    import shlex

    from relemb.cli import build_parser
    from relemb.cli.train import option_values
    from relemb.train_config import command_line

    config = tmp_path / "recipe.yaml"
    config.write_text("loss: triplet\nmargin: 0.5\nexclude_relations: [1]\nlr: 2.0e-5\n")
    monkeypatch.delenv("RELEMB_DATA_DIR", raising=False)

    def parsed(argv):
        args, extra = build_parser().parse_known_args(argv)
        args.extra_arguments = extra
        return parse_training_arguments(option_values(args))

    argv = ["train", "--quickstart", "--config", str(config), "--output_dir", str(tmp_path / "o"), "--seed", "3"]
    argv += ["--gradient_accumulation_steps", "2", "--use_cpu"]
    args, extra = build_parser().parse_known_args(argv)
    args.extra_arguments = extra
    command = command_line(option_values(args))
    assert command.startswith("relemb-train ") and "--config" not in command and "--quickstart" not in command
    again = parsed(["train", *shlex.split(command)[1:]])
    for original, reproduced in zip(parsed(argv), again):
        assert original == reproduced


def test_finished_work_is_not_overwritten(tiny_bert_path, tmp_path, capsys, no_model_loading):
    out = tmp_path / "done"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"x")
    assert main(tiny_run(tiny_bert_path, out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "already holds a trained model (model.safetensors)" in err
    assert "--overwrite_output_dir" in err
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert main(tiny_run(tiny_bert_path, a_file)) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_resuming_a_finished_run_says_so(tiny_bert_path, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(tiny_run(tiny_bert_path, out, "--epochs", "1")) == 0
    results = RunResult.load(out / "results.json")
    assert results.arguments["command"].startswith(f"relemb-train --base_model {tiny_bert_path} --data starter")
    assert "Reproduce it with" in (out / "README.md").read_text()
    capsys.readouterr()
    assert main(tiny_run(tiny_bert_path, out, "--epochs", "1", "--resume_from_checkpoint", "last")) == 0
    captured = capsys.readouterr()
    assert "holds a finished run: nothing to resume" in captured.out
    assert "epoch 1, step" not in captured.out and RunResult.load(out / "results.json") == results

"""The top-level package: light to import, every public name importable from ``relemb``."""

import importlib
import subprocess
import sys

import pytest

import relemb


def test_import_relemb_is_light():
    code = "import sys, relemb; print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize(
    "name, module",
    [
        ("RelBERT", "relemb.model"),
        ("RelBERTConfig", "relemb.checkpoint"),
        ("train", "relemb.training"),
        ("TrainResult", "relemb.training"),
        ("ModelArguments", "relemb.train_config"),
        ("DataArguments", "relemb.train_config"),
        ("LossArguments", "relemb.train_config"),
        ("RelationTrainingArguments", "relemb.training"),
        ("PromptLearningArguments", "relemb.prompt_learning.config"),
        ("RelationNCELoss", "relemb.losses"),
        ("RelationTripletLoss", "relemb.losses"),
        ("AnalogyEvaluator", "relemb.evaluation.evaluators"),
        ("RunResult", "relemb.results"),
    ],
)
def test_trainer_and_friends_are_exported(name, module):
    # the module that defines it now (an engineer moving one updates relemb._LAZY and this list)
    assert relemb._LAZY[name] == module
    assert getattr(relemb, name) is getattr(importlib.import_module(module), name)
    assert name in relemb.__all__ and name in dir(relemb)


def test_every_lazy_name_resolves():
    for name in relemb.__all__:
        assert getattr(relemb, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        relemb.nope  # noqa: B018

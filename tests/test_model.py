import json
import time
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from relemb import RelBERT
from relemb.checkpoint import IncompleteCheckpointError, ModelNotFoundError, UnsafeCheckpointError
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
    (out / "relemb_config.json").unlink()  # a relemb model without relemb's config is incomplete: refused
    with pytest.raises(IncompleteCheckpointError, match=r"incomplete relemb model folder: missing relemb_config\.json"):
        RelBERT.from_pretrained(out, device="cpu")


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


# ------------------------------------------------------------------------------ incomplete or damaged folders
@pytest.fixture
def saved_model(tmp_path, tiny_model) -> Path:
    """A complete saved relemb model (template a, mask pooling, max_length 40), to break in each test."""
    tiny_model.template, tiny_model.pooling, tiny_model.max_length = "a", "mask", 40
    return Path(tiny_model.save_pretrained(tmp_path / "saved"))


@pytest.mark.parametrize(
    "remove, named",
    [
        (["tokenizer.json", "tokenizer_config.json"], r"missing tokenizer_config\.json, the tokenizer's vocabulary"),
        (["tokenizer.json"], r"missing the tokenizer's vocabulary \(tokenizer\.json"),
        (["tokenizer_config.json"], r"missing tokenizer_config\.json"),
        (["modules.json"], r"missing modules\.json"),
        (["model.safetensors"], r"missing model weights \(model\.safetensors or pytorch_model\.bin\)"),
        (["config.json"], r"missing config\.json"),
        (["1_RelationPooling"], r"missing 1_RelationPooling/config\.json"),
        (["sentence_bert_config.json"], r"missing sentence_bert_config\.json"),
        (["relemb_config.json"], r"missing relemb_config\.json"),
    ],
)
def test_an_incomplete_relemb_folder_names_what_is_missing(saved_model, remove, named):
    import shutil

    for name in remove:
        path = saved_model / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    with pytest.raises(IncompleteCheckpointError, match=rf"^{saved_model}: incomplete relemb model folder: {named}"):
        RelBERT.from_pretrained(saved_model, device="cpu")


@pytest.mark.parametrize(
    "remove, named",
    [
        ("tokenizer.json", "the tokenizer's vocabulary"),
        ("model.safetensors", "model weights"),
        ("config.json", r"config\.json"),
    ],
)
def test_an_incomplete_encoder_folder_names_what_is_missing(tmp_path, tiny_bert_path, remove, named):
    import shutil

    folder = tmp_path / "encoder"
    shutil.copytree(tiny_bert_path, folder)
    (folder / remove).unlink()
    with pytest.raises(IncompleteCheckpointError, match=f"incomplete transformers checkpoint folder: missing {named}"):
        RelBERT.from_pretrained(folder, device="cpu")


def test_an_empty_folder_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(IncompleteCheckpointError, match=r"^model folder '.*empty' is empty$"):
        RelBERT.from_pretrained(tmp_path / "empty")


@pytest.mark.parametrize(
    "name, content",
    [
        ("config.json", ""),
        ("1_RelationPooling/config.json", ""),
        ("sentence_bert_config.json", "{"),
        ("tokenizer_config.json", "{"),
        ("tokenizer.json", "{"),
        ("config_sentence_transformers.json", "{"),
        ("relemb_config.json", "{"),
    ],
)
def test_a_damaged_json_file_is_named(saved_model, name, content):
    from relemb.checkpoint import DamagedCheckpointError

    (saved_model / name).write_text(content)
    with pytest.raises(DamagedCheckpointError, match=rf"{name}' is not valid JSON .*the checkpoint is damaged"):
        RelBERT.from_pretrained(saved_model, device="cpu")


@pytest.mark.parametrize("damage", ["garbage", "cut"])
def test_damaged_weights_are_named(saved_model, damage):
    from relemb.checkpoint import DamagedCheckpointError

    path = saved_model / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(b"garbage!" * 10 if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(DamagedCheckpointError, match=r"model\.safetensors' is not a readable weights file"):
        RelBERT.from_pretrained(saved_model, device="cpu")


@pytest.mark.parametrize(
    "key, value, module_value",
    [("max_length", 48, "40"), ("pooling", "average", "'mask'"), ("template", TEMPLATES["c"], "'Today")],
)
def test_relemb_config_and_module_configs_must_agree(saved_model, key, value, module_value):
    path = saved_model / "relemb_config.json"
    data = json.loads(path.read_text())
    data[key] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=rf"relemb_config\.json records {key}=.* but .* says {module_value}"):
        RelBERT.from_pretrained(saved_model, device="cpu")
    model = RelBERT.from_pretrained(saved_model, device="cpu", **{key: value})  # an explicit value settles it
    assert getattr(model, key) == value and getattr(model.config, key) == value


def test_a_relemb_config_without_the_settings_defers_to_the_modules(saved_model):
    path = saved_model / "relemb_config.json"
    data = json.loads(path.read_text())
    for key in ("template", "pooling", "max_length"):
        data.pop(key)  # an older config: its defaults (template d, 64) are not what the model was saved with
    path.write_text(json.dumps(data))
    model = RelBERT.from_pretrained(saved_model, device="cpu")
    assert (model.template, model.pooling, model.max_length) == (TEMPLATES["a"], "mask", 40)


# ------------------------------------------------------------------------------ max_length and device
@pytest.mark.parametrize("value", [0, -5, 10**6, 3, 161])
def test_max_length_has_one_rule_everywhere(tiny_bert_path, saved_model, value):
    message = r"^max_length must be an integer from \d+ \(what the template needs\) to 160 \(the model's maximum\)"
    with pytest.raises(ValueError, match=message):
        RelBERT.from_pretrained(tiny_bert_path, max_length=value, device="cpu")
    with pytest.raises(ValueError, match=message):
        RelBERT.from_pretrained(saved_model, max_length=value, device="cpu")
    model = RelBERT.from_pretrained(saved_model, device="cpu")
    with pytest.raises(ValueError, match=message):
        model.max_length = value
    assert model.max_length == 40 and model.config.max_length == 40


def test_template_and_max_length_arguments_are_applied_together(saved_model):
    model = RelBERT.from_pretrained(saved_model, template="<subj> <mask> <obj>", max_length=6, device="cpu")
    assert (model.template, model.max_length) == ("<subj> <mask> <obj>", 6)


def test_max_length_on_the_command_line(tiny_bert_path, tmp_path, capsys):
    from relemb.cli import main

    source = tmp_path / "pairs.tsv"
    source.write_text("tokyo\tjapan\n")
    argv = ["embed", "pairs", str(source), "--model", tiny_bert_path, "-o", str(tmp_path / "x.npy"), "--no-progress"]
    assert main([*argv, "--max-length", "0", "--device", "cpu"]) == 2
    assert "max_length must be an integer from 25 (what the template needs) to 160" in capsys.readouterr().err
    assert main([*argv, "--device", "cuda:99"]) == 2
    assert "device 'cuda:99' is not available (available here: cpu" in capsys.readouterr().err
    assert not (tmp_path / "x.npy").exists()


@pytest.mark.parametrize("device", ["cuda:99", "mps:3", "xpu"])
def test_a_device_this_machine_lacks_is_one_clear_error(tiny_bert_path, device):
    from relemb.model import available_devices

    with pytest.raises(ValueError, match=rf"^device '{device}' is not available \(available here: cpu"):
        RelBERT.from_pretrained(tiny_bert_path, device=device)
    assert available_devices()[0] == "cpu"


def test_cuda_without_a_gpu_and_unknown_devices(tiny_bert_path, monkeypatch):
    import torch

    from relemb.model import check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:0"):
        with pytest.raises(ValueError, match=rf"^device '{device}' is not available \(available here: cpu"):
            RelBERT.from_pretrained(tiny_bert_path, device=device)
    with pytest.raises(ValueError, match=r"^unknown device 'gpu' \(available here: cpu"):
        check_device("gpu")
    assert check_device("cpu") == "cpu" and check_device(torch.device("cpu")) == "cpu"

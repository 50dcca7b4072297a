"""relemb.hub: reachability, network errors, and uploading a model (with a fake HfApi: no network)."""

import inspect
import time

import pytest

import relemb.hub
from relemb.hub import hub_offline, hub_unavailable_reason, is_network_error, push_folder


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
    assert is_network_error(TimeoutError("read timed out")) and not is_network_error(None)


def test_offline_mode_is_read_at_call_time(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_offline() and "HF_HUB_OFFLINE" in hub_unavailable_reason()
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert not hub_offline()


class FakeApi:
    """Records the calls push_folder makes; ``fail`` raises from create_repo."""

    calls: list = []
    fail: BaseException | None = None

    def __init__(self, token=None):
        self.calls.append(("init", {"token": token}))

    def create_repo(self, repo_id, **kwargs):
        if self.fail is not None:
            raise self.fail
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return type("RepoUrl", (), {"repo_id": repo_id if "/" in repo_id else f"me/{repo_id}"})()

    def create_branch(self, **kwargs):
        self.calls.append(("create_branch", kwargs))

    def upload_folder(self, folder_path, **kwargs):
        import os

        self.calls.append(("upload_folder", {**kwargs, "files": sorted(os.listdir(folder_path))}))
        readme = os.path.join(folder_path, "README.md")
        self.calls.append(("readme", open(readme).read() if os.path.exists(readme) else None))
        return type("CommitInfo", (), {"commit_url": "https://hub/commit/1", "pr_url": "https://hub/pr/1"})()


@pytest.fixture
def fake_hub(monkeypatch):
    import huggingface_hub

    FakeApi.calls, FakeApi.fail = [], None
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(relemb.hub, "hub_unavailable_reason", lambda: None)
    return FakeApi


def test_push_folder_passes_the_options_through(fake_hub):
    written = []
    url = push_folder(
        "model",
        lambda folder, repo_id: written.append(repo_id) or (folder / "a.txt").write_text("a"),
        token="hf_x",
        private=True,
        commit_message="first",
        revision="dev",
        exist_ok=False,
    )
    assert url == "https://hub/commit/1" and written == ["me/model"]  # the full repo id reaches the writer
    calls = dict(fake_hub.calls)
    assert calls["init"] == {"token": "hf_x"}
    assert calls["create_repo"] == {"repo_id": "model", "private": True, "exist_ok": False, "repo_type": "model"}
    assert calls["create_branch"] == {"repo_id": "me/model", "branch": "dev", "exist_ok": True}
    assert calls["upload_folder"] == {
        "repo_id": "me/model",
        "commit_message": "first",
        "revision": "dev",
        "create_pr": False,
        "files": ["a.txt"],
    }


def test_push_folder_create_pr_returns_the_pr_url(fake_hub):
    url = push_folder("me/model", lambda folder, repo_id: None, commit_message="m", create_pr=True, exist_ok=False)
    calls = dict(fake_hub.calls)
    assert url == "https://hub/pr/1" and calls["upload_folder"]["create_pr"] is True
    assert calls["create_repo"]["exist_ok"] is True  # a pull request goes to an existing repo
    assert "create_branch" not in calls


def test_push_folder_network_failure_is_a_connection_error(fake_hub):
    class ConnectError(Exception):
        pass

    fake_hub.fail = ConnectError("dns failure")
    with pytest.raises(ConnectionError, match=r"unreachable \(ConnectError: dns failure\)"):
        push_folder("me/model", lambda folder, repo_id: None, commit_message="m")
    fake_hub.fail = PermissionError("403 forbidden")  # not a network error: raised as it is
    with pytest.raises(PermissionError, match="403"):
        push_folder("me/model", lambda folder, repo_id: None, commit_message="m")


def test_push_folder_offline_fails_before_writing(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    written = []
    with pytest.raises(ConnectionError, match="unreachable .*HF_HUB_OFFLINE"):
        push_folder("me/model", lambda folder, repo_id: written.append(folder), commit_message="m")
    assert written == []


def test_push_to_hub_has_the_leading_arguments_of_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    from relemb import RelBERT

    ours = list(inspect.signature(RelBERT.push_to_hub).parameters)
    theirs = list(inspect.signature(SentenceTransformer.push_to_hub).parameters)
    assert ours[:4] == theirs[:4] == ["self", "repo_id", "token", "private"]
    assert {"commit_message", "revision", "create_pr", "exist_ok"} <= set(ours) & set(theirs)


def test_push_to_hub_uploads_the_saved_model(tiny_model, fake_hub):
    url = tiny_model.push_to_hub("relemb-test", "hf_x", True, revision="v1", create_pr=True, commit_message="c")
    assert url == "https://hub/pr/1"
    calls = dict(fake_hub.calls)
    assert calls["init"] == {"token": "hf_x"} and calls["create_repo"]["private"] is True
    upload = calls["upload_folder"]
    assert (upload["revision"], upload["create_pr"], upload["commit_message"]) == ("v1", True, "c")
    assert {"model.safetensors", "modules.json", "relemb_config.json", "README.md"} <= set(upload["files"])
    assert 'RelBERT.from_pretrained("me/relemb-test")' in calls["readme"]  # the card names the full repo id


def test_push_to_hub_default_commit_message_and_exist_ok(tiny_model, fake_hub):
    tiny_model.push_to_hub("me/relemb-test")
    calls = dict(fake_hub.calls)
    assert calls["create_repo"]["exist_ok"] is True and calls["create_repo"]["private"] is None
    assert calls["upload_folder"]["commit_message"] == "Upload relemb relation model"


def test_push_to_hub_with_unreachable_network_fails_fast(tiny_model, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(relemb.hub, "hub_unavailable_reason", lambda: "cannot reach huggingface.co:443 (test)")
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=r"unreachable \(cannot reach huggingface.co:443 \(test\)\)"):
        tiny_model.push_to_hub("someone/relemb-test", token="hf_fake")
    assert time.monotonic() - start < 30

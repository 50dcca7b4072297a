"""Talking to the Hugging Face Hub: is it reachable (one quick answer shared by model and data loading), was an
error a network failure, and uploading a model folder.

Hub downloads retry for tens of seconds when the network is missing; relemb asks first (``HF_HUB_OFFLINE``,
then a short TCP probe, cached for a minute) and falls back to the local cache only, so a missing model
or dataset fails within seconds with a clear message. Uploads fail the same way, with a ``ConnectionError``.

>>> is_network_error(TimeoutError("read timed out")), is_network_error(ValueError("bad value"))
(True, False)
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

__all__ = [
    "HUB_PROBE_TIMEOUT",
    "hub_offline",
    "hub_reachable",
    "hub_unavailable_reason",
    "is_network_error",
    "push_folder",
]

#: Seconds to wait for a TCP connection to the Hub before treating it as unreachable.
HUB_PROBE_TIMEOUT = 3.0
_PROBE_TTL = 60.0
_probe_cache: dict[tuple[str, int], tuple[float, bool, str]] = {}
_TRUE = {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set; read at call time."""
    return any(os.environ.get(var, "").strip().lower() in _TRUE for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _hub_endpoint() -> str:
    try:
        from huggingface_hub import constants

        return constants.ENDPOINT
    except Exception:  # pragma: no cover - huggingface_hub is a dependency
        return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT) -> tuple[bool, str]:
    """Quick TCP probe of the Hub endpoint (cached for a minute): ``(reachable, reason)``.

    Skipped (assumed reachable) when a proxy is configured, since the proxy decides.
    """
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True, "proxy configured"
    url = urlparse(_hub_endpoint())
    host = url.hostname or "huggingface.co"
    port = url.port or (80 if url.scheme == "http" else 443)
    now = time.monotonic()
    cached = _probe_cache.get((host, port))
    if cached is not None and now - cached[0] < _PROBE_TTL:
        return cached[1], cached[2]
    result: dict[str, object] = {}

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result["ok"] = True
        except OSError as exc:
            result["error"] = exc

    thread = threading.Thread(target=probe, name="relemb-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    if result.get("ok"):
        ok, reason = True, "reachable"
    elif "error" in result:
        ok, reason = False, f"cannot reach {host}:{port} ({result['error']})"
    else:
        ok, reason = False, f"cannot reach {host}:{port} (no answer within {timeout:g} s)"
    _probe_cache[(host, port)] = (now, ok, reason)
    return ok, reason


def hub_unavailable_reason() -> str | None:
    """``None`` when the Hub may be used now, else why not (offline mode, or the probe failed)."""
    if hub_offline():
        return "offline mode (HF_HUB_OFFLINE is set)"
    ok, reason = hub_reachable()
    return None if ok else reason


#: Exception class names (anywhere in an error's MRO or its chain of causes) that mean "the Hub was not reached".
_NETWORK_ERROR_NAMES = frozenset(
    {
        "OfflineModeIsEnabled",
        "ConnectError",
        "ConnectTimeout",
        "NetworkError",
        "TimeoutException",
        "TransportError",
        "ConnectionError",
        "Timeout",
        "TimeoutError",
        "LocalEntryNotFoundError",
    }
)


def is_network_error(error: BaseException | None) -> bool:
    """Whether ``error`` (or its cause) means the Hub could not be reached (offline, DNS, timeout).

    >>> is_network_error(RuntimeError("wrapped")), is_network_error(ConnectionRefusedError())
    (False, True)
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if _NETWORK_ERROR_NAMES & {klass.__name__ for klass in type(error).__mro__}:
            return True
        error = error.__cause__ or error.__context__
    return False


def _unreachable(repo_id: str, reason: str) -> ConnectionError:
    return ConnectionError(
        f"could not push to the Hugging Face Hub repo {repo_id!r}: the Hub is unreachable ({reason}). "
        "Save locally with save_pretrained() and push when online."
    )


def push_folder(
    repo_id: str,
    write: Callable[[Path, str], object],
    *,
    token: bool | str | None = None,
    private: bool | None = None,
    commit_message: str,
    revision: str | None = None,
    create_pr: bool = False,
    exist_ok: bool = True,
) -> str:
    """Create the Hub model repo ``repo_id`` (if needed), let ``write(folder, repo_id)`` fill a temporary folder,
    and upload it as one commit; returns the commit URL (the pull request's with ``create_pr``).

    ``revision`` names a branch (created if missing); ``exist_ok=False`` refuses a repo that exists already
    (``create_pr`` implies it may exist). When the Hub cannot be reached (offline mode, no network) this fails
    within seconds with a ``ConnectionError`` saying so, before ``write`` runs.

    >>> push_folder("me/model", lambda folder, repo: None, commit_message="x")  # doctest: +SKIP
    'https://huggingface.co/me/model/commit/...'
    """
    unavailable = hub_unavailable_reason()
    if unavailable:
        raise _unreachable(repo_id, unavailable)
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        repo_url = api.create_repo(repo_id, private=private, exist_ok=exist_ok or create_pr, repo_type="model")
        repo_id = getattr(repo_url, "repo_id", None) or repo_id  # with the user or organization filled in
        if revision is not None:
            api.create_branch(repo_id=repo_id, branch=revision, exist_ok=True)
        with tempfile.TemporaryDirectory() as folder:
            write(Path(folder), repo_id)
            info = api.upload_folder(
                repo_id=repo_id,
                folder_path=folder,
                commit_message=commit_message,
                revision=revision,
                create_pr=create_pr,
            )
    except Exception as error:
        if is_network_error(error):
            raise _unreachable(repo_id, f"{type(error).__name__}: {error}") from None
        raise
    url = getattr(info, "pr_url", None) if create_pr else getattr(info, "commit_url", None)
    return str(url or info)

"""Is the Hugging Face Hub reachable? One quick answer shared by model and data loading.

Hub downloads retry for tens of seconds when the network is missing; relemb asks first (``HF_HUB_OFFLINE``,
then a short TCP probe, cached for a minute) and falls back to the local cache only, so a missing model
or dataset fails within seconds with a clear message.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from urllib.parse import urlparse

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

"""Where a preset's weights can come from, found without downloading anything.

`offline()` reads the HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE switches, `reachable()` tries a
TCP connection for a few seconds (so an unreachable hub costs seconds, not minutes), and
`is_cached()` looks into torchvision's and Hugging Face's local caches.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from .loaders import tv_weights

__all__ = ["offline", "hub_host", "reachable", "is_cached", "PROBE_TIMEOUT_S"]

PROBE_TIMEOUT_S = 2.5  # long enough for a slow but working network, short enough to not annoy offline


def offline() -> bool:
    """True when HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set to 1 / true / yes / on."""
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_host() -> str:
    """The Hugging Face host to probe: $HF_ENDPOINT's (a mirror), else huggingface.co."""
    return urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"


def reachable(host: str, port: int = 443, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Can we open a TCP connection (to the proxy, if one is set) within `timeout` seconds?

    Runs in a thread so that a hanging DNS lookup is also cut off."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    if proxy:
        parsed = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        host, port = parsed.hostname or host, parsed.port or 80
    result: list[bool] = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def is_cached(kind: str, ref: str) -> bool:
    """Are the weights of a 'torchvision' or 'hub' preset already on this machine? (No network.)"""
    if kind == "torchvision":
        import torch

        url = tv_weights(ref).url
        return (Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)).is_file()
    if kind == "hub":
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(ref, "config.json")
        return isinstance(found, str)
    return False

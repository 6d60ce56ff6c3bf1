"""Whether a model's pretrained weights can be had, answered in well under a second.

Without this, open_clip asks the model hub for uncached weights through huggingface_hub, which
retries for about a minute on a machine without internet and then fails with a multi-line error.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

from vindex.defaults import TINY_MODEL
from vindex.embedding.spec import ModelSpec
from vindex.errors import VindexError

# A reachable hub accepts a TCP connection in tens of milliseconds; two seconds leaves room for
# a slow link without making an offline machine wait long.
CONNECT_TIMEOUT_SECONDS = 2.0
# Where open_clip's default weights live on the hub, so the cache can be checked without
# importing open_clip (which imports torch: seconds). Other models are looked up in open_clip.
KNOWN_HUB_REPOS = {("ViT-B-32", "laion2b_s34b_b79k"): "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"}
HUB_ENDPOINT = "https://huggingface.co"
TRUE_WORDS = {"1", "on", "yes", "true"}


def hub_cache() -> Path:
    """The folder huggingface_hub (and so open_clip) downloads models into."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return cache / "huggingface" / "hub"


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in TRUE_WORDS


def hub_repo(spec: ModelSpec) -> str | None:
    """The hub repository that holds `spec`'s pretrained weights, when it can be told cheaply."""
    repo = KNOWN_HUB_REPOS.get((spec.name, spec.pretrained))
    if repo or "open_clip" not in sys.modules:
        return repo
    import open_clip

    return (open_clip.get_pretrained_cfg(spec.name, spec.pretrained) or {}).get("hf_hub", "").strip("/") or None


def is_cached(repo: str) -> bool:
    snapshots = hub_cache() / f"models--{repo.replace('/', '--')}" / "snapshots"
    return any(snapshots.glob("*/open_clip_*"))


def reachable(url: str) -> bool:
    """Whether a TCP connection to `url`'s host (or the HTTPS proxy) opens within the timeout."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    target = urlparse(proxy or url)
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        socket.create_connection((target.hostname or "", port), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except OSError:
        return False
    return True


def check_weights_available(spec: ModelSpec) -> None:
    """Fail at once, in one line, when `spec` needs a download that cannot happen.

    Weights already cached, local files and the tiny model pass. When the repository is unknown
    (without importing open_clip) and the hub is unreachable, huggingface_hub is told to stay
    offline, so open_clip finds cached weights or fails without retrying.
    """
    if spec.checkpoint or spec.name == TINY_MODEL or not spec.pretrained or os.path.isfile(spec.pretrained):
        return
    repo = hub_repo(spec)
    if repo and is_cached(repo):
        return
    endpoint = os.environ.get("HF_ENDPOINT") or HUB_ENDPOINT
    if hub_offline():
        why = "HF_HUB_OFFLINE is set"
    elif reachable(endpoint):
        return
    else:
        why = f"{urlparse(endpoint).hostname} cannot be reached"
    if repo is None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        return
    raise VindexError(
        f"the {spec.name} weights ({spec.pretrained}) are not on this machine and {why}: download them once "
        f"where there is internet (open_clip keeps them in {hub_cache()}), or pass --checkpoint FILE, "
        "or try --model vindex-tiny"
    )

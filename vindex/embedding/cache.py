"""Where converted and quantised models are kept between runs: the user's cache folder."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from vindex.embedding.spec import ModelSpec


def cache_root() -> Path:
    """`$VINDEX_CACHE`, else the platform's cache folder for vindex (as platformdirs places it)."""
    if os.environ.get("VINDEX_CACHE"):
        return Path(os.environ["VINDEX_CACHE"]).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "vindex"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "vindex" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "vindex"


def model_folder(spec: ModelSpec, runtime: str) -> Path:
    """One folder per model, weights and runtime version: new weights or a new OpenVINO
    convert again instead of reading a stale file."""
    weights = spec.weights
    if spec.checkpoint:
        # The digest names the weights; the file's path may change without them changing.
        weights = weights.rsplit(":", 1)[-1]
    return cache_root() / "models" / _safe(f"{spec.name}-{weights}") / _safe(runtime)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)

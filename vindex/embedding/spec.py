"""Which weights make the vectors, and what can be known about a model without loading it.

Nothing here imports torch at module level: `model_config` reads open_clip's JSON config files
straight from disk, so a search with a cached OpenVINO model never pays for torch.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from vindex.defaults import MODEL as DEFAULT_MODEL
from vindex.defaults import PRETRAINED as DEFAULT_PRETRAINED
from vindex.defaults import TINY_MODEL
from vindex.errors import VindexError

TINY_SEED = 0
RANDOM_WEIGHTS = "random-init"  # how the index's `weights` begins when no trained weights made its vectors
MODEL_CONFIG_DIR = Path(__file__).resolve().parent.parent / "models"


@dataclass(frozen=True)
class ModelSpec:
    """Which weights make the vectors: an open_clip model name plus a pretrained tag or a local file."""

    name: str | None = DEFAULT_MODEL
    pretrained: str | None = None
    checkpoint: str | None = None
    folder: str | None = None  # a model folder (`vindex model export`, or immich's layout)
    folder_weights: str | None = None  # the weights' identity that folder records

    def resolved(self) -> "ModelSpec":
        """Fill in the default pretrained tag, so the spec names exactly one set of weights; a model
        folder (given as `folder`, or as the name) names its model and weights itself."""
        from vindex.embedding.model_folder import is_model_folder, read_model_folder

        if self.folder_weights:
            return self
        if self.folder or (not self.pretrained and not self.checkpoint and is_model_folder(self.name)):
            found = read_model_folder(self.folder or self.name)
            return ModelSpec(found.name, folder=str(found.root), folder_weights=found.weights)
        if self.checkpoint or self.pretrained or self.name == TINY_MODEL:
            return self
        return ModelSpec(self.name, DEFAULT_PRETRAINED.get(self.name) or _first_pretrained_tag(self.name))

    @property
    def weights(self) -> str:
        """What the index records as the weights' identity."""
        if self.folder_weights:
            return self.folder_weights
        if self.checkpoint:
            return f"checkpoint:xxh3:{checkpoint_digest(self.checkpoint)}"
        if self.pretrained:
            return self.pretrained
        return f"{RANDOM_WEIGHTS}-seed-{TINY_SEED}"


def random_weights_warning(weights: str | None, what: str) -> str | None:
    """What to tell someone whose index was made without trained weights (the built-in `vindex-tiny`):
    its vectors tell looks apart, but anything read through words (`what`) means nothing. None otherwise."""
    if not str(weights or "").startswith(RANDOM_WEIGHTS):
        return None
    return (f"this index's model has random weights, so its {what} mean nothing (it tells looks apart, "
            "not words); for real ones, index with trained CLIP weights: `vindex add FOLDER --reembed --model "
            "ViT-B-32` (downloads them once) or `--checkpoint FILE` (offline)")


@dataclass(frozen=True)
class ModelShape:
    """What a driver that does not run the model needs to know about it."""

    spec: ModelSpec
    dim: int
    image_size: int


def _first_pretrained_tag(name: str) -> str | None:
    import open_clip

    tags = open_clip.list_pretrained_tags_by_model(name)
    return tags[0] if tags else None


def checkpoint_digest(path: str) -> str:
    from vindex.scanning import hash_file

    return hash_file(path)[:16]


def register_tiny_model() -> None:
    """Make `vindex-tiny` (a 2-layer ViT/text transformer, 512-d output) known to open_clip."""
    import open_clip

    if TINY_MODEL not in open_clip.list_models():
        open_clip.add_model_config(MODEL_CONFIG_DIR / f"{TINY_MODEL}.json")


def model_config(name: str) -> dict | None:
    """The model's open_clip config (embed_dim, vision_cfg, text_cfg) read from its JSON file,
    without importing open_clip (which imports torch: seconds). None if not found."""
    if name == TINY_MODEL:
        path = MODEL_CONFIG_DIR / f"{TINY_MODEL}.json"
    else:
        package = importlib.util.find_spec("open_clip")
        if package is None or not package.submodule_search_locations:
            return None
        path = Path(package.submodule_search_locations[0]) / "model_configs" / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _side(size) -> int:
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def image_size_of(spec: ModelSpec) -> int | None:
    """The model's input size, so decoding can start while the model loads. None if not found."""
    if spec.folder:
        from vindex.embedding.model_folder import read_model_folder

        return read_model_folder(spec.folder).image_size
    try:
        return _side(model_config(spec.name)["vision_cfg"]["image_size"])
    except (TypeError, KeyError):
        return None


def check_model(spec: ModelSpec) -> None:
    """The errors a user can fix before any weights are read: an unknown name, a missing file."""
    import open_clip

    register_tiny_model()
    if spec.name not in open_clip.list_models():
        if os.sep in spec.name or spec.name.startswith((".", "~")):
            where = "is not a model folder" if os.path.isdir(spec.name) else "does not exist"
            raise VindexError(f"model folder {spec.name} {where}: make one with "
                              f"`vindex model export NAME --out {spec.name}`")
        raise VindexError(f"unknown model {spec.name!r}: give an open_clip model name (such as ViT-B-32) "
                          "or a folder made by `vindex model export`")
    if spec.checkpoint and not os.path.isfile(spec.checkpoint):
        raise VindexError(f"checkpoint file not found: {spec.checkpoint}")
    tags = open_clip.list_pretrained_tags_by_model(spec.name)
    if spec.pretrained and spec.pretrained not in tags and not os.path.isfile(spec.pretrained):
        known = ", ".join(tags) if tags else "none (use --checkpoint FILE)"
        raise VindexError(f"unknown pretrained tag {spec.pretrained!r} for {spec.name}; known tags: {known}")


def model_shape(spec: ModelSpec) -> ModelShape:
    """The vector size and input size from the model's config, without loading its weights."""
    config = model_config(spec.name) if spec.name == TINY_MODEL else None
    if spec.folder:
        from vindex.embedding.model_folder import read_model_folder

        found = read_model_folder(spec.folder)
        return ModelShape(spec, found.dim, found.image_size)
    if config:
        return ModelShape(spec, int(config["embed_dim"]), _side(config["vision_cfg"]["image_size"]))
    import open_clip

    check_model(spec)
    config = open_clip.get_model_config(spec.name)
    return ModelShape(spec, int(config["embed_dim"]), _side(config["vision_cfg"]["image_size"]))

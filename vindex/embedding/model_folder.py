"""A model as portable files: the image and text towers, the tokenizer and the preprocessing, in
one folder that loads without torch.

Two layouts load through the same code:
- vindex's (`vindex model export`): `model.json` (name, weights, sizes), `image.xml`/`text.xml`
  (OpenVINO IR, uint8 RGB frames in, pixel normalisation inside), the BPE vocabulary and
  `preprocess_cfg.json`;
- immich's (`visual/model.onnx`, `textual/model.onnx`, `textual/tokenizer.json`,
  `preprocess_cfg.json`, `config.json`): the image tower takes normalised float pixels, so the
  normalisation runs in numpy before it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vindex.errors import VindexError

FACTS_FILE = "model.json"
PREPROCESS_FILE = "preprocess_cfg.json"
VOCABULARY_FILE = "bpe_simple_vocab_16e6.txt.gz"
IMAGE_IR, TEXT_IR = "image.xml", "text.xml"
IMMICH_IMAGE, IMMICH_TEXT = "visual/model.onnx", "textual/model.onnx"
IMMICH_TOKENIZER, IMMICH_CONFIG = "textual/tokenizer.json", "config.json"


@dataclass(frozen=True)
class ModelFolder:
    """Where a model's towers and tokenizer are, and what its towers take in."""

    root: Path
    name: str
    weights: str
    dim: int
    image_size: int
    context_length: int
    image_path: Path
    text_path: Path
    tokenizer_path: Path | None  # None: open_clip's own tokenizer (not CLIP's BPE), which needs torch
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    pixels_inside: bool  # True: the image tower takes uint8 NHWC frames; False: normalised float NCHW

    def image_inputs(self, frames: np.ndarray) -> np.ndarray:
        """(n, size, size, 3) uint8 RGB frames → what the image tower takes in."""
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        if self.pixels_inside:
            return frames
        mean, std = np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)
        pixels = (frames.astype(np.float32) / np.float32(255.0) - mean) / std
        return np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))


def is_model_folder(path: str | Path | None) -> bool:
    if not path:
        return False
    root = Path(path)
    return (root / FACTS_FILE).is_file() or (root / IMMICH_IMAGE).is_file()


def read_model_folder(path: str | Path) -> ModelFolder:
    """The model in folder `path`, in either layout; one-line errors for what is missing."""
    root = Path(path).expanduser().resolve()
    try:
        preprocess = json.loads((root / PREPROCESS_FILE).read_text())
        if (root / IMMICH_IMAGE).is_file():
            return _immich_folder(root, preprocess)
        facts = json.loads((root / FACTS_FILE).read_text())
        image, text = root / facts.get("image", IMAGE_IR), root / facts.get("text", TEXT_IR)
        vocabulary = root / VOCABULARY_FILE if facts.get("tokenizer", "clip-bpe") == "clip-bpe" else None
        missing = [p.name for p in (image, text, vocabulary) if p is not None and not p.is_file()]
        if missing:
            raise VindexError(f"the model folder {root} lacks {', '.join(missing)}")
        return ModelFolder(root, facts["model"], facts["weights"], int(facts["dim"]), int(facts["image_size"]),
                           int(facts["context_length"]), image, text, vocabulary,
                           tuple(preprocess["mean"]), tuple(preprocess["std"]), True)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise VindexError(f"{root} is not a model folder (vindex model export writes one): {error}") from None


def _immich_folder(root: Path, preprocess: dict) -> ModelFolder:
    config = json.loads((root / IMMICH_CONFIG).read_text()) if (root / IMMICH_CONFIG).is_file() else {}
    facts = json.loads((root / FACTS_FILE).read_text()) if (root / FACTS_FILE).is_file() else {}
    size = preprocess["size"]
    size = int(size[0] if isinstance(size, list) else size)
    text_config = config.get("text_cfg", {})
    name = facts.get("model") or root.name
    weights = facts.get("weights") or f"onnx:xxh3:{_digest(root / IMMICH_IMAGE)}-{_digest(root / IMMICH_TEXT)}"
    return ModelFolder(root, name, weights, int(facts.get("dim") or config["embed_dim"]), size,
                       int(facts.get("context_length") or text_config.get("context_length", 77)),
                       root / IMMICH_IMAGE, root / IMMICH_TEXT, root / IMMICH_TOKENIZER,
                       tuple(preprocess["mean"]), tuple(preprocess["std"]), False)


def _digest(path: Path) -> str:
    from vindex.scanning import hash_file

    return hash_file(str(path))[:16]


def preprocess_config(image_size: int, mean, std) -> dict:
    """The preprocessing, as immich and open_clip describe it: shorter side to `image_size` (bicubic),
    centre crop, then (pixel / 255 - mean) / std per channel."""
    return {"size": [image_size, image_size], "mode": "RGB", "mean": [float(v) for v in mean],
            "std": [float(v) for v in std], "interpolation": "bicubic", "resize_mode": "shortest", "fill_color": 0}

"""The torch backend: CLIP image and text embeddings through open_clip's own modules.

torch and open_clip are imported inside the functions that need them so that `vindex --help`
and every command that only reads the index start fast.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from vindex.defaults import BACKEND_PRECISIONS
from vindex.embedding.spec import TINY_SEED, ModelSpec, check_model
from vindex.embedding.weights import check_weights_available
from vindex.errors import VindexError, first_line

# The lowest cosine between bf16 and fp32 embeddings of a probe batch that we accept before
# running a model in bf16 on the CPU.
BF16_MIN_COSINE = 0.999
PRECISIONS = BACKEND_PRECISIONS["torch"]


def pick_device(device: str | None) -> str:
    import torch

    if device and device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class Embedder:
    """A loaded CLIP model: images and texts in, L2-normalised float32 vectors out."""

    backend = "torch"

    def __init__(self, spec: ModelSpec, device: str | None = None, precision: str = "auto"):
        import torch

        if precision == "int8":
            raise VindexError("int8 runs on the OpenVINO backend: pip install 'vindex[openvino]', then --backend auto")
        if precision not in PRECISIONS:
            raise VindexError(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}")

        self.spec = spec.resolved()
        self.device = pick_device(device)
        self.model = _load_model(self.spec, self.device)
        self.image_size = _image_size(self.model)
        self.mean = np.asarray(self.model.visual.image_mean, dtype=np.float32)
        self.std = np.asarray(self.model.visual.image_std, dtype=np.float32)
        self.dim = int(self.model.visual.output_dim)
        self._requested_precision = precision
        self._precision: str | None = None
        self._tokenizer = None

    @property
    def precision(self) -> str:
        """The image tower's precision, settled (and checked against fp32) on first use, so a
        text-only use of the model never pays for the check."""
        return self._settle_precision()

    def _settle_precision(self) -> str:
        if self._precision is None:
            self._precision = self._choose_precision(self._requested_precision)
        return self._precision

    def _choose_precision(self, precision: str) -> str:
        import torch

        if precision == "auto":
            if self.device == "cuda":
                precision = "fp16"
            elif self.device == "cpu" and cpu_has_bf16():
                precision = "bf16"
            else:
                precision = "fp32"
        if precision == "fp32":
            return precision
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        probe = probe_frames(self.image_size)
        reference = self._encode_images(probe)
        self.model.visual.to(dtype)
        cosine = float(np.min(np.sum(reference * self._encode_images(probe), axis=1)))
        if not cosine >= BF16_MIN_COSINE:  # NaN (an overflow in the reduced precision) fails too
            logging.getLogger(__name__).warning("%s gave cosine %.4f against fp32; using fp32", precision, cosine)
            self.model.visual.float()
            return "fp32"
        return precision

    def _pixels(self, images: np.ndarray):
        import torch

        tensor = torch.from_numpy(images).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        mean = torch.from_numpy(self.mean).to(self.device).view(1, 3, 1, 1)
        std = torch.from_numpy(self.std).to(self.device).view(1, 3, 1, 1)
        dtype = next(self.model.visual.parameters()).dtype
        return ((tensor - mean) / std).to(dtype)

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        """(n, size, size, 3) uint8 RGB frames → (n, dim) L2-normalised float32 vectors."""
        self._settle_precision()
        return self._encode_images(images)

    def _encode_images(self, images: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode(), denormals_flushed():
            features = self.model.encode_image(self._pixels(images)).float()
            features = torch.nn.functional.normalize(features, dim=-1)
        return features.cpu().numpy()

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Texts → (n, dim) L2-normalised float32 vectors through the same model's text tower."""
        import torch

        with torch.inference_mode(), denormals_flushed():
            tokens = self.tokenizer(texts).to(self.device)
            features = self.model.encode_text(tokens).float()
            features = torch.nn.functional.normalize(features, dim=-1)
        return features.cpu().numpy()

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            import open_clip

            self._tokenizer = open_clip.get_tokenizer(self.spec.name)
        return self._tokenizer

    @property
    def context_length(self) -> int:
        return int(getattr(self.tokenizer, "context_length", 77))


@contextmanager
def denormals_flushed():
    """Denormal floats flushed to zero while torch computes (they made random weights 100x slower on
    the CPU), and kept again after. The flag is the calling thread's, for every library it runs: left
    set, it made OpenVINO, compiling an immich-layout ONNX model later in the same thread on an AVX2 CPU,
    read a shape held as float bits as 0 (its Broadcast failed, 'Value -1 not in range')."""
    import torch

    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _image_size(model) -> int:
    size = model.visual.image_size
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def _load_model(spec: ModelSpec, device: str):
    import open_clip
    import torch

    check_model(spec)
    check_weights_available(spec)
    weights = spec.checkpoint or spec.pretrained
    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.setLevel(logging.ERROR)  # open_clip warns "initialized randomly" for vindex-tiny
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_SEED)
            model = open_clip.create_model(spec.name, pretrained=weights, device=device)
    except Exception as error:  # open_clip raises bare RuntimeError/OSError/HF errors for missing weights
        what = f"{spec.name} with {spec.checkpoint or spec.pretrained}"
        raise VindexError(
            f"could not load {what}: {first_line(error, 160)} "
            "(weights download on first use; offline, pass --checkpoint FILE)"
        ) from None
    finally:
        root_logger.setLevel(level)
    model.eval()
    return model


def probe_frames(size: int) -> np.ndarray:
    """Noise and smooth gradients, the two kinds of picture a decoder gives (bf16 overflowed on
    gradients alone with a random-weight model)."""
    noise = np.random.default_rng(0).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    y, x = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    smooth = [np.stack([x, y, 1 - x], axis=-1) * 255 * level for level in (0.5, 1.0)]
    return np.concatenate([noise, np.asarray(smooth, dtype=np.uint8)])

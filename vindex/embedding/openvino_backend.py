"""The OpenVINO backend: open_clip's image and text towers converted once to OpenVINO IR.

The conversion starts from the same open_clip module the torch backend runs (so both make the
same vectors), is saved in the user's cache folder under the model, its weights' identity and the
OpenVINO version, and is read back by every later run. Reading the text tower needs neither torch
nor open_clip: `vindex query` on a CPU starts in well under two seconds.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from vindex.defaults import BACKEND_PRECISIONS, TINY_MODEL
from vindex.embedding.cache import model_folder
from vindex.embedding.model_folder import FACTS_FILE, ModelFolder, read_model_folder
from vindex.embedding.openvino_runtime import (
    INFERENCE_TYPES, compile_model, computed_precision, import_openvino, openvino_version,
)
from vindex.embedding.spec import MODEL_CONFIG_DIR, ModelSpec, check_model
from vindex.embedding.tokenizer import clip_tokenizer
from vindex.embedding.torch_backend import BF16_MIN_COSINE, probe_frames
from vindex.errors import VindexError
from vindex.norms import unit_rows
from vindex.results import StatusHook

PRECISIONS = BACKEND_PRECISIONS["openvino"]
# Which precision each tower may run in on this machine, after checking the runtime's choice against f32 once.
PRECISION_CHECK_FILE = "precision-check.json"
# Bumped when what the cache folder holds changes: a model converted by an older vindex is converted again.
CACHE_LAYOUT = 2
# `vindex-tiny`, exported and shipped in the package: no conversion, no torch.
SHIPPED_TINY = MODEL_CONFIG_DIR / TINY_MODEL


def log_status(message: str) -> None:
    logging.getLogger("vindex").info(message)


class OpenVinoEmbedder:
    """A CLIP model on OpenVINO: the same interface as the torch `Embedder`, CPU only."""

    backend = "openvino"
    device = "cpu"

    def __init__(self, spec: ModelSpec, precision: str = "auto", status: StatusHook | None = None,
                 calibration: Callable[[int, int], np.ndarray] | None = None):
        """`calibration`: (count, size) → frames of the user's videos, for int8's first calibration."""
        if precision not in PRECISIONS:
            raise VindexError(f"unknown precision {precision!r} for OpenVINO: use {', '.join(PRECISIONS)}")
        self.spec = spec.resolved()
        self.status = status or log_status
        self.calibration = calibration
        # Compiled kernels, precision verdicts and int8 go here; the towers are read from `source`.
        self.folder = model_folder(self.spec, f"openvino-{openvino_version()}-{CACHE_LAYOUT}")
        self.source = model_source(self.spec, self.folder, self.status)
        self.dim, self.image_size = self.source.dim, self.source.image_size
        self.context_length = self.source.context_length
        self._requested_precision = precision
        self._precision: str | None = None
        self.fidelity: dict | None = None  # int8 against full precision, when int8 was asked for
        self._core = None
        self._image = None
        self._text = None
        self._tokenizer = None

    # -- runtime ------------------------------------------------------------------------------
    @property
    def core(self):
        if self._core is None:
            self._core = import_openvino().Core()
            # Compiled kernels are cached too: compiling the text tower is most of a cold query.
            self._core.set_property({"CACHE_DIR": str(self.folder / "compiled")})
        return self._core

    def compile(self, path: Path, precision: str):
        return compile_model(self.core, path, precision)

    def _checked_compile(self, tower: str, path: Path, precision: str, probe: np.ndarray):
        """`tower` compiled in `precision`, unless the runtime's reduced precision (bf16 on a CPU that
        has it) strays from f32 on `probe` (cosine below BF16_MIN_COSINE, or NaN from an overflow):
        then in f32, with a warning. The verdict is kept beside the converted model."""
        verdicts = self._verdicts()
        key = f"{tower} {precision}"
        if verdicts.get(key) == "fp32":
            return self.compile(path, "fp32")
        compiled = self.compile(path, precision)
        if precision == "fp32" or key in verdicts or computed_precision(compiled) == "fp32":
            return compiled
        full = self.compile(path, "fp32")
        cosine = float(np.min(np.sum(unit_rows(full(probe)[0]) * unit_rows(compiled(probe)[0]), axis=1)))
        if not cosine >= BF16_MIN_COSINE:
            return self._fall_back_to_f32(tower, path, f"cosine {cosine:.4f} against f32", key, full)
        self._record_verdict(key, computed_precision(compiled))
        return compiled

    def _fall_back_to_f32(self, tower: str, path: Path, why: str, key: str | None = None, full=None):
        """The tower compiled in f32, remembered for this model and precision, with one warning."""
        self._record_verdict(key or f"{tower} {self._requested_precision}", "fp32")
        logging.getLogger("vindex").warning("OpenVINO's bf16 gave %s for the %s tower; using f32", why, tower)
        return full if full is not None else self.compile(path, "fp32")

    def _verdicts(self) -> dict:
        try:
            return json.loads((self.folder / PRECISION_CHECK_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def _record_verdict(self, key: str, precision: str) -> None:
        verdicts = self._verdicts()
        verdicts[key] = precision
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / PRECISION_CHECK_FILE).write_text(json.dumps(verdicts))
        except OSError:
            pass  # a read-only cache: the check runs again next time

    @property
    def precision(self) -> str:
        """The image tower's precision, settled at its first use (int8 is calibrated then, once)."""
        self._image_model()
        return self._precision

    def _image_model(self):
        if self._image is None:
            precision = self._requested_precision
            path = self.source.image_path
            if precision == "int8":
                from vindex.embedding.quantize import int8_image_model

                frames = None
                if self.calibration is not None:
                    frames = lambda count: self.source.image_inputs(self.calibration(count, self.image_size))  # noqa: E731
                quantized, self.fidelity = int8_image_model(self.folder, path, self.core, frames, self.status)
                path, precision = (quantized, "int8") if quantized else (path, "auto")
            if precision == "int8":
                self._image = self.compile(path, precision)
            else:
                probe = self.source.image_inputs(probe_frames(self.image_size))
                self._image = self._checked_compile("image", path, precision, probe)
            self._precision = "int8" if precision == "int8" else computed_precision(self._image)
        return self._image

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        """(n, size, size, 3) uint8 RGB frames → (n, dim) L2-normalised float32 vectors."""
        pixels = self.source.image_inputs(images)
        vectors = self._image_model()(pixels)[0]
        if not np.isfinite(vectors).all() and self._precision == "bf16":
            # An overflow the probe did not meet: these frames, and every later one, in f32.
            self._image = self._fall_back_to_f32("image", self.source.image_path, "an overflow on real frames")
            self._precision = "fp32"
            vectors = self._image(pixels)[0]
        return unit_rows(vectors)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Texts → (n, dim) L2-normalised float32 vectors through the same model's text tower."""
        if self._text is None:
            wanted = self._requested_precision if self._requested_precision in INFERENCE_TYPES else "auto"
            self._text = self._checked_compile("text", self.source.text_path, wanted,
                                               self._tokens(["a photo of a city at night", "neon abstract"]))
        return unit_rows(self._text(self._tokens(texts))[0])

    def _tokens(self, texts: list[str]) -> np.ndarray:
        """Token ids in the integer type the text tower takes (int64 from open_clip, int32 from some exports)."""
        tokens = self.tokenizer(texts)
        if self._text is not None:
            tokens = tokens.astype(self._text.input(0).get_element_type().to_dtype(), copy=False)
        return tokens

    @property
    def tokenizer(self):
        """Texts → (n, context_length) int64 ids, equal to open_clip's."""
        if self._tokenizer is None:
            if self.source.tokenizer_path is not None:
                self._tokenizer = clip_tokenizer(self.context_length, self.source.tokenizer_path)
            else:
                import open_clip

                tokenize = open_clip.get_tokenizer(self.spec.name)
                self._tokenizer = lambda texts: tokenize(texts).numpy()
        return self._tokenizer


def model_source(spec: ModelSpec, cache: Path, status: StatusHook) -> ModelFolder:
    """Where `spec`'s towers are: its own folder, the shipped `vindex-tiny`, else `cache`, converted
    there from open_clip (with torch) the first time."""
    if spec.folder:
        return read_model_folder(spec.folder)
    if spec.name == TINY_MODEL and not spec.checkpoint and (SHIPPED_TINY / FACTS_FILE).is_file():
        return read_model_folder(SHIPPED_TINY)
    if not (cache / FACTS_FILE).is_file():
        from vindex.embedding.export import require_torch

        require_torch(f"running {spec.name} without a model folder (--model DIR)")
        check_model(spec)  # an unknown name is refused before it is said to be converted
        status(f"converting {spec.name} to OpenVINO (once per model and OpenVINO version, into {cache})")
        convert_into(spec, cache)
    return read_model_folder(cache)


def convert_into(spec: ModelSpec, folder: Path) -> None:
    """Export `spec` into `folder`, written beside and renamed into place: a run killed mid-way, or
    a second process converting at the same time, never leaves a half-written model behind."""
    from vindex.embedding.export import export_model

    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".converting-", dir=folder.parent))
    try:
        export_model(spec, work)
        try:
            os.rename(work, folder)
        except OSError:  # another process got there first; its model is as good
            if not (folder / FACTS_FILE).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)

"""The OpenVINO backend: open_clip's image and text towers converted once to OpenVINO IR.

The conversion starts from the same open_clip module the torch backend runs (so both make the
same vectors), is saved in the user's cache folder under the model, its weights' identity and the
OpenVINO version, and is read back by every later run. Reading the text tower needs neither torch
nor open_clip: `vindex query` on a CPU starts in well under two seconds.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from vindex.defaults import BACKEND_PRECISIONS
from vindex.embedding.cache import model_folder
from vindex.embedding.spec import ModelSpec
from vindex.embedding.tokenizer import clip_tokenizer
from vindex.embedding.torch_backend import BF16_MIN_COSINE, probe_frames
from vindex.errors import VindexError, first_line
from vindex.norms import unit_rows
from vindex.results import StatusHook

PRECISIONS = BACKEND_PRECISIONS["openvino"]
# OpenVINO's names for the precisions it computes in on a CPU.
INFERENCE_TYPES = {"fp32": "f32", "bf16": "bf16"}
FACTS_FILE = "model.json"
# Which precision each tower may run in on this machine, after checking the runtime's choice against f32 once.
PRECISION_CHECK_FILE = "precision-check.json"
IMAGE_IR, TEXT_IR = "image.xml", "text.xml"
# Batch of the example inputs the towers are traced with; the batch dimension stays dynamic.
TRACE_BATCH = 2


def openvino_version() -> str:
    return importlib.metadata.version("openvino")


def log_status(message: str) -> None:
    logging.getLogger("vindex").info(message)


class OpenVinoEmbedder:
    """A CLIP model on OpenVINO: the same interface as the torch `Embedder`, CPU only."""

    backend = "openvino"
    device = "cpu"

    def __init__(self, spec: ModelSpec, precision: str = "auto", status: StatusHook | None = None,
                 calibration: str | Path | None = None):
        if precision not in PRECISIONS:
            raise VindexError(f"unknown precision {precision!r} for OpenVINO: use {', '.join(PRECISIONS)}")
        self.spec = spec.resolved()
        self.status = status or log_status
        self.calibration = calibration
        self.folder = model_folder(self.spec, f"openvino-{openvino_version()}")
        facts = converted_model(self.spec, self.folder, self.status)
        self.dim, self.image_size = int(facts["dim"]), int(facts["image_size"])
        self.context_length = int(facts["context_length"])
        self._tokenizer_kind = facts["tokenizer"]
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
        config = {"INFERENCE_PRECISION_HINT": INFERENCE_TYPES[precision]} if precision in INFERENCE_TYPES else {}
        try:
            return self.core.compile_model(str(path), "CPU", config)
        except RuntimeError as error:
            raise VindexError(f"OpenVINO could not compile {path}: {first_line(error)}") from None

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
            path = self.folder / IMAGE_IR
            if precision == "int8":
                from vindex.embedding.quantize import int8_image_model

                quantized, self.fidelity = int8_image_model(self, self.calibration)
                path, precision = (quantized, "int8") if quantized else (path, "auto")
            if precision == "int8":
                self._image = self.compile(path, precision)
            else:
                self._image = self._checked_compile("image", path, precision, probe_frames(self.image_size))
            self._precision = "int8" if precision == "int8" else computed_precision(self._image)
        return self._image

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        """(n, size, size, 3) uint8 RGB frames → (n, dim) L2-normalised float32 vectors."""
        pixels = np.ascontiguousarray(images, dtype=np.uint8)
        vectors = self._image_model()(pixels)[0]
        if not np.isfinite(vectors).all() and self._precision == "bf16":
            # An overflow the probe did not meet: these frames, and every later one, in f32.
            self._image = self._fall_back_to_f32("image", self.folder / IMAGE_IR, "an overflow on real frames")
            self._precision = "fp32"
            vectors = self._image(pixels)[0]
        return unit_rows(vectors)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Texts → (n, dim) L2-normalised float32 vectors through the same model's text tower."""
        if self._text is None:
            wanted = self._requested_precision if self._requested_precision in INFERENCE_TYPES else "auto"
            self._text = self._checked_compile("text", self.folder / TEXT_IR, wanted,
                                               self.tokenizer(["a photo of a city at night", "neon abstract"]))
        return unit_rows(self._text(self.tokenizer(texts))[0])

    @property
    def tokenizer(self):
        """Texts → (n, context_length) int64 ids, equal to open_clip's."""
        if self._tokenizer is None:
            if self._tokenizer_kind == "clip-bpe":
                self._tokenizer = clip_tokenizer(self.context_length)
            else:
                import open_clip

                tokenize = open_clip.get_tokenizer(self.spec.name)
                self._tokenizer = lambda texts: tokenize(texts).numpy()
        return self._tokenizer


def computed_precision(compiled) -> str:
    hint = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    return {"bf16": "bf16", "f16": "fp16"}.get(hint, "fp32")


# -- conversion ---------------------------------------------------------------------------------
def converted_model(spec: ModelSpec, folder: Path, status: StatusHook) -> dict:
    """The facts of the cached IR in `folder`, converting the model first if there is none."""
    try:
        return json.loads((folder / FACTS_FILE).read_text())
    except (OSError, ValueError):
        pass
    status(f"converting {spec.name} to OpenVINO (once per model and OpenVINO version, into {folder})")
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed into place: a run killed mid-way, or a second process
    # converting at the same time, never leaves a half-written model behind.
    work = Path(tempfile.mkdtemp(prefix=".converting-", dir=folder.parent))
    try:
        facts = convert(spec, work)
        (work / FACTS_FILE).write_text(json.dumps(facts, indent=1))
        try:
            os.rename(work, folder)
        except OSError:  # another process got there first; its model is as good
            if not (folder / FACTS_FILE).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return json.loads((folder / FACTS_FILE).read_text())


def import_openvino():
    """The `openvino` module, imported with its usage reporting switched off.

    Importing OpenVINO (and running its converter or NNCF) sends events to a web analytics service
    unless a consent file in the user's home says no. A local video index has no business doing
    that, and there may be no network at all. Both packages fall back to a no-op when their
    telemetry package cannot be imported, which a None entry in sys.modules makes so.
    """
    sys.modules.setdefault("openvino_telemetry", None)
    import openvino

    return openvino


def convert(spec: ModelSpec, folder: Path) -> dict:
    """Trace both towers of the fp32 open_clip model into IR files in `folder`."""
    import torch

    openvino = import_openvino()

    from vindex.embedding.spec import model_config
    from vindex.embedding.torch_backend import Embedder

    model = Embedder(spec, "cpu", "fp32")
    image_tower, text_tower = towers(model)
    size, context = model.image_size, model.context_length
    frames = torch.zeros((TRACE_BATCH, size, size, 3), dtype=torch.uint8)
    tokens = torch.zeros((TRACE_BATCH, context), dtype=torch.int64)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.trace's deprecation notice, OpenVINO's tracer notes
        image_ir = openvino.convert_model(image_tower, example_input=frames, input=[([-1, size, size, 3], openvino.Type.u8)])
        text_ir = openvino.convert_model(text_tower, example_input=tokens, input=[([-1, context], openvino.Type.i64)])
    # Full-precision weights: the runtime picks bf16 or f32 when it compiles, and int8
    # calibrates against these.
    openvino.save_model(image_ir, str(folder / IMAGE_IR), compress_to_fp16=False)
    openvino.save_model(text_ir, str(folder / TEXT_IR), compress_to_fp16=False)
    text_config = (model_config(spec.name) or {}).get("text_cfg", {})
    plain_bpe = not (text_config.get("hf_tokenizer_name") or text_config.get("tokenizer_kwargs")
                     or "siglip" in spec.name.lower())
    return {
        "model": spec.name, "weights": spec.weights, "dim": model.dim, "image_size": size,
        "context_length": context, "tokenizer": "clip-bpe" if plain_bpe else "open_clip",
        "openvino": openvino_version(),
    }


def towers(embedder):
    """The image tower with its pixel normalisation built in (uint8 NHWC frames in) and the text
    tower (token ids in), as modules OpenVINO can trace."""
    import torch

    model = embedder.model.requires_grad_(False)

    class ImageTower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.register_buffer("mean", torch.from_numpy(embedder.mean * 255.0).view(1, 3, 1, 1))
            self.register_buffer("std", torch.from_numpy(embedder.std * 255.0).view(1, 3, 1, 1))

        def forward(self, frames):
            pixels = (frames.permute(0, 3, 1, 2).float() - self.mean) / self.std
            return self.model.encode_image(pixels)

    class TextTower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, tokens):
            return self.model.encode_text(tokens)

    return ImageTower().eval(), TextTower().eval()

"""int8 for the image tower: NNCF post-training quantisation, calibrated on the user's own frames.

Done once per model (cached beside its IR) and only used when it passes a fidelity gate: on
frames held back from calibration, int8 vectors must stay within a mean cosine of
`INT8_MIN_COSINE` of the full-precision ones, else the model runs in bf16 (or fp32) instead.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from vindex.embedding.openvino_runtime import compile_model, import_openvino
from vindex.norms import unit_rows
from vindex.errors import VindexError

# Below this mean cosine to full precision, int8 moves neighbours enough to change search
# results (at 0.9996 the top-10 neighbours agreed 97 % for ViT-B-32).
INT8_MIN_COSINE = 0.995
CALIBRATION_FRAMES = 240  # NNCF's statistics settle by a few hundred samples
HELD_BACK_FRAMES = 60
INT8_IR, INT8_FACTS = "image-int8.xml", "image-int8.json"
# count of frames wanted → up to that many (n, size, size, 3) uint8 frames of the user's videos
CalibrationFrames = Callable[[int], np.ndarray]


def int8_image_model(folder: Path, image_ir: Path, core, calibration: CalibrationFrames | None,
                     status: Callable[[str], None]) -> tuple[Path | None, dict]:
    """The cached int8 version (in `folder`) of the image tower at `image_ir` (None if it failed the
    gate) and its measured fidelity; quantises it first, on frames from `calibration`, if needed."""
    try:
        facts = json.loads((folder / INT8_FACTS).read_text())
    except (OSError, ValueError):
        if calibration is None:
            raise VindexError("int8 calibrates on frames of your videos: run `vindex add FOLDER --precision int8`")
        facts = quantize(folder, image_ir, core, calibration(CALIBRATION_FRAMES + HELD_BACK_FRAMES), status)
    if not facts["accepted"]:
        logging.getLogger("vindex").warning(
            f"int8 kept a mean cosine of {facts['mean_cosine']:.4f} to full precision (below {INT8_MIN_COSINE}): "
            "using the full-precision model"
        )
        return None, facts
    return folder / INT8_IR, facts


def quantize(folder: Path, image_ir: Path, core, frames: np.ndarray, status: Callable[[str], None]) -> dict:
    """Quantise `image_ir` on the first frames, check it on the last ones (from other videos),
    and keep the result and its facts in `folder`."""
    openvino = import_openvino()  # first: NNCF's own import would report usage otherwise
    # NNCF imports torch's extension builder, which warns that a CPU-only machine has no CUDA.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    import nncf

    held_back = max(1, len(frames) // 5) if len(frames) < CALIBRATION_FRAMES + HELD_BACK_FRAMES else HELD_BACK_FRAMES
    if len(frames) < 2 * held_back or len(frames) < 10:
        raise VindexError(f"int8 needs at least 10 decodable frames of your videos to calibrate on; found {len(frames)}")
    calibration, check = frames[:-held_back], frames[-held_back:]
    status(f"quantising the image tower to int8 on {len(calibration)} frames of your videos (once per model)")
    model = core.read_model(str(image_ir))
    nncf.set_log_level(logging.ERROR)  # its progress bars would interleave with vindex's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NNCF's notes on the model's operations
        # NNCF draws its progress bars on stdout, where they would corrupt `--json`; vindex says
        # what it is doing on stderr instead.
        with contextlib.redirect_stdout(io.StringIO()):
            quantized = nncf.quantize(
                model, nncf.Dataset([frame[None] for frame in calibration]), model_type=nncf.ModelType.TRANSFORMER,
                subset_size=len(calibration),
            )
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".int8-", dir=folder))
    try:
        openvino.save_model(quantized, str(work / INT8_IR), compress_to_fp16=False)
        reference = compile_model(core, image_ir, "fp32")
        int8 = compile_model(core, work / INT8_IR, "int8")
        cosines = np.sum(unit_rows(reference(check)[0]) * unit_rows(int8(check)[0]), axis=1)
        facts = {
            "mean_cosine": round(float(cosines.mean()), 5), "min_cosine": round(float(cosines.min()), 5),
            "held_back_frames": len(check), "calibration_frames": len(calibration),
            "accepted": bool(cosines.mean() >= INT8_MIN_COSINE), "threshold": INT8_MIN_COSINE,
        }
        for name in (INT8_IR, INT8_IR.replace(".xml", ".bin")):
            os.replace(work / name, folder / name)
        (folder / INT8_FACTS).write_text(json.dumps(facts, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return facts

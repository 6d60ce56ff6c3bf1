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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from vindex.embedding.openvino_backend import IMAGE_IR, unit_rows
from vindex.errors import DecodeError, VindexError

# Below this mean cosine to full precision, int8 moves neighbours enough to change search
# results (at 0.9996 the top-10 neighbours agreed 97 % for ViT-B-32).
INT8_MIN_COSINE = 0.995
CALIBRATION_FRAMES = 240  # NNCF's statistics settle by a few hundred samples
HELD_BACK_FRAMES = 60
FRAMES_PER_VIDEO = 5  # few frames from many videos: the calibration sees the collection's variety
INT8_IR, INT8_FACTS = "image-int8.xml", "image-int8.json"


def int8_image_model(embedder, folder: str | Path | None) -> tuple[Path | None, dict]:
    """The cached int8 image tower of `embedder`'s model (None if it failed the gate) and its
    measured fidelity; quantises it first, from frames of the videos under `folder`, if needed."""
    cache = embedder.folder
    try:
        facts = json.loads((cache / INT8_FACTS).read_text())
    except (OSError, ValueError):
        facts = quantize(embedder, folder)
    if not facts["accepted"]:
        logging.getLogger("vindex").warning(
            f"int8 kept a mean cosine of {facts['mean_cosine']:.4f} to full precision (below {INT8_MIN_COSINE}): "
            "using the full-precision model"
        )
        return None, facts
    return cache / INT8_IR, facts


def quantize(embedder, folder: str | Path | None) -> dict:
    from vindex.embedding.openvino_backend import import_openvino

    openvino = import_openvino()  # first: NNCF's own import would report usage otherwise
    # NNCF imports torch's extension builder, which warns that a CPU-only machine has no CUDA.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    import nncf

    if folder is None or not Path(folder).is_dir():
        raise VindexError("int8 calibrates on frames of your videos: run `vindex add FOLDER --precision int8`")
    frames = sample_frames(Path(folder), CALIBRATION_FRAMES + HELD_BACK_FRAMES, embedder.image_size)
    held_back = max(1, len(frames) // 5) if len(frames) < CALIBRATION_FRAMES + HELD_BACK_FRAMES else HELD_BACK_FRAMES
    if len(frames) < 2 * held_back or len(frames) < 10:
        raise VindexError(f"int8 needs at least 10 decodable frames under {folder} to calibrate on; found {len(frames)}")
    calibration, check = frames[:-held_back], frames[-held_back:]  # check frames come from other videos
    embedder.status(f"quantising {embedder.spec.name} to int8 on {len(calibration)} frames of your videos "
                    "(once per model)")
    model = embedder.core.read_model(str(embedder.folder / IMAGE_IR))
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
    work = Path(tempfile.mkdtemp(prefix=".int8-", dir=embedder.folder))
    try:
        openvino.save_model(quantized, str(work / INT8_IR), compress_to_fp16=False)
        reference = embedder.compile(embedder.folder / IMAGE_IR, "fp32")
        int8 = embedder.compile(work / INT8_IR, "int8")
        cosines = np.sum(unit_rows(reference(check)[0]) * unit_rows(int8(check)[0]), axis=1)
        facts = {
            "mean_cosine": round(float(cosines.mean()), 5), "min_cosine": round(float(cosines.min()), 5),
            "held_back_frames": len(check), "calibration_frames": len(calibration),
            "accepted": bool(cosines.mean() >= INT8_MIN_COSINE), "threshold": INT8_MIN_COSINE,
        }
        for name in (INT8_IR, INT8_IR.replace(".xml", ".bin")):
            os.replace(work / name, embedder.folder / name)
        (embedder.folder / INT8_FACTS).write_text(json.dumps(facts, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return facts


def sample_frames(folder: Path, count: int, size: int) -> np.ndarray:
    """Up to `count` frames from videos spread evenly over `folder`, in video order."""
    from vindex.frames import read_frames
    from vindex.scanning import scan

    videos = [video.abs_path for video in scan(folder)]
    wanted = -(-count // FRAMES_PER_VIDEO)
    if len(videos) > wanted:
        videos = [videos[round(i * (len(videos) - 1) / (wanted - 1))] for i in range(wanted)] if wanted > 1 else videos[:1]

    def decode(path: str) -> np.ndarray | None:
        try:
            return read_frames(path, FRAMES_PER_VIDEO, size).images
        except DecodeError:
            return None

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        decoded = [images for images in pool.map(decode, videos) if images is not None and len(images)]
    if not decoded:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.concatenate(decoded)[:count]

"""Frames of the user's own videos for int8 calibration: a few frames from many videos, so the
calibration sees the collection's variety."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from vindex.errors import DecodeError

FRAMES_PER_VIDEO = 5


def calibration_frames(folder: str | Path) -> Callable[[int, int], np.ndarray]:
    """(count, size) → up to `count` (n, size, size, 3) frames of the videos under `folder`, decoded when asked."""
    return lambda count, size: sample_frames(Path(folder), count, size)


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

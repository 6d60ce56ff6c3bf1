"""The search corpus, indexed once per test run (conftest.py imports its fixture) for the
query, similar, dupes and ANN tests.

It gives every original video its own pattern and palette (so the randomly initialised tiny model
tells them apart) and plants near-duplicates: a re-encode (MPEG-4 in AVI, 1.5x the size), a trim,
a crop and an identical copy, plus an unindexed re-encode outside the root. Measured with the tiny
model in fp32: planted pairs score >= 0.99, all other pairs <= 0.98.
"""

import colorsys
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from vindex import Index, ModelSpec
from vindex.demo import PATTERNS, Theme, render, write_video

CHANNELS = ("alpha", "beta", "gamma", "delta")
ORIGINALS = 12
DUPLICATE_THRESHOLD = 0.985  # between the planted pairs and everything else, for the tiny model
PLANTED_GROUPS = {
    frozenset({"alpha/stripes_00.mp4", "alpha/reencode_00.avi"}),
    frozenset({"beta/plasma_05.mp4", "gamma/trim_05.mp4"}),
    frozenset({"beta/checker_09.mp4", "delta/crop_09.mp4"}),
    frozenset({"gamma/rings_10.mp4", "beta/copy_10.mp4"}),
}
FP32 = ["--precision", "fp32"]  # the same vectors on every CPU, bf16 or not


def decode_all(path: Path) -> tuple[np.ndarray, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pictures = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(stream)])
        return pictures, float(stream.average_rate)


def resized(pictures: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.stack([
        av.VideoFrame.from_ndarray(p, format="rgb24").reformat(width=width, height=height).to_ndarray(format="rgb24")
        for p in pictures
    ])


def centre_crop(pictures: np.ndarray, keep: float) -> np.ndarray:
    height, width = pictures.shape[1:3]
    new_height, new_width = int(height * keep) // 2 * 2, int(width * keep) // 2 * 2
    top, left = (height - new_height) // 2, (width - new_width) // 2
    return pictures[:, top : top + new_height, left : left + new_width]


def derive(source: Path, target: Path, change, codec: str = "libx264") -> Path:
    pictures, fps = decode_all(source)
    return write_video(target, change(pictures), fps, codec)


def make_search_corpus(root: Path) -> Path:
    """Originals `<channel>/<pattern>_<nn>.mp4`, the planted duplicates, and `../outside/` files."""
    rng = np.random.default_rng(3)
    originals = []
    for number in range(ORIGINALS):
        hue = number / ORIGINALS
        bright = tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, 1.0, 1.0))
        dark = tuple(int(255 * c) for c in colorsys.hsv_to_rgb((hue + 0.45) % 1, 0.7, 0.25 + 0.5 * (number % 2)))
        theme = Theme(PATTERNS[number % len(PATTERNS)], (bright, dark))
        width, height = int(rng.integers(40, 56)) * 2, int(rng.integers(30, 42)) * 2
        pictures = render(theme, width, height, int(rng.integers(12, 24)), rng)
        originals.append(write_video(root / CHANNELS[number % 4] / f"{theme.pattern}_{number:02d}.mp4", pictures, 10))
    derive(originals[0], root / "alpha" / "reencode_00.avi",
           lambda p: resized(p, p.shape[2] * 3 // 4 * 2, p.shape[1] * 3 // 4 * 2), codec="mpeg4")
    derive(originals[5], root / "gamma" / "trim_05.mp4", lambda p: p[: int(len(p) * 0.7)])
    derive(originals[9], root / "delta" / "crop_09.mp4", lambda p: centre_crop(p, 0.9))
    shutil.copy(originals[10], root / "beta" / "copy_10.mp4")
    outside = root.parent / "outside"
    derive(originals[3], outside / "reencoded_03.avi", lambda p: resized(p, 80, 60), codec="mpeg4")
    shutil.copy(originals[10], outside / "copy_of_10.mp4")
    (outside / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not really a video" * 20)
    return root


@pytest.fixture(scope="session")
def library(tmp_path_factory) -> tuple[Path, Path]:
    """(root of the search corpus, its index), indexed once for the whole run."""
    base = tmp_path_factory.mktemp("search")
    root = make_search_corpus(base / "channels")
    db = base / "index"
    Index(str(db), precision="fp32").add(root, model=ModelSpec("vindex-tiny"))
    return root, db

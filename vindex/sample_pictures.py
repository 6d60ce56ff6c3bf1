"""The small pictures a frame's fingerprint is made of, as the decoder hands them over: its grey square
(`GREY_SIZE`) and its chroma planes (`CHROMA_SIZE`), scaled by swscale, and the sampler that keeps them a few
times a second (`DenseSampler`). `vindex.fingerprints` hashes them."""

from __future__ import annotations

import math

import numpy as np

GREY_SIZE = 64  # the side of the grey square each frame is reformatted to for hashing
# The side each frame's U and V planes are shrunk to for its colour signature (`vindex.fingerprints.colour_signatures`).
CHROMA_SIZE = 32
FULL_RANGE = 2  # AVCOL_RANGE_JPEG: a frame's colour_range when its levels span 0-255


def scaled(frame, reformatter=None, **how):
    """`frame` scaled and converted (`how`: VideoReformatter.reformat's arguments) by `reformatter` (a
    VideoReformatter kept for the whole video), or by a swscale context made for this frame alone when None.
    On one thread: swscale's slice threads (PyAV's default, one per core) cost more CPU than they save on
    the small pictures vindex makes (a 64x64 grey square of a 668x424 frame: 0.13 ms against 0.07 ms), and
    the decoders already keep every core busy."""
    how["threads"] = 1
    return reformatter.reformat(frame, **how) if reformatter is not None else frame.reformat(**how)


def upright(picture: np.ndarray, frame, axes: tuple[int, int] = (0, 1)) -> np.ndarray:
    """`picture` (made from `frame`, its rows and columns on `axes`) turned upright by the frame's rotation
    metadata (a phone video); as it is when there is none. FFmpeg's angle and np.rot90 both turn
    counter-clockwise."""
    rotation = (getattr(frame, "rotation", 0) or 0) % 360
    return np.ascontiguousarray(np.rot90(picture, k=rotation // 90, axes=axes)) if rotation else picture


def _full_range(frame) -> bool:
    """Whether the frame's levels span 0-255 (JPEG, MJPEG), not the limited range."""
    return frame.format.name.startswith("yuvj") or frame.color_range == FULL_RANGE


def grey_square(frame, reformatter=None) -> np.ndarray:
    """The frame as a GREY_SIZE square of grey levels (aspect ignored, as pHash does), upright."""
    grey = scaled(frame, reformatter, width=GREY_SIZE, height=GREY_SIZE, format="gray",
                  interpolation="AREA").to_ndarray()
    return upright(grey, frame)


class DenseSampler:
    """Keeps, as a small grey square and (`with_chroma`) small chroma planes, the first frame it is offered
    at or after each multiple of `spacing` seconds from the video's start; frames must come in time order."""

    def __init__(self, start: float, duration: float | None, spacing: float, reformatter, chroma_reformatter=None,
                 with_chroma: bool = True):
        self.start, self.duration, self.spacing = start, duration, spacing
        self.reformatter, self.chroma_reformatter, self.with_chroma = reformatter, chroma_reformatter, with_chroma
        self.next = 0.0
        self.times: list[float] = []
        self.greys: list[np.ndarray] = []
        self.chromas: list[np.ndarray] = []

    def offer(self, frame, time: float) -> None:
        offset = time - self.start
        if offset + 1e-3 >= self.next:
            if self.with_chroma:
                grey, chroma = grey_and_chroma(frame, self.reformatter, self.chroma_reformatter)
                self.greys.append(grey)
                self.chromas.append(chroma)
            else:
                self.greys.append(grey_square(frame, self.reformatter))
            self.times.append(max(0.0, offset))
            self.next = (math.floor((offset + 1e-3) / self.spacing) + 1) * self.spacing

    def wants_more(self) -> bool:
        """False once the next sample would lie past the stated end: the rest need not be decoded."""
        return self.duration is None or self.next < self.duration - 1e-3


# Colour spaces (AVColorSpace) whose frames swscale scales to the same grey square as the luma of its full-range
# YUV output: the BT.601 family that swscale assumes (BT.470BG, SMPTE 170M, unspecified). For BT.709 frames
# its grey output lies up to 22 levels from that luma, so they take two passes.
ONE_PASS_COLORSPACES = (2, 5, 6)


def grey_and_chroma(frame, grey_reformatter=None, chroma_reformatter=None) -> tuple[np.ndarray, np.ndarray]:
    """`grey_square` and `chroma_planes` of a decoded frame. Where the grey square is the same either way (a
    limited-range frame of ONE_PASS_COLORSPACES), both come from one swscale pass to full-range 4:2:0 (its luma
    the grey square, its chroma mapped to limited range as `chroma_planes` gives it, within a few levels): the
    two passes are most of what fingerprints cost on `add` (docs/performance.md)."""
    if frame.colorspace not in ONE_PASS_COLORSPACES or _full_range(frame):
        return grey_square(frame, grey_reformatter), chroma_planes(frame, chroma_reformatter)
    # The grey square is GREY_SIZE, twice CHROMA_SIZE: the 4:2:0 chroma planes of that square are CHROMA_SIZE.
    planes = scaled(frame, chroma_reformatter, width=GREY_SIZE, height=GREY_SIZE, format="yuvj420p",
                    interpolation="AREA").to_ndarray()
    grey = planes[:GREY_SIZE]
    chroma = ONE_PASS_TO_LIMITED[planes[GREY_SIZE:].reshape(2, CHROMA_SIZE, CHROMA_SIZE)]
    return np.ascontiguousarray(upright(grey, frame)), upright(chroma, frame, axes=(1, 2))


def _to_limited_range(offset: float) -> np.ndarray:
    """A table of each full-range chroma level (255 of them about 128) as a limited-range one (224), `offset`
    levels added: one lookup a pixel."""
    return np.round(128 + offset + (np.arange(256, dtype=np.float32) - 128) * (224 / 255)).astype(np.uint8)


FULL_TO_LIMITED = _to_limited_range(0.0)
# swscale's full-range chroma lies half a level below its limited-range chroma mapped up (-0.49 to -0.67 on
# average over the footage sets' formats): the half level puts the one pass's chroma back where it was.
ONE_PASS_TO_LIMITED = _to_limited_range(0.5)


def chroma_planes(frame, reformatter=None) -> np.ndarray:
    """A decoded frame's U and V planes, (2, CHROMA_SIZE, CHROMA_SIZE) uint8, upright: the 4:2:0
    planes of a square twice that size (aspect ignored, as for the grey square), scaled by
    `reformatter` (a VideoReformatter kept for the whole video; one for this frame when None)."""
    planes = scaled(frame, reformatter, width=2 * CHROMA_SIZE, height=2 * CHROMA_SIZE, format="yuv420p",
                    interpolation="AREA").to_ndarray()[2 * CHROMA_SIZE :].reshape(2, CHROMA_SIZE, CHROMA_SIZE)
    if _full_range(frame):
        # swscale keeps full-range (JPEG, MJPEG) chroma as it is; limited range spans 224 levels of its 255.
        planes = FULL_TO_LIMITED[planes]
    return upright(planes, frame, axes=(1, 2))

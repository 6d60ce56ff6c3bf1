"""Shot-aware frame choice: find the cuts in a cheap pass over the keyframes, then take the CLIP
frames from the middle of the longest shots.

Evenly spaced frames describe a video by where its minutes fall, not by what it shows: five frames
of a five-minute video with forty scenes may all land in two of them. `frames.read_frames(...,
sampling="shots")` first decodes keyframes alone (in clips up to 30 s here, `shot_times`; past
that, the dense fingerprints' own keyframe pass carries a `ShotFinder`), then decodes the frames at
the times chosen here as uniform sampling decodes its own. Each keyframe is shrunk to a tiny grey
picture and compared with the one before: a jump in both its grey histogram and its picture, or
in its picture alone well beyond the recent motion, is a cut. Encoders with scene-cut detection
(x264, x265, libvpx) start a keyframe at a cut, so cuts are found within a frame or two; with
fixed keyframe intervals, within the interval. Measured against uniform sampling by
scripts/bench_sampling.py (docs/decisions.md).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from vindex.sample_pictures import scaled

# Every keyframe is compared at this size (grey): enough to see a cut, cheap to compute.
THUMB_SIDE = 32
HISTOGRAM_BINS = 16
# A cut: the grey histograms differ by this share of their mass (half the L1 distance) and the
# pictures by PIXEL_MIN on average (0-1). Between two scenes of the demo corpus the histograms
# differ by 0.27 or more and the pictures by 0.13 or more; frame to frame within its busiest scene
# (a drifting noise texture) by under 0.19 and 0.13, and keyframes 3 s apart in a slowly changing
# scene by 0.37 (its tones drift) but 0.06 (its picture stays): both signals must agree.
HISTOGRAM_CUT = 0.25
PIXEL_MIN = 0.1
# ...or the pictures differ by this much, and several times the recent motion, so a fast pan is not
# a cut but a cut between two shots of alike tones is.
PIXEL_CUT = 0.25
PIXEL_JUMP = 3.0
RECENT_FRAMES = 8
# Keyframes closer than this to the last one examined are not decoded (in clips up to 30 s; past
# that, the dense fingerprints' keyframe pass finds the shots): all-intra and short-GOP files
# (MJPEG, MPEG-4 part 2's 12-frame GOPs) would otherwise be decoded twice over, 3x uniform
# sampling's time on a 28 s 320x240 MJPEG clip.
KEYFRAME_GAP = 0.5
# Cuts closer together than this are one cut (a flash, a dissolve's first and last frame).
MIN_SHOT_SECONDS = 0.4

Shot = tuple[float, float]  # start and end, in seconds on the stream's clock


class CutDetector:
    """Says, frame by frame, whether a frame starts a new shot."""

    def __init__(self) -> None:
        from av.video.reformatter import VideoReformatter

        self._shrink = VideoReformatter()  # keeps its scaler from frame to frame
        self._picture: np.ndarray | None = None
        self._histogram: np.ndarray | None = None
        self._recent: list[float] = []

    def is_cut(self, frame) -> bool:
        """`frame`: a PyAV video frame, in decoding order."""
        grey = scaled(frame, self._shrink, width=THUMB_SIDE, height=THUMB_SIDE, format="gray", interpolation="AREA")
        grey = grey.to_ndarray().astype(np.int16)
        histogram = np.bincount((grey >> 4).ravel(), minlength=HISTOGRAM_BINS) / grey.size
        cut = False
        if self._picture is not None:
            pixels = float(np.abs(grey - self._picture).mean()) / 255
            tones = float(np.abs(histogram - self._histogram).sum()) / 2
            motion = sum(self._recent) / len(self._recent) if self._recent else 0.0
            cut = ((tones >= HISTOGRAM_CUT and pixels >= PIXEL_MIN)
                   or (pixels >= PIXEL_CUT and pixels >= PIXEL_JUMP * motion))
            self._recent = (self._recent + [pixels])[-RECENT_FRAMES:]
        self._picture, self._histogram = grey, histogram
        return cut


def shots_between(cuts: list[float], start: float, end: float) -> list[Shot]:
    """The shots from `start` to `end` that the `cuts` (times where a new shot starts) make."""
    bounds = [start]
    for cut in sorted(cuts):
        if cut - bounds[-1] >= MIN_SHOT_SECONDS and end - cut >= MIN_SHOT_SECONDS:
            bounds.append(cut)
    bounds.append(max(end, bounds[-1]))
    return list(zip(bounds[:-1], bounds[1:]))


def frames_per_shot(shots: list[Shot], count: int) -> list[int]:
    """How many of `count` frames each shot gets: one each for the longest shots; with frames to
    spare, the extra ones go to the shot with the most time per frame, again and again."""
    lengths = [end - start for start, end in shots]
    given = [0] * len(shots)
    for index in sorted(range(len(shots)), key=lambda i: -lengths[i])[:count]:
        given[index] = 1
    for _ in range(count - sum(given)):
        widest = max(range(len(shots)), key=lambda i: lengths[i] / given[i])
        given[widest] += 1
    return given


def shot_targets(shots: list[Shot], count: int) -> list[float]:
    """The times to take frames at, in order: the centres of equal slices of each chosen shot (one
    frame: its middle). One shot gives uniform sampling's times."""
    targets = []
    for (start, end), frames in zip(shots, frames_per_shot(shots, count)):
        targets += [start + (end - start) * (i + 0.5) / frames for i in range(frames)]
    return targets


class ShotFinder:
    """Finds the shots in frames offered in time order (`offer(frame, time)`), handing each on to
    `then` (the dense fingerprints' sampler), so a keyframe pass made for them finds the shots too."""

    def __init__(self, then=None) -> None:
        self.then = then
        self.detector = CutDetector()
        self.cuts: list[float] = []
        self.keyframes: list[float] = []  # the times of the frames offered

    def offer(self, frame, time: float) -> None:
        if self.then is not None:
            self.then.offer(frame, time)
        self.keyframes.append(time)
        if self.detector.is_cut(frame):
            self.cuts.append(time)

    def targets(self, start: float, duration: float, count) -> list[float]:
        """Where to take `count` frames (an int: the middle of the longest shots from `start` on),
        or the frames a frame policy (`vindex.sampling.FramePolicy`) chooses from the shots and
        the keyframes seen."""
        shots = shots_between(self.cuts, start, start + duration)
        if isinstance(count, int):
            return shot_targets(shots, count)
        return count.frame_times(shots, start, duration, self.keyframes)


def find_shots(frames: Iterable[tuple[float, object]], start: float, end: float) -> list[Shot]:
    """The shots from `start` to `end` (seconds on the stream's clock) that one pass over `frames`
    ((time, PyAV frame) in order) shows."""
    finder = ShotFinder()
    for time, frame in frames:
        finder.offer(frame, time)
    return shots_between(finder.cuts, start, end)


def shot_times(container, stream, start: float, duration: float, count) -> list[float]:
    """Where to take `count` frames of the PyAV `stream` (or those a frame policy chooses,
    `ShotFinder.targets`): the middle of its longest shots, found on its keyframes. Seeks back to
    the start."""
    finder = ShotFinder()
    for time, frame in _keyframes(container, stream, KEYFRAME_GAP):
        finder.offer(frame, time)
    container.seek(0, stream=stream)
    return finder.targets(start, duration, count)


def _keyframes(container, stream, gap: float) -> Iterator[tuple[float, object]]:
    """(time, frame) of the keyframes at least `gap` seconds apart: only their packets reach the
    decoder, which needs no other frame to decode them."""
    time_base = stream.time_base
    due = None
    for packet in container.demux(stream):
        if packet.is_keyframe and packet.pts is not None:
            time = float(packet.pts * time_base)
            if due is None or time >= due:
                due = time + gap
                yield from _timed(stream.decode(packet), time_base)
    yield from _timed(stream.decode(None), time_base)


def _timed(frames, time_base) -> Iterator[tuple[float, object]]:
    for frame in frames:
        yield float(frame.pts * time_base) if frame.pts is not None else float(frame.time or 0.0), frame

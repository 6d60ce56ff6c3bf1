"""How many CLIP frames a video gets, and where: the frame policy.

Five frames describe a clip of a few seconds well and an hour-long recording not at all. With
no `--frames`, clips up to `SHORT_CLIP_SECONDS` keep `FRAMES_PER_VIDEO` frames (their cost does
not change); a longer video gets one frame per shot (`vindex.shots` finds them on its keyframes)
and one more every `SHOT_FRAME_SECONDS` inside long shots, at most `FRAMES_PER_MINUTE` a minute
of video and `FRAMES_PER_VIDEO_CAP` in all. Past a cap the frames go, one at a time, to the
shots with the most seconds per frame, so the shortest shots (flashes) are dropped first.
`--frames N` forces a fixed count instead (`FramePolicy.fixed`). Past `SHORT_CLIP_SECONDS` the
frames are picked during the decoding pass by `vindex.shot_frames` under this policy's counts and
caps; elsewhere (clips, `add --without-fingerprints`) the decoder receives the times chosen here
(`frame_times`), through `ShotFinder.targets`.

The video's single vector weights each frame by the seconds it stands for (`time_weights`), so a
video of many short shots and one of a few long shots are described by what is on screen for
how long, not by how often the picture cuts (docs/decisions.md).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from vindex import defaults
from vindex.shots import Shot, shot_targets

PER_SHOT, FIXED = "per-shot", "fixed"
# A frame of a long video moves to a keyframe at most this share of its shot's length away (the
# middle half of a shot with one frame), `snap_to_keyframes`.
SNAP_SHARE = 0.25


@dataclass(frozen=True)
class FramePolicy:
    """Which frames of a video are embedded. `kind` is PER_SHOT (the default) or FIXED (`frames`
    frames whatever the length)."""

    kind: str = PER_SHOT
    frames: int = defaults.FRAMES_PER_VIDEO  # FIXED: the count; PER_SHOT: the count for short clips
    short_seconds: float = defaults.SHORT_CLIP_SECONDS
    shot_seconds: float = defaults.SHOT_FRAME_SECONDS
    per_minute: int = defaults.FRAMES_PER_MINUTE
    per_video: int = defaults.FRAMES_PER_VIDEO_CAP

    @classmethod
    def fixed(cls, frames: int) -> "FramePolicy":
        return cls(kind=FIXED, frames=frames)

    @classmethod
    def from_meta(cls, meta) -> "FramePolicy":
        """The policy an index's `IndexMeta` records; an index from before policies took a fixed count."""
        if meta.frame_policy:
            return cls(**meta.frame_policy)
        return cls.fixed(int(meta.frames_per_video or defaults.FRAMES_PER_VIDEO))

    def to_meta(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.kind == FIXED:
            return f"{self.frames} frames per video"
        return (f"{self.frames} frames up to {self.short_seconds:g} s, then one per shot and one every "
                f"{self.shot_seconds:g} s in long shots (at most {self.per_minute}/min, {self.per_video}/video)")

    def count(self, shots: list[Shot], duration: float) -> int:
        """How many frames a video of these shots and this length gets."""
        if self.kind == FIXED or duration <= self.short_seconds:
            return self.frames
        wanted = sum(max(1, math.ceil((end - start) / self.shot_seconds - 1e-9)) for start, end in shots)
        cap = min(self.per_video, max(self.frames, math.ceil(self.per_minute * duration / 60)))
        return max(1, min(wanted, cap))

    def frame_times(self, shots: list[Shot], start: float, duration: float,
                    keyframes: list[float] = ()) -> list[float]:
        """The times (on the stream's clock) to embed, in order, for a video of these shots. Past
        `short_seconds` each time moves to the nearest of the `keyframes` (times) inside its shot,
        where there is one not taken yet (`snap_to_keyframes`)."""
        times = shot_targets(shots, self.count(shots, duration))
        if self.kind == FIXED or duration <= self.short_seconds or not len(keyframes):
            return times
        return snap_to_keyframes(times, shots, keyframes)

    def changes(self, other: "FramePolicy", duration: float | None) -> bool:
        """Whether a video of `duration` seconds indexed under `other` would get other frames under
        this policy (the same count at the same places for clips both treat alike)."""
        if self == other:
            return False
        short = duration is not None and duration <= min(self.short_seconds, other.short_seconds)
        return not (short and self.frames == other.frames)


def snap_to_keyframes(times: list[float], shots: list[Shot], keyframes: list[float]) -> list[float]:
    """Each time moved to the nearest keyframe inside its shot and within SNAP_SHARE of the shot's
    length of it, not taken by another time (kept where there is none). A long video's frames are decoded by seeking to the keyframe before each
    time and decoding on to it: a time on a keyframe costs one frame, a time between them up to a
    whole keyframe interval (8 s of 720p at x264's default), which made a 5-minute 720p video
    index at 11x real time instead of the 30x wanted. Encoders that detect cuts start a shot with a
    keyframe, so the frame stays in its shot; but a shot's opening frame (a fade-in, a title) shows it
    less well than its middle: moving every frame to its shot's first keyframe found 86 % of the
    benchmark's scenes by clip instead of 97 % (scripts/bench_moments.py), hence the reach. A hair
    past the keyframe, so the seek lands on it. Used only where no steady pass runs (`add
    --without-fingerprints`): otherwise the frames are picked in that pass (`vindex.shot_frames`)."""
    keys = np.asarray(sorted(keyframes), np.float64)
    taken: set[int] = set()
    snapped = []
    for time in times:
        shot = next(((s, e) for s, e in shots if s - 1e-6 <= time < e), None)
        if shot is None:
            snapped.append(time)
            continue
        reach = SNAP_SHARE * (shot[1] - shot[0])
        inside = np.flatnonzero((keys >= shot[0] - 1e-3) & (keys < shot[1] - 1e-3) & (np.abs(keys - time) <= reach))
        free = [i for i in inside if i not in taken]
        if not free:
            snapped.append(time)
            continue
        nearest = min(free, key=lambda i: abs(keys[i] - time))
        taken.add(nearest)
        snapped.append(float(keys[nearest]) + 1e-4)
    return sorted(snapped)


def time_weights(timestamps: list[float], duration: float | None) -> np.ndarray:
    """Per frame, the seconds it stands for: from halfway to the frame before to halfway to the
    frame after (the video's start and end for the first and last). Equal for evenly spaced frames."""
    times = np.asarray(timestamps, np.float64)
    if len(times) < 2:
        return np.ones(len(times))
    order = np.argsort(times)
    sorted_times = times[order]
    end = max(float(duration or 0.0), float(sorted_times[-1]))
    middles = (sorted_times[1:] + sorted_times[:-1]) / 2
    bounds = np.concatenate([[0.0], middles, [end]])
    spans = np.empty(len(times))
    spans[order] = np.maximum(bounds[1:] - bounds[:-1], 1e-3)
    return spans


def decoder_count(policy: FramePolicy):
    """What `vindex.frames.read_frames` takes as its count: the number for a fixed policy, the
    policy itself (asked for the times once the shots are found) otherwise."""
    return policy.frames if policy.kind == FIXED else policy

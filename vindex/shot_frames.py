"""A long video's CLIP frames, picked during the one pass that decodes it anyway.

Past 30 s a video's fingerprints come from a steady pass over every reference frame
(`vindex.frames._steady_pass`). Finding the shots on its keyframes alone missed cuts where the
encoder put no keyframe (x264 puts none within a second of the last one), and taking the frames
afterwards cost a seek each: to a keyframe near the shot's middle where there was one (cheap), else
a whole keyframe interval decoded (3x the time of a 5-minute 720p video). Here the pass itself
looks for cuts on frames `CUT_SPACING` apart and keeps a few decoded frames of the shot under way;
when the shot ends, the ones nearest the centres of its slices are kept, shrunk to the model's
input (no seek, no second decode). The frame policy (`vindex.sampling.FramePolicy`) decides how many
each shot gets: one, plus one per `shot_seconds` of a long shot; past the video's cap the frames
go as `vindex.shots.frames_per_shot` gives them (the shortest shots' extras first, then the
shortest shots), dropped as the pass goes so that no more than the cap are ever held.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from vindex.shots import MIN_SHOT_SECONDS, CutDetector

# Cuts are looked for on decoded frames at least this far apart: 5 a second places a cut within
# 0.2 s, at a fifth of the cost of looking at every reference frame of 30 fps video.
CUT_SPACING = 0.2
# Frames of the shot under way are kept at least this far apart, at most HELD_FRAMES of them: past
# that every other one goes and the spacing doubles (a long shot keeps 16 frames spread over it).
HOLD_SPACING = 0.25
HELD_FRAMES = 16


@dataclass
class PickedShot:
    start: float
    end: float
    frames: list = field(default_factory=list)  # (time, kept picture) in time order, the nearest to slice centres


def slice_centres(start: float, end: float, count: int) -> list[float]:
    return [start + (end - start) * (i + 0.5) / count for i in range(count)]


def nearest_each(candidates: list, targets: list[float]) -> list:
    """For each target in order, the (time, ...) candidate nearest it not taken yet."""
    free = list(candidates)
    chosen = []
    for target in targets:
        if not free:
            break
        best = min(range(len(free)), key=lambda i: abs(free[i][0] - target))
        chosen.append(free.pop(best))
    return sorted(chosen, key=lambda item: item[0])


class ShotFramePicker:
    """Offered every frame of a steady pass in time order (`offer(frame, time)`); `finish()` gives
    the chosen frames as (time, picture) in time order, picture being what `keep(frame)` made."""

    def __init__(self, policy, start: float, duration: float, keep: Callable) -> None:
        self.policy = policy
        self.end_of_video = start + duration
        self.keep = keep
        self.cap = self._cap(duration)
        self.detector = CutDetector()
        self.examined = -math.inf
        self.shot_start = start
        self.held: list = []  # (time, PyAV frame) of the shot under way
        self.spacing = HOLD_SPACING
        self.shots: list[PickedShot] = []

    def _cap(self, duration: float) -> int:
        policy = self.policy
        return min(policy.per_video, max(policy.frames, math.ceil(policy.per_minute * duration / 60)))

    def offer(self, frame, time: float) -> None:
        if time - self.examined >= CUT_SPACING - 1e-6:
            self.examined = time
            if self.detector.is_cut(frame) and time - self.shot_start >= MIN_SHOT_SECONDS:
                self._close(time)
        if not self.held or time - self.held[-1][0] >= self.spacing - 1e-6:
            self.held.append((time, frame))
            if len(self.held) > HELD_FRAMES:
                self.held = self.held[::2]
                self.spacing *= 2

    def _close(self, end: float) -> None:
        if not self.held:
            self.shot_start = end
            return
        wanted = max(1, math.ceil((end - self.shot_start) / self.policy.shot_seconds - 1e-9))
        chosen = nearest_each(self.held, slice_centres(self.shot_start, end, wanted))
        shot = PickedShot(self.shot_start, end, [(time, self.keep(frame)) for time, frame in chosen])
        self.shots.append(shot)
        self.held, self.spacing, self.shot_start = [], HOLD_SPACING, end
        while sum(len(s.frames) for s in self.shots) > self.cap:
            self._drop_one()

    def _drop_one(self) -> None:
        """Drop the frame that `frames_per_shot` would give last: an extra frame of the shot with the
        fewest seconds per frame, else, when every shot holds one, the shortest shot's."""
        extras = [s for s in self.shots if len(s.frames) > 1]
        if extras:
            shot = min(extras, key=lambda s: (s.end - s.start) / (len(s.frames) - 1))
            shot.frames = nearest_each(shot.frames, slice_centres(shot.start, shot.end, len(shot.frames) - 1))
        else:
            shortest = min((s for s in self.shots if s.frames), key=lambda s: s.end - s.start)
            shortest.frames = []

    def finish(self) -> list:
        """The chosen frames, (time, picture), in time order; closes the last shot."""
        self._close(max(self.end_of_video, self.held[-1][0] if self.held else self.shot_start))
        return [item for shot in self.shots for item in shot.frames]

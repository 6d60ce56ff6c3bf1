"""Whether a slow video's small changes happen where the longer one's do: the check that tells a copy
of slow footage from other footage of the same scene.

Fingerprints place a copy of moving footage by the pictures' sequence, which no other footage shares.
Footage that barely moves (a webcam on a person at a desk, a board game's still screen, a render whose
camera drifts) hashes alike at every offset, and other footage of the same scene, seconds later, is
grouped as a copy (scripts/bench_dupes.py --footage, the unseen sets). What a copy keeps and other
footage of the scene does not is the timing of the small changes: a hand moving, a tile turning, even
the original encode's flicker.

Each video is decoded once, at ACTIVITY_STEP intervals, as the grey square its fingerprints are made of
(`vindex.sample_pictures.grey_square`), without its bars
(`vindex.fingerprints` crops them, its footage samples voting), shrunk to ACTIVITY_CELLS cells and
scaled by its contrast. Its activity is, per step and per block of 2x2 cells, how much the picture
changed since the step before, less that step's mean over the blocks (a global flicker, an encoder's
quality pulse, is no one place's change). Two videos' activity correlates, block by block over time,
at the offset where one lies in the other; a copy's correlates there, other footage's anywhere in the
longer video stays low.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vindex.duplicates.fingerprint_match import Containment, Fingerprints, motion_bits, placement_margin
from vindex.errors import DecodeError
from vindex.locations import shown_path

# Seconds between the pictures compared: ten a second sees a hand move and stays cheap to compare.
ACTIVITY_STEP = 0.1
# The side of the cropped picture's grid of cells; activity is pooled into blocks of 2x2 cells.
ACTIVITY_CELLS = 16
# A shorter video whose consecutive fingerprints differ by this many bits or fewer (the median)
# is checked. On the footage sets looked at (scripts/bench_dupes.py --footage, the tuning and held-out
# parts and the --fresh, --final and --extra sets), other footage of a scene grouped as a copy moved
# 0-4 bits. Copies whose activity correlates less than MIN_CORRELATION moved 6 bits (a sub-clip re-encoded
# at CRF 26, with a third of its source's activity there) and 28-30 (fast screen recordings behind an
# intro): there the fingerprints' sequence places them alone.
SLOW_MOTION_BITS = 5.0
# A slow video that matches at its place by more than this many bits better than anywhere else in the
# longer video (`fingerprint_match.placement_margin`) is placed by its fingerprints: not checked. On
# the footage sets looked at, other footage of a scene grouped as a copy matched elsewhere 6 bits worse
# at most (a tile game's board), mostly 0-2; the synthetic labelled set's copies (soft shapes moving
# over a still texture, 160x120 at 10 fps, whose MPEG-4 copies correlate at 0.16-0.34) 8-22 bits.
PLACED_MARGIN_BITS = 6.0
# Where the longer video's samples are this close (seconds, the median: five a second, its first 30 s),
# a copy's frames have a partner at their place no further off in time than elsewhere, and match there at
# least as well: a contained video, slow or not, that matches elsewhere more than MISPLACED_BITS better
# (the median, `placement_margin`) is another moment of a scene that hardly changes. The eighth footage
# set's other cut of a fish tank, whose hashes move 6 bits a sample with the camera's noise (so its
# activity was never checked, and correlates at 0.25-0.28 in copies anyway), matched 2 bits better
# elsewhere and was grouped with its copies: the one false member in nine sets. The copies that pass
# every other rule matched elsewhere no better but one, a letterboxed copy of a bouncing ball on a still
# background, lost to it. Sparse longer videos (one sample a second past 30 s) are not judged so: a
# sub-clip's partners at its place can lie further off in time than a look-alike elsewhere (6 sub-clips
# of a minute of looping animation were lost that way).
DENSE_SPACING, MISPLACED_BITS = 0.25, 1.0
# The least correlation of a checked pair's activity at its best offset. On the first six footage sets,
# pairs of a copy and its original (or of two copies) of footage that moved 5 bits or less: 0.31 at least
# (a trimmed and a pillarboxed copy of a robot simulator's render), 0.40 at the first percentile; other
# footage of the same scene: 0.28 at most (a game's board, tiles moved). The seventh set's screen
# recordings brought other cuts of a terminal at 0.33-0.41 (a shell's completion typed again, whose
# black screen and few lines of text the hashes see alike): 0.45 keeps them apart at the cost of 10 pairs
# of copies of 1430 checked on the eight sets, and of 3 copies (a sub-clip, two copies of a plotting
# demo's recording), for precision 1.0 on every set.
MIN_CORRELATION = 0.45
# The least correlation of a still video's activity with the other's where its frames lie further from
# their matches than STILL_MAX_DISTANCE on average (`Containment.still_apart`): a letterboxed or
# pillarboxed copy of a still window, its text resampled into other bits, as much as other footage of a
# still screen, which the still rule keeps out. On the ten footage sets (scripts/bench_dupes.py --footage),
# of such pairs that reach the threshold, 106 of copies correlate at 0.54 or more, 90 of them at 0.8 or
# more (the ninth and tenth sets' boxed copies of a Qt icon gallery, a terminal app, an animation: 0.85-0.99),
# and 66 of other footage at 0.59 at most (a system monitor refreshing every 3 s, a logging demo's terminal).
STILL_APART_CORRELATION = 0.8
# A contained video whose activity is frozen between a few changes (its median step's change, root mean
# square over the blocks, FROZEN_BETWEEN or less; FEW_EVENTS steps or fewer over EVENT_CHANGE) shows too few
# events for their timing to tell a copy from another cut of the same screen: it needs STILL_APART_CORRELATION.
# On the eleven footage sets, of 2,775 pairs the check decided on, 21 of other footage were frozen so: 9 the
# other cut of a system monitor whose GIF holds each frame 3 s (0.51-0.59, the one false member of the
# eleven sets), the others 0.22 at most; and 75 of copies, 59 of them at 0.8 or more (screen recordings, a
# Qt gallery, sub-clips of long slideshows). One copy was lost for it: a black-intro copy of a plotting
# demo's recording (the --last set). The sets' slowest camera clips (faces before a webcam) change by
# 0.0009-0.0026 at their median step, three times FROZEN_BETWEEN or more.
FROZEN_BETWEEN, EVENT_CHANGE, FEW_EVENTS = 3e-4, 0.01, 2
# Seconds left out at each end of the shorter video's footage: the cut from an intro to the footage
# is a change of the whole picture that the video it copies does not have.
EDGE_SECONDS = 0.3
# Fewer steps than this (half a second) say nothing of timing: the fingerprints decide alone.
MIN_STEPS = 5
# The shorter series may slide past the longer one's ends by this share of its steps (trims).
MIN_OVERLAP = 0.8
# A video whose activity is this still (its standard deviation, in contrast units) has none to
# compare: a picture frozen bit for bit. The fingerprints' still rule decides such a pair.
FROZEN = 1e-4


@dataclass(frozen=True)
class Activity:
    """One video's activity: `changes[k]` (blocks x blocks) is the change from step k to k+1,
    at `times[k]` seconds from the video's start."""

    times: np.ndarray
    changes: np.ndarray


def activity(path: str, footage: tuple[float, float] | None = None) -> Activity:
    """The activity of the video at `path`; only its pictures between `footage` (seconds: where its
    fingerprints start and end) vote for where its bars are. Raises DecodeError when it cannot be read."""
    import av
    from av.video.reformatter import VideoReformatter

    from vindex.fingerprints import shrunk_pictures
    from vindex.sample_pictures import DenseSampler
    from vindex.frames import decode_reason, frame_time, open_video, video_stream

    container = open_video(path)
    try:
        stream = video_stream(container)
        stream.thread_type = "AUTO"
        time_base = stream.time_base
        start = float(stream.start_time * time_base) if stream.start_time is not None else 0.0
        # One swscale context for the video: one per frame costs more than the scaling.
        sampler = DenseSampler(start, None, ACTIVITY_STEP, VideoReformatter(), with_chroma=False)
        for frame in container.decode(stream):
            sampler.offer(frame, frame_time(frame, time_base))
    except (av.FFmpegError, OSError, ValueError) as error:
        raise DecodeError(decode_reason(error)) from None
    finally:
        container.close()
    if len(sampler.greys) < 2:
        return Activity(np.empty(0), np.empty((0, ACTIVITY_CELLS // 2, ACTIVITY_CELLS // 2)))
    pixels, seconds = np.stack(sampler.greys).astype(np.float32), np.asarray(sampler.times)
    voting = None if footage is None else (seconds >= footage[0] - 0.05) & (seconds <= footage[1] + 0.05)
    cells = shrunk_pictures(pixels, ACTIVITY_CELLS, seconds, voting)
    cells = (cells - cells.mean()) / (cells.std() + 4.0)
    # One picture per step: the first at or after each multiple of the step (a video at a lower
    # frame rate shows one picture for several steps).
    grid = np.arange(0.0, seconds[-1] + 1e-6, ACTIVITY_STEP)
    shown = cells[np.clip(np.searchsorted(seconds, grid - 1e-3), 0, len(seconds) - 1)]
    half = ACTIVITY_CELLS // 2
    changes = np.abs(shown[1:] - shown[:-1]).reshape(len(shown) - 1, half, 2, half, 2).mean(axis=(2, 4))
    changes -= changes.mean(axis=(1, 2), keepdims=True)
    return Activity(grid[1:], changes)


def few_events(video: Activity) -> bool:
    """Whether `video` is frozen but for FEW_EVENTS changes or fewer (FROZEN_BETWEEN, EVENT_CHANGE)."""
    if not len(video.changes):
        return False
    change = np.sqrt((video.changes.reshape(len(video.changes), -1) ** 2).mean(axis=1))
    return bool(np.median(change) <= FROZEN_BETWEEN and (change > EVENT_CHANGE).sum() <= FEW_EVENTS)


@dataclass(frozen=True)
class Alignment:
    """Where two videos' activity lines up best: the correlation there, and the offset (seconds into
    the longer video where the shorter one's time 0 lies)."""

    correlation: float
    offset: float


def correlation(short: Activity, long: Activity, footage: tuple[float, float]) -> Alignment | None:
    """The best correlation, over the offsets where one lies in the other, of the activity of `short`
    within `footage` (seconds: where its fingerprints start and end, less EDGE_SECONDS at each end)
    and that of `long`, and its offset; None when there is too little to compare (a short or frozen
    stretch)."""
    inside = (short.times >= footage[0] + EDGE_SECONDS) & (short.times <= footage[1] - EDGE_SECONDS)
    part = short.changes[inside].reshape(int(inside.sum()), -1)
    whole = long.changes.reshape(len(long.changes), -1)
    if len(part) < MIN_STEPS or len(whole) < MIN_STEPS or part.std() < FROZEN:
        return None
    part_start, whole_start = float(short.times[inside][0]), float(long.times[0])
    if len(part) > len(whole):  # a copy with an intro is the shorter by fingerprints, not by steps
        best, shift = _best_correlation(whole, part)
        return Alignment(best, whole_start - (part_start + shift * ACTIVITY_STEP))
    best, shift = _best_correlation(part, whole)
    return Alignment(best, whole_start + shift * ACTIVITY_STEP - part_start)


def _best_correlation(part: np.ndarray, whole: np.ndarray) -> tuple[float, int]:
    """Max over shifts of the Pearson correlation of `part` (steps x blocks, each block centred over
    its steps) with the steps of `whole` it overlaps (at least MIN_OVERLAP of `part`), each block of
    those centred over them too: when things change, not where things change more; and the shift
    (`part`'s first step lies at that step of `whole`)."""
    steps = len(part)
    least = int(np.ceil(MIN_OVERLAP * steps))
    best, best_shift = 0.0, 0
    for shift in range(least - steps, len(whole) - least + 1):
        first, last = max(0, -shift), min(steps, len(whole) - shift)
        x = part[first:last]
        y = whole[shift + first : shift + last]
        x = x - x.mean(axis=0)
        y = y - y.mean(axis=0)
        scale = np.sqrt((x * x).sum() * (y * y).sum())
        found = float((x * y).sum() / scale) if scale > 0 else 0.0
        if found > best:
            best, best_shift = found, shift
    return best, best_shift


class SlowFootageCheck:
    """The check of one `dupes` run's contained pairs, each video decoded at most once: `fingerprints`
    and `paths` by content position; unreadable files are named in `warnings`."""

    def __init__(self, fingerprints: list[Fingerprints], paths: list[str], warnings: list[str]):
        self.fingerprints, self.paths, self.warnings = fingerprints, paths, warnings
        self.activities: dict[int, Activity | None] = {}  # by position; None: unreadable

    def offset(self, pair: tuple[int, int], found: Containment) -> float | None:
        """Where the contained video of `pair` (its second, found at `found.offset` by its fingerprints)
        lies in the other, or None when it is no copy of it. A still video whose frames lie further from
        their matches than a still copy's (`found.still_apart`) is one only where its activity correlates
        with the other's by STILL_APART_CORRELATION or more. It is none when it matches a densely sampled
        other better elsewhere (MISPLACED_BITS). Its fingerprints place it when it moves
        (SLOW_MOTION_BITS) or matches at that place clearly better than elsewhere (PLACED_MARGIN_BITS);
        else its activity must correlate with the other's (MIN_CORRELATION; STILL_APART_CORRELATION where it
        is frozen between a few changes, `few_events`), and where it does best is its place (a still
        picture's fingerprints match anywhere). A pair whose file cannot be read
        for that is no copy, with a warning: users delete what this lists."""
        container, contained = pair
        offset = found.offset
        spacing = np.diff(self.fingerprints[container].times)
        dense = len(spacing) > 0 and np.median(spacing) <= DENSE_SPACING
        moving = motion_bits(self.fingerprints[contained]) > SLOW_MOTION_BITS
        if moving and not dense:
            return offset  # placed by its fingerprints; no margin needed (a distance matrix per pair)
        margin = placement_margin(self.fingerprints[contained], self.fingerprints[container], offset)
        if dense and margin is not None and margin < -MISPLACED_BITS:
            return None
        if moving:
            return offset
        if margin is not None and margin > PLACED_MARGIN_BITS and not found.still_apart:
            return offset
        short, long = self._activity(contained), self._activity(container)
        if short is None or long is None:
            return None
        aligned = correlation(short, long, self._footage(contained))
        if aligned is None:
            return None if found.still_apart else offset
        least = STILL_APART_CORRELATION if found.still_apart or few_events(short) else MIN_CORRELATION
        return aligned.offset if aligned.correlation >= least else None

    def _footage(self, position: int) -> tuple[float, float]:
        times = self.fingerprints[position].times
        return float(times[0]), float(times[-1])

    def _activity(self, position: int) -> Activity | None:
        if position not in self.activities:
            try:
                self.activities[position] = activity(self.paths[position], self._footage(position))
            except DecodeError as error:
                self.activities[position] = None
                self.warnings.append(f"{shown_path(self.paths[position])} could not be read to check its slow "
                                     f"footage ({error}): its pairs of slow footage are not grouped")
        return self.activities[position]

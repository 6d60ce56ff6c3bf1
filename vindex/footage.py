"""Which samples of a video show its footage, from their perceptual hashes (`vindex.fingerprints`).

Two answers, for two uses:

- `content`: the samples its fingerprints keep. A picture held still at either end (a title card, a
  frozen first or last frame) is left out, since a copy holds more or less of it (a trim, an intro)
  and its samples would match nothing there.
- `footage`: the samples a user would miss were the video deleted, which decide the best copy of
  duplicates. A held picture that cuts to other pictures (a title card, a logo) is no footage; one that
  the footage after it grows out of (a road before the car comes, a frozen last frame) is: an original
  whose first second is a still road holds a second more than its copy trimmed into that road.
"""

from __future__ import annotations

import numpy as np

# A picture held this still (bits between a sample and the first of its run) for at least
# HELD_SECONDS at either end of a video, and at most HELD_MAX_SECONDS, is a title card or a frozen
# frame added around the footage, when other footage follows: it is not content (`content`).
HELD_BITS = 4
# Only held runs that do not drift are left out: a title card or a frozen frame stays as close to its
# first sample at the run's end as at its start, while a slow motion moves away from it (its later half
# this many bits or more off, the median). Within HELD_BITS a drift is judged held in one encode and
# not in another: the labelled set's 6 s original, whose soft shapes drift 2 bits every 0.2 s at its
# end, lost its last second in one encode of two (its re-encode became the keeper), and a progress bar
# creeping 4 bits a step lost its last 2 s in the original alone, so its intro copies held 2 s more.
DRIFT_BITS = 3
HELD_SECONDS, HELD_MAX_SECONDS = 1.0, 6.0
# At most this many held pictures one after another are left out at an end (a title card, then a
# still logo): a slide show is held pictures throughout, and an 8 s cut of one, a slide a second,
# kept 2 samples and none of its copies was found (scripts/bench_dupes.py --footage, the sixth set).
HELD_MAX_RUNS = 2
# A held run is dropped only when the samples after it span this many seconds or more, and no fewer
# than it does: a video that is mostly still (a board game's screen, a slide show) is footage, not a
# frozen end around a moment of motion, and its copies keep enough samples to be found (a board game's
# 3.3 s board went as a second frozen end with 2.4 s left, and its trim and fps copies were missed).
FOOTAGE_LEFT_SECONDS = 2.0
# A sample stands for the time up to the next one, but never for more than this (a gap in the
# samples of a long video, where the decoder found no frame).
MAX_SAMPLE_SECONDS = 2.0
# A held picture cuts to what follows it (a title card, a logo: no footage) when the samples within
# CUT_SECONDS after it lie more than CUT_BITS from it, the median: as far as two pictures of different
# scenes (`vindex.duplicates.fingerprint_match.MAX_DISTANCE`). A still opening the footage grows out of
# stays nearer: its first second of motion is mostly the same picture.
CUT_BITS, CUT_SECONDS = 14, 1.0


def content(hashes: np.ndarray, times: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """Which samples (in time order) show the footage: not blank, and not a picture held still
    at either end (a title card, a frozen first or last frame; one after another, HELD_MAX_RUNS of them
    and HELD_MAX_SECONDS in all, so a title card added before a still logo goes with it) while more
    footage remains (FOOTAGE_LEFT_SECONDS). A run that drifts away from its picture (DRIFT_BITS) is footage."""
    return _held_ends(hashes, times, blank)[0]


def footage(hashes: np.ndarray, times: np.ndarray, blank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(`content`'s samples, the samples a user counts as the video's footage), in time order, from one
    look at the held ends: the footage is the content with the held ends it leaves out that the footage
    grows out of (`_cuts`)."""
    hashes = np.asarray(hashes, np.uint64)
    kept, held = _held_ends(hashes, times, blank)
    shown = kept.copy()
    for samples, picture, after in held:
        shown[samples] = not _cuts(hashes, times, picture, after)
    return kept, shown


def footage_start(hashes: np.ndarray, times: np.ndarray, shown: np.ndarray) -> float | None:
    """Seconds into the video where the `shown` samples (`footage`) start, after a picture held
    HELD_SECONDS or more that cuts to other pictures though `content` kept it (too little footage after
    it to be sure: a title card before a terminal recording that is blank but for its last 2 s, the
    sixth footage check); None when none is shown."""
    order = np.flatnonzero(shown)
    if not len(order):
        return None
    hashes = np.asarray(hashes, np.uint64)
    run = int(np.cumprod(np.bitwise_count(hashes[order] ^ hashes[order[0]]) <= HELD_BITS).sum())
    if (run < len(order) and float(times[order[run]] - times[order[0]]) >= HELD_SECONDS
            and int(np.bitwise_count(hashes[order[run]] ^ hashes[order[run - 1]])) > CUT_BITS):
        return float(times[order[run]])
    return float(times[order[0]])


def _cuts(hashes: np.ndarray, times: np.ndarray, picture: np.uint64, after: np.ndarray) -> bool:
    """Whether held `picture` cuts to the samples `after` it (positions, nearest first): the median of
    those within CUT_SECONDS of the first lies more than CUT_BITS from it."""
    if not len(after):
        return True
    near = after[np.abs(np.asarray(times)[after] - times[after[0]]) <= CUT_SECONDS]
    return float(np.median(np.bitwise_count(hashes[near] ^ picture))) > CUT_BITS


def _held_ends(hashes: np.ndarray, times: np.ndarray, blank: np.ndarray) -> tuple[np.ndarray, list[tuple]]:
    """`content`'s samples, and the held runs it leaves out: (their positions, the held picture's hash,
    the positions of the samples after the run, nearest first)."""
    kept = ~np.asarray(blank, bool)
    held_runs = []
    for backwards in (False, True):
        dropped = 0.0
        for _ in range(HELD_MAX_RUNS):
            order = np.flatnonzero(kept)[::-1] if backwards else np.flatnonzero(kept)
            if len(order) < 2:
                break
            # The held picture is the run's first, or its second where the first is a little off it (the
            # first frame of an encode, a fade's last step): on the --last footage set a title card whose
            # first sample sat 6 bits off the rest was kept as footage, cropped with the footage, and its
            # copy was not found. A first sample further off is a cut: anchoring there on the second
            # dropped the starts of editor recordings, and 4 copies were lost.
            first = hashes[order[0]]
            apart = int(np.bitwise_count(first ^ hashes[order[1]]))
            held_picture = hashes[order[1]] if HELD_BITS < apart <= 2 * HELD_BITS else first
            still = ((np.bitwise_count(hashes[order] ^ first) <= HELD_BITS)
                     | (np.bitwise_count(hashes[order] ^ held_picture) <= HELD_BITS))
            run = int(np.cumprod(still).sum())
            held = abs(float(times[order[min(run, len(order) - 1)]] - times[order[0]]))
            left = abs(float(times[order[-1]] - times[order[min(run, len(order) - 1)]]))
            if (run == len(order) or held < HELD_SECONDS or dropped + held > HELD_MAX_SECONDS
                    or left < max(FOOTAGE_LEFT_SECONDS, held)):
                break
            later = np.bitwise_count(hashes[order[run // 2 : run]] ^ held_picture)
            if np.median(later) >= DRIFT_BITS:
                break
            kept[order[:run]] = False
            held_runs.append((order[:run], held_picture, order[run:]))
            dropped += held
    return kept, held_runs


def content_seconds(times: np.ndarray, kept: np.ndarray, duration: float | None) -> float:
    """Seconds of footage: the time each kept sample stands for, up to the next sample (the last
    one up to the end)."""
    times = np.asarray(times, np.float64)
    if not len(times):
        return 0.0
    end = max(float(duration or 0.0), float(times[-1]))
    spans = np.minimum(np.diff(np.r_[times, end]), MAX_SAMPLE_SECONDS)
    return float(spans[np.asarray(kept, bool)].sum())

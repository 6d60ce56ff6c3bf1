"""Which samples of a video show its footage, from their perceptual hashes (`vindex.fingerprints`): its
fingerprints leave out blank samples and a picture held still at either end (a title card, a frozen
first or last frame), since a copy holds more or less of it (a trim, an intro) and its samples would
match nothing there."""

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


def content(hashes: np.ndarray, times: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """Which samples (in time order) show the footage: not blank, and not a picture held still
    at either end (a title card, a frozen first or last frame; one after another, HELD_MAX_RUNS of them
    and HELD_MAX_SECONDS in all, so a title card added before a still logo goes with it) while more
    footage remains (FOOTAGE_LEFT_SECONDS). A run that drifts away from its picture (DRIFT_BITS) is footage."""
    kept = ~np.asarray(blank, bool)
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
            dropped += held
    return kept


def content_seconds(times: np.ndarray, kept: np.ndarray, duration: float | None) -> float:
    """Seconds of footage: the time each kept sample stands for, up to the next sample (the last
    one up to the end)."""
    times = np.asarray(times, np.float64)
    if not len(times):
        return 0.0
    end = max(float(duration or 0.0), float(times[-1]))
    spans = np.minimum(np.diff(np.r_[times, end]), MAX_SAMPLE_SECONDS)
    return float(spans[np.asarray(kept, bool)].sum())

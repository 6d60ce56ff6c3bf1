"""The keeper of duplicates is the best copy: a slow motion at an end counts as footage (only a
picture held still does not), so an original whose last second drifts slowly is not outranked by a
re-encode that happened to measure a second longer."""

import numpy as np
import pytest

from vindex.footage import content, content_seconds


def flipped(start: np.uint64, bits: int) -> np.uint64:
    return np.uint64(start) ^ np.uint64((1 << bits) - 1)


def test_a_slow_drift_at_the_end_is_footage_and_a_held_card_is_not():
    rng = np.random.default_rng(5)
    moving = rng.integers(0, 1 << 63, 25, dtype=np.int64).view(np.uint64)  # 5 s of footage
    last = moving[-1]
    drift = np.array([flipped(last, bits) for bits in (2, 2, 4, 4)], np.uint64)  # 2 bits every 0.2 s, as
    hashes = np.r_[moving, drift, [flipped(last, 6)]]  # soft shapes drifting to the end of a clip do
    times = np.arange(len(hashes)) * 0.2
    blank = np.zeros(len(hashes), bool)
    assert content_seconds(times, content(hashes, times, blank), 6.0) == pytest.approx(6.0)
    title = rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64)
    card = np.r_[moving, [title] * 10]  # a closing card of 2 s: held, whatever the drift rule
    times = np.arange(len(card)) * 0.2
    footage = content(card, times, np.zeros(len(card), bool))
    assert content_seconds(times, footage, 7.0) == pytest.approx(5.0)


def test_a_copy_behind_an_intro_is_never_kept_over_the_video_it_pads():
    from vindex.duplicates import _unpadded_first

    # 0: a title-intro copy that measured more footage (first in keeper order); the original starts
    # 2.4 s into it, where its own footage starts too. 2: a re-encode, placed through the original.
    scores = {(0, 1): (1.0, 2.4), (1, 2): (1.0, 0.0)}
    assert _unpadded_first([0, 1, 2], scores, [2.6, 0.0, 0.0]) == [1, 0, 2]
    # The same seen from the original's side: the copy lies in it from 2.4 s before its start.
    assert _unpadded_first([0, 1], {(1, 0): (1.0, -2.4)}, [2.6, 0.0]) == [1, 0]


def test_a_longer_original_with_footage_before_its_trimmed_copy_stays_the_keeper():
    from vindex.duplicates import _unpadded_first

    # The trimmed copy starts 1.2 s into the original, which has footage from its first second.
    assert _unpadded_first([0, 1], {(0, 1): (1.0, 1.2)}, [0.0, 0.0]) == [0, 1]


def test_a_held_card_that_cuts_to_other_footage_is_no_footage_start_though_it_was_fingerprinted():
    from vindex.duplicates import _footage_start, _unpadded_first
    from vindex.store import DuplicateCandidate

    rng = np.random.default_rng(9)
    title, screen = (rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64) for _ in range(2))
    # A title card of 2.4 s, then a terminal blank for 6 s (not fingerprinted), then 2 s of one still
    # screen: too little after the card for `add` to drop it.
    times = np.r_[np.arange(13) * 0.2, 8.6 + np.arange(10) * 0.2]
    hashes = np.r_[[title] * 13, [screen] * 10]
    row = DuplicateCandidate("t", "t.mp4", None, 1, 10.6, 640, 360, "t", 4.4, 640, 360, hashes, times)
    assert _footage_start(row) == pytest.approx(8.6)
    # A picture held at the start that the footage after it matches is footage: a still screen's start.
    steady = np.r_[[screen] * 10, [flipped(screen, 3)] * 10]
    held = DuplicateCandidate("s", "s.mp4", None, 1, 4.0, 640, 360, "s", 4.0, 640, 360, steady, np.arange(20) * 0.2)
    assert _footage_start(held) == 0.0
    # The original starts 2.44 s into the titled copy, which measured more footage and came first.
    starts = [_footage_start(row), 6.0]
    assert _unpadded_first([0, 1], {(0, 1): (1.0, 2.44)}, starts) == [1, 0]

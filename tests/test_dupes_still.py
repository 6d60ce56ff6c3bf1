"""A video that is mostly still (a board game's screen that changes now and then) is footage: its
still stretches at the ends are dropped as frozen ends only when enough footage is left after them,
so it and its copies keep samples to be matched by."""

import numpy as np

from vindex.footage import content


def test_a_mostly_still_video_keeps_its_still_ends():
    rng = np.random.default_rng(5)
    board, later = (rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64) for _ in range(2))
    moves = rng.integers(0, 1 << 63, 4, dtype=np.int64).view(np.uint64)  # 0.8 s of moving pieces
    hashes = np.r_[[board] * 18, moves, [later] * 18]  # 3.6 s still, the move, 3.6 s still
    times = np.arange(len(hashes)) * 0.2
    kept = content(hashes, times, np.zeros(len(hashes), bool))
    # The first still is dropped (4.2 s follow it); the last one is then most of what is left.
    assert kept.tolist() == [False] * 18 + [True] * 22


def test_a_title_card_before_footage_is_still_dropped():
    rng = np.random.default_rng(6)
    title = rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64)
    moving = rng.integers(0, 1 << 63, 20, dtype=np.int64).view(np.uint64)  # 4 s of footage
    hashes = np.r_[[title] * 15, moving]
    kept = content(hashes, np.arange(len(hashes)) * 0.2, np.zeros(len(hashes), bool))
    assert kept.tolist() == [False] * 15 + [True] * 20


def test_a_slide_show_keeps_all_but_two_slides_at_each_end():
    rng = np.random.default_rng(7)
    slides = rng.integers(0, 1 << 63, 8, dtype=np.int64).view(np.uint64)  # 8 slides, a second each
    hashes = np.repeat(slides, 5)
    times = np.arange(len(hashes)) * 0.2
    kept = content(hashes, times, np.zeros(len(hashes), bool))
    # A title card and a logo may stand at an end; a third held picture is the slide show itself.
    assert kept.tolist() == [False] * 10 + [True] * 20 + [False] * 10


def test_a_title_card_whose_first_sample_is_a_little_off_is_still_dropped():
    rng = np.random.default_rng(8)
    title = rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64)
    first = title ^ np.uint64(0b111111)  # 6 bits off: an encode's first frame of the card
    moving = rng.integers(0, 1 << 63, 20, dtype=np.int64).view(np.uint64)  # 4 s of footage
    hashes = np.r_[[first], [title] * 14, moving]
    kept = content(hashes, np.arange(len(hashes)) * 0.2, np.zeros(len(hashes), bool))
    assert kept.tolist() == [False] * 15 + [True] * 20


def test_a_slow_drift_at_an_end_is_footage_in_the_fingerprints():
    """A progress bar creeping 4 bits a step at its end stays within HELD_BITS of its last picture in one
    encode and not in another (re-encoded at another frame rate, after an intro): the original dropped
    its last 2 s and its intro copies kept them, so they held 2 s it lacked and were not grouped with it."""
    rng = np.random.default_rng(9)
    moving = rng.integers(0, 1 << 63, 20, dtype=np.int64).view(np.uint64)  # 4 s of footage
    bar = rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64)
    # 1.6 s whose pictures come ever closer to the last one (4, 4, 4, 4, 3, 2, 1, 0 bits off it): within
    # HELD_BITS of it all along, but the half furthest from it lies 4 bits off, a slow motion.
    creeping = [bar ^ np.uint64((1 << bits) - 1) for bits in (4, 4, 4, 4, 3, 2, 1, 0)]
    hashes = np.r_[moving, creeping]
    times = np.arange(len(hashes)) * 0.2
    assert content(hashes, times, np.zeros(len(hashes), bool)).all()
    frozen = np.r_[moving, [bar] * 8]
    assert content(frozen, times, np.zeros(len(frozen), bool)).tolist() == [True] * 20 + [False] * 8


def test_a_held_picture_longer_than_the_footage_left_is_footage():
    """A board game's screen: a short slow start, the board held 3.3 s, a last second held on another
    picture. The last second goes as a frozen end; the board, longer than the 2.4 s that would be
    left, stays (it went as a second frozen end, and the copies that kept it were missed)."""
    rng = np.random.default_rng(10)
    start = rng.integers(0, 1 << 63, 12, dtype=np.int64).view(np.uint64)  # 2.4 s that change
    board, end = (rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64) for _ in range(2))
    hashes = np.r_[start, [board] * 17, [end] * 6]  # the board 3.4 s, then a frozen second
    times = np.arange(len(hashes)) * 0.2
    kept = content(hashes, times, np.zeros(len(hashes), bool))
    assert kept.tolist() == [True] * 29 + [False] * 6

"""A video that is mostly still (a board game's screen that changes now and then) is footage: its
still stretches at the ends are dropped as frozen ends only when enough footage is left after them,
so it and its copies keep samples to be matched by."""

import numpy as np

from vindex.fingerprints import content


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

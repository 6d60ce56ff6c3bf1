"""Footage that barely moves (a webcam on a desk, a still game board) hashes alike at every offset:
other footage of the same scene, seconds later, is no copy of it, while a re-encode is. What tells
them apart is when the small changes happen (`vindex.duplicates.motion_alignment`)."""

import json

import numpy as np
import pytest

from tests.conftest import TINY
from vindex.demo import write_video
from vindex.duplicates.motion_alignment import MIN_CORRELATION, Activity, correlation

FPS = 12


def desk_scene(seconds: float, seed: int = 3) -> np.ndarray:
    """A fixed camera on a still scene where one small thing moves now and then: (n, 120, 160, 3). Its
    hashes barely change: any stretch of it is contained in any other by its fingerprints alone."""
    rng = np.random.default_rng(seed)
    background = rng.integers(30, 220, (6, 8, 3)).repeat(20, axis=0).repeat(20, axis=1).astype(np.uint8)
    frames, x, y = [], 60.0, 50.0
    for _ in range(int(seconds * FPS)):
        if rng.random() < 0.3:  # it moves in small steps at random moments
            x, y = np.clip(x + rng.normal(0, 4), 0, 154), np.clip(y + rng.normal(0, 3), 0, 114)
        frame = background.copy()
        frame[int(y) : int(y) + 6, int(x) : int(x) + 6] = (250, 250, 250)
        frames.append(frame)
    return np.stack(frames)


def add_and_find(run, tmp_path, videos: dict[str, np.ndarray]) -> dict:
    root, db = tmp_path / "videos", tmp_path / "index"
    for name, pictures in videos.items():
        write_video(root / name, pictures, FPS)
    run("add", root, "--db", db, *TINY, "-q")
    return json.loads(run("dupes", "--db", db, "--json").stdout)


def test_other_footage_of_a_slow_scene_is_no_copy_but_a_re_encode_is(tmp_path, run):
    scene = desk_scene(11.0)
    original, other = scene[: 5 * FPS], scene[6 * FPS :]
    copy = original[:, ::2, ::2].repeat(2, axis=1).repeat(2, axis=2)  # a softer re-encode of it
    report = add_and_find(run, tmp_path, {"original.mp4": original, "other.mp4": other, "copy.mp4": copy})
    grouped = [sorted(video["path"] for video in group["videos"]) for group in report["groups"]]
    assert grouped == [["copy.mp4", "original.mp4"]]


def test_a_slow_pair_whose_file_is_gone_is_not_grouped_and_says_why(tmp_path, run):
    scene = desk_scene(6.0, seed=4)
    root = tmp_path / "videos"
    report = add_and_find(run, tmp_path, {"original.mp4": scene, "copy.mp4": scene[: 5 * FPS]})
    assert len(report["groups"]) == 1
    (root / "original.mp4").unlink()
    report = json.loads(run("dupes", "--db", tmp_path / "index", "--json").stdout)
    assert report["groups"] == []
    assert any("original.mp4 could not be read" in warning for warning in report["warnings"])


def series(changes: np.ndarray) -> Activity:
    return Activity(np.arange(1, len(changes) + 1) * 0.1, changes)


def test_activity_correlates_where_a_copy_lies_and_not_elsewhere():
    rng = np.random.default_rng(0)
    long = rng.normal(size=(200, 8, 8))
    part = long[60:120] + rng.normal(scale=0.3, size=(60, 8, 8))  # a noisy copy of 6 s of it
    other = rng.normal(size=(60, 8, 8))  # the same kind of change at other moments
    found = correlation(series(part), series(long), (0.0, 6.1))
    assert found.correlation > 0.9 and found.offset == pytest.approx(6.0, abs=0.05)
    assert correlation(series(other), series(long), (0.0, 6.1)).correlation < MIN_CORRELATION


def test_other_footage_whose_changes_follow_the_same_rhythm_in_part_is_no_copy():
    # Another cut of a terminal recording, typed again at the same place (the seventh footage set): its
    # changes share part of a copy's timing, and correlated at 0.33-0.41 where it lay in the copy.
    rng = np.random.default_rng(2)
    long = rng.normal(size=(200, 8, 8))
    retyped = 0.4 * long[60:120] + np.sqrt(1 - 0.4**2) * rng.normal(size=(60, 8, 8))
    found = correlation(series(retyped), series(long), (0.0, 6.1))
    assert 0.35 < found.correlation < MIN_CORRELATION


def test_a_frozen_or_too_short_video_leaves_the_fingerprints_to_decide():
    long = np.random.default_rng(1).normal(size=(100, 8, 8))
    assert correlation(series(np.zeros((50, 8, 8))), series(long), (0.0, 5.1)) is None
    assert correlation(series(long[:8]), series(long), (0.0, 0.8)) is None


def test_moving_footage_is_placed_by_its_fingerprints_and_still_footage_is_not():
    from vindex.duplicates.fingerprint_match import Fingerprints, placement_margin

    rng = np.random.default_rng(2)
    times = np.arange(50) * 0.2
    moving = rng.integers(0, 1 << 63, 50, dtype=np.int64).view(np.uint64)  # every sample another picture
    still = np.full(50, moving[0])
    part = slice(10, 30)
    assert placement_margin(Fingerprints(moving[part], times[:20]), Fingerprints(moving, times), 2.0) > 20
    assert placement_margin(Fingerprints(still[part], times[:20]), Fingerprints(still, times), 2.0) == 0


def noisy_scene(samples: int, rng: np.random.Generator) -> np.ndarray:
    """Hashes of a fixed camera on a scene that hardly changes, its noise moving 6 bits or so a sample:
    each sample the scene's hash with 4 of 20 noisy bits flipped (a fish tank filmed by a grainy camera)."""
    scene = rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64)
    noisy = rng.choice(64, 20, replace=False)
    flips = [np.bitwise_or.reduce(np.uint64(1) << rng.choice(noisy, 4, replace=False).astype(np.uint64))
             for _ in range(samples)]
    return scene ^ np.array(flips, np.uint64)


def test_a_contained_video_that_matches_a_dense_video_better_elsewhere_is_no_copy_of_it():
    """Another cut of a noisy still scene, placed by its votes where it matches 3 bits or so, finds
    the same pictures 1 bit off seconds away: it is another moment of the scene, not a copy there. The
    same cut against a video sampled once a second (a long one, where a sub-clip's partners at its
    place lie up to half a second off) is left to the other checks; a copy at its place passes."""
    from vindex.duplicates.fingerprint_match import Containment, Fingerprints, motion_bits
    from vindex.duplicates.motion_alignment import MISPLACED_BITS, SlowFootageCheck

    rng = np.random.default_rng(4)
    long = noisy_scene(40, rng)  # 8 s, five samples a second
    times = np.arange(40) * 0.2
    elsewhere = long[20:35] ^ np.uint64(1)  # 1 bit off the pictures 4 s in
    at_place = long[:15]  # a copy of the first 3 s
    other_cut = np.where(np.arange(15) % 2 == 0, elsewhere, elsewhere ^ np.uint64(0b110))
    at_start = Containment(1.0, 0.0, 15, 15)
    check = SlowFootageCheck([Fingerprints(long, times), Fingerprints(other_cut, times[:15])], ["long", "cut"], [])
    assert motion_bits(check.fingerprints[1]) > 5  # moving enough that its activity is never checked
    assert check.offset((0, 1), at_start) is None
    copy = SlowFootageCheck([Fingerprints(long, times), Fingerprints(at_place, times[:15])], ["long", "copy"], [])
    assert motion_bits(copy.fingerprints[1]) > 5 and copy.offset((0, 1), at_start) == 0.0
    sparse = SlowFootageCheck([Fingerprints(long, times * 5), Fingerprints(other_cut, times[:15])], ["long", "cut"], [])
    assert sparse.offset((0, 1), at_start) == 0.0
    assert MISPLACED_BITS < 2  # the fish tank's other cut matched 2 bits better elsewhere


def test_a_still_picture_further_from_its_match_than_a_still_copy_is_one_only_where_its_changes_line_up():
    """A letterboxed copy of a still window lies 6-8 bits from its original at every sample, as other
    footage of a still screen may: the still rule alone left such copies out. Kept for their activity
    to judge, they are copies where it lines up closely (STILL_APART_CORRELATION), and never when
    frozen (nothing to line up), or where it lines up only as loosely as other footage of the screen."""
    from vindex.duplicates.fingerprint_match import MAX_DISTANCE, STILL_MAX_DISTANCE, Fingerprints, containment
    from vindex.duplicates.motion_alignment import STILL_APART_CORRELATION, SlowFootageCheck

    rng = np.random.default_rng(5)
    times = np.arange(40) * 0.2  # 8 s, five samples a second
    window = rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64)
    original = Fingerprints(np.full(40, window), times)
    boxed = Fingerprints(np.full(30, window ^ np.uint64(0b1111111)), times[:30])  # 7 bits off, 6 s
    assert containment(boxed, original).share == 0.0  # further than STILL_MAX_DISTANCE
    found = containment(boxed, original, still_max_distance=MAX_DISTANCE)
    assert found.share == 1.0 and found.still_apart and 7 > STILL_MAX_DISTANCE

    changes = rng.normal(size=(80, 8, 8))
    loosely = 0.6 * changes[10:70] + 0.8 * rng.normal(size=(60, 8, 8))  # correlates ~0.6
    for short_changes, expected in ((changes[10:70] + rng.normal(scale=0.2, size=(60, 8, 8)), 1.1),
                                    (loosely, None), (np.zeros((60, 8, 8)), None)):
        check = SlowFootageCheck([original, boxed], ["original", "boxed"], [])
        check.activities = {0: series(changes), 1: Activity(np.arange(60) * 0.1, short_changes)}
        offset = check.offset((0, 1), found)
        assert offset == (pytest.approx(expected, abs=0.05) if expected is not None else None)
    assert correlation(Activity(np.arange(60) * 0.1, loosely), series(changes), (0.0, 5.8)).correlation < STILL_APART_CORRELATION


def test_a_screen_frozen_between_two_changes_is_a_copy_only_where_they_line_up_closely():
    """Another cut of a system monitor whose GIF holds each frame 3 s (the ninth footage set) changes only
    where the GIF turns a frame, in the same places as its copies: two events that correlate at 0.51-0.59.
    So few events say little: such a video needs STILL_APART_CORRELATION, where footage with a camera's
    small continuous changes needs MIN_CORRELATION only."""
    from vindex.duplicates.fingerprint_match import Fingerprints, containment
    from vindex.duplicates.motion_alignment import SlowFootageCheck, few_events

    rng = np.random.default_rng(6)
    times = np.arange(50) * 0.2
    screen = rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64)
    original, cut = Fingerprints(np.full(50, screen), times), Fingerprints(np.full(30, screen), times[:30])
    found = containment(cut, original)
    assert found.share == 1.0 and not found.still_apart

    turns = rng.normal(size=(2, 8, 8))
    long = np.zeros((100, 8, 8))
    long[[30, 60]] = turns

    def frozen_but(events: np.ndarray, floor: float = 0.0) -> np.ndarray:
        short = floor * rng.normal(size=(60, 8, 8))
        short[[10, 40]] += events
        return short

    copy = frozen_but(turns + rng.normal(scale=0.1, size=(2, 8, 8)))
    other_cut = frozen_but(0.65 * turns + 0.76 * rng.normal(size=(2, 8, 8)))
    filmed = frozen_but(0.65 * turns + 0.76 * rng.normal(size=(2, 8, 8)), floor=0.02)  # a camera's noise
    assert few_events(series(copy)) and few_events(series(other_cut)) and not few_events(series(filmed))
    for short, expected in ((copy, 2.1), (other_cut, None), (filmed, 2.1)):
        check = SlowFootageCheck([original, cut], ["original", "cut"], [])
        check.activities = {0: series(long), 1: Activity(np.arange(60) * 0.1, short)}
        aligned = correlation(check.activities[1], check.activities[0], (0.0, 5.8))
        assert aligned.correlation > (0.9 if short is copy else MIN_CORRELATION)
        offset = check.offset((0, 1), found)
        assert offset == (pytest.approx(expected, abs=0.05) if expected is not None else None)

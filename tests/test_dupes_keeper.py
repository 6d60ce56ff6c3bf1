"""The keeper of duplicates is the best copy: the one holding the most footage a user would miss. A slow
motion at an end counts as footage, and so does a still opening the footage grows out of, so an original
is not outranked by a re-encode or a trimmed copy that measured as much; a copy behind an intro is never
kept over the video it pads."""

import numpy as np
import pytest

from vindex.footage import content, content_seconds, footage, footage_start


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


def video(duration: float, footage_start: float, first_picture: int, first_picture_time: float = 0.0):
    """A video as `dupes` compares it: its length, where its footage starts, its first picture (a hash)."""
    from vindex.store import DuplicateCandidate

    return DuplicateCandidate(id="v", path="v.mp4", channel=None, size=1, duration=duration, width=640, height=360,
                              content_hash=None, content_seconds=None, picture_width=640, picture_height=360,
                              footage_seconds=None, footage_start=footage_start, first_picture_time=first_picture_time,
                              first_picture=first_picture)


TITLE, ROAD, FOOTAGE = 0x0F0F_0F0F_0F0F_0F0F, 0x3355_3355_3355_3355, 0x7E81_7E81_7E81_7E81  # pictures far apart


def test_a_copy_behind_an_intro_is_never_kept_over_the_video_it_pads():
    from vindex.duplicates.keeper import keeper_first

    # 0: a title-intro copy that measured more footage (ranked first); the original starts 2.4 s into
    # it, where its own footage starts too. 2: a re-encode, placed through the original.
    firsts = [video(10.4, 2.6, TITLE), video(8.0, 0.0, FOOTAGE), video(8.0, 0.0, FOOTAGE)]
    scores = {(0, 1): (1.0, 2.4), (1, 2): (1.0, 0.0)}
    assert keeper_first([0, 1, 2], scores, firsts) == [1, 0, 2]
    # The same seen from the original's side: the copy lies in it from 2.4 s before its start.
    assert keeper_first([0, 1], {(1, 0): (1.0, -2.4)}, firsts[:2]) == [1, 0]


def test_a_longer_original_with_footage_before_its_trimmed_copy_stays_the_keeper():
    from vindex.duplicates.keeper import keeper_first

    # The trimmed copy starts 1.2 s into the original, which has footage from its first second.
    firsts = [video(8.0, 0.0, FOOTAGE), video(6.8, 0.0, FOOTAGE)]
    assert keeper_first([0, 1], {(0, 1): (1.0, 1.2)}, firsts) == [0, 1]
    # Ranked after the copy (it measured as much footage), it still holds the copy and more.
    assert keeper_first([1, 0], {(0, 1): (1.0, 1.2)}, firsts) == [0, 1]


def test_an_original_opening_on_a_held_picture_is_kept_over_its_copy_trimmed_into_it():
    """A still road for 1.2 s, then a cut to the car: held and cut like a title card, so the original's
    footage starts at 1.2 s, but its copy trimmed by 1 s opens on that road too: no title card."""
    from vindex.duplicates.keeper import keeper_first

    firsts = [video(8.0, 1.2, ROAD), video(6.7, 0.0, ROAD)]
    assert keeper_first([1, 0], {(0, 1): (1.0, 1.0)}, firsts) == [0, 1]
    # A copy behind a title card that cuts to the road is padded all the same.
    titled = [video(10.0, 3.2, TITLE), video(8.0, 1.2, ROAD)]
    assert keeper_first([0, 1], {(0, 1): (1.0, 2.0)}, titled) == [1, 0]


def test_an_original_after_black_that_goes_on_past_its_trimmed_copy_is_no_padded_copy():
    from vindex.duplicates.keeper import keeper_first

    # 1 s of black, then footage that runs 0.3 s past the end of the copy trimmed into it.
    firsts = [video(8.3, 1.0, FOOTAGE, first_picture_time=1.0), video(6.96, 0.0, FOOTAGE)]
    assert keeper_first([1, 0], {(0, 1): (1.0, 1.04)}, firsts) == [0, 1]
    # A black intro copy ends where its original does: padded.
    intro = [video(10.0, 2.0, FOOTAGE, first_picture_time=2.0), video(8.0, 0.0, FOOTAGE)]
    assert keeper_first([0, 1], {(0, 1): (1.0, 2.0)}, intro) == [1, 0]


def test_a_held_card_that_cuts_to_other_footage_is_no_footage_though_it_was_fingerprinted():
    from vindex.duplicates.keeper import keeper_first

    rng = np.random.default_rng(9)
    title, screen, dark = (rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64) for _ in range(3))
    # A title card of 2.6 s, then a terminal blank for 6 s, then 2 s of one still screen: too little
    # after the card for `content` to drop it.
    hashes = np.r_[[title] * 13, [dark] * 30, [screen] * 10]
    blank = np.r_[np.zeros(13, bool), np.ones(30, bool), np.zeros(10, bool)]
    times = np.arange(len(hashes)) * 0.2
    assert content(hashes, times, blank)[:13].all()
    shown = footage(hashes, times, blank)[1]
    assert footage_start(hashes, times, shown) == pytest.approx(8.6)
    # A picture held at the start that the footage after it stays near is footage: a still screen's start.
    steady = np.r_[[screen] * 10, [flipped(screen, 3)] * 10]
    assert footage_start(steady, np.arange(20) * 0.2, np.ones(20, bool)) == 0.0
    # The original starts 2.44 s into the titled copy, which measured more footage and came first.
    firsts = [video(12.6, footage_start(hashes, times, shown), TITLE), video(10.2, 6.0, FOOTAGE)]
    assert keeper_first([0, 1], {(0, 1): (1.0, 2.44)}, firsts) == [1, 0]


def test_a_still_opening_the_footage_grows_out_of_is_footage_and_a_title_card_is_not():
    """An original whose first 1.6 s show a still road before the car comes: its fingerprints leave the
    road out (a copy trimmed into it holds less of it), but it is footage its trimmed copy lacks."""
    rng = np.random.default_rng(11)
    road = rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64)
    # The car comes: each sample 2 bits further from the road, then the footage moves on at random.
    coming = [flipped(road, bits) for bits in range(5, 15, 2)]
    moving = rng.integers(0, 1 << 63, 20, dtype=np.int64).view(np.uint64)
    hashes = np.r_[[road] * 8, coming, moving]
    times = np.arange(len(hashes)) * 0.2
    blank = np.zeros(len(hashes), bool)
    assert not content(hashes, times, blank)[:8].any()
    assert footage(hashes, times, blank)[1].all()
    title = rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64)
    titled = np.r_[[title] * 10, coming, moving]
    assert footage(titled, np.arange(len(titled)) * 0.2, np.zeros(len(titled), bool))[1].tolist() == [False] * 10 + [True] * 25
    assert content_seconds(times, footage(hashes, times, blank)[1], len(hashes) * 0.2) == pytest.approx(6.6)


def test_an_original_opening_on_a_still_picture_is_kept_over_its_trimmed_copy_and_its_titled_copy(tmp_path):
    """Real videos: an original that opens on another shot held 1.4 s (a poster frame, cut to the
    footage as a title card would be), its copy trimmed 0.6 s into that shot and 0.3 s before its end at
    a higher bit rate, and a copy behind a 2 s title card. The original holds the most, and is kept."""
    from tests.test_dupes import scene
    from vindex import Index, ModelSpec
    from vindex.demo import write_video

    poster = scene(look=2, seed=7, seconds=0.04, fps=25, size=(320, 240))[0]
    moving = scene(look=5, seed=8, seconds=5.0, fps=25, size=(320, 240))
    original = np.r_[[poster] * 35, moving]
    title = np.zeros_like(poster)
    title[90:150, 40:280] = 230  # a white caption on black
    root = tmp_path / "videos"
    write_video(root / "original.mp4", original, 25, bit_rate=600_000)
    write_video(root / "trimmed.mp4", original[15:-8], 25, bit_rate=1_200_000)
    write_video(root / "titled.mp4", np.r_[[title] * 50, original], 25, bit_rate=600_000)
    db = tmp_path / "index"
    Index(str(db)).add(root, model=ModelSpec("vindex-tiny"))
    groups = list(Index(str(db)).duplicates())
    assert len(groups) == 1
    videos = {video.path: video for video in groups[0].videos}
    assert groups[0].keeper.path == "original.mp4" and set(videos) == {"original.mp4", "trimmed.mp4", "titled.mp4"}
    assert "padded" in videos["titled.mp4"].reason
    assert videos["trimmed.mp4"].offset == pytest.approx(0.6, abs=0.25) and videos["trimmed.mp4"].reason == "trimmed"


def test_a_boxed_copy_whose_bars_crop_a_row_short_is_not_kept_over_its_original_at_a_higher_bit_rate():
    """Bars are found on a 64x64 grey square, a row or so off: a letterboxed copy of a 518x646 window
    measured 518x658 of picture. Pictures within PIXELS_STEP of the most are equal, and the bit rate
    decides; a copy with clearly more picture (upscaled) still ranks first."""
    from dataclasses import replace

    from vindex.duplicates.keeper import PIXELS_STEP, footage_tiers, group_ranking

    def best_first(rows):
        return group_ranking(rows, list(range(len(rows))), footage_tiers(rows))

    original = replace(video(5.4, 0.0, FOOTAGE), path="window.mp4", size=120_000, width=518, height=646,
                       picture_width=518, picture_height=646)
    boxed = replace(original, path="window (boxed).mp4", size=100_000, height=810, picture_height=658)
    upscaled = replace(original, path="window (upscaled).mp4", size=90_000, width=778, height=970,
                       picture_width=778, picture_height=970)
    assert 518 * 658 / (518 * 646) < PIXELS_STEP
    assert best_first([boxed, original]) == [1, 0]
    assert best_first([boxed, original, upscaled]) == [2, 1, 0]


def test_a_groups_keeper_does_not_depend_on_another_video_of_the_index():
    """Pictures are tiered among the group's own members: a larger unrelated video with as much footage
    once anchored the tier that a pillarboxed copy (647x388 of picture) and its original (640x364) fell
    on either side of, and the copy was kept despite the original's higher bit rate."""
    from dataclasses import replace

    from vindex.duplicates.keeper import footage_tiers, group_ranking

    original = replace(video(8.0, 0.0, FOOTAGE), path="app.mp4", size=130_000, width=640, height=388,
                       picture_width=640, picture_height=364)
    pillarboxed = replace(original, path="app (boxed).mp4", size=100_000, width=900, picture_width=647,
                          picture_height=388)
    unrelated = replace(original, path="other.mp4", width=600, height=450, picture_width=600, picture_height=450)
    rows = [unrelated, pillarboxed, original]
    assert group_ranking(rows, [1, 2], footage_tiers(rows)) == [2, 1]

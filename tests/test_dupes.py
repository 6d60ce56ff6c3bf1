"""`vindex dupes`: fingerprint containment and its offset, candidate search, grouping without
chaining, and a labelled set of copies and look-alikes (`vindex.demo.make_duplicate_set`)."""

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from vindex import DuplicateReport, Index, ModelSpec, VindexError
from vindex.defaults import DUPLICATE_THRESHOLDS
from vindex.demo import make_duplicate_set
from vindex.duplicates import _anchored_groups
from vindex.duplicates.fingerprint_match import Fingerprints, candidate_pairs, containment

SUBCLIP_START = 17.4


def random_hashes(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 1 << 63, count, dtype=np.int64).view(np.uint64) << np.uint64(1) | rng.integers(
        0, 2, count, dtype=np.int64).view(np.uint64)


def flipped(rng: np.random.Generator, hashes: np.ndarray, bits: int) -> np.ndarray:
    """The hashes with `bits` random bits of each flipped: the same pictures re-encoded."""
    masks = [np.bitwise_or.reduce(np.uint64(1) << rng.choice(64, bits, replace=False).astype(np.uint64))
             for _ in hashes]
    return hashes ^ np.array(masks, np.uint64)


# -- containment on synthetic fingerprints -------------------------------------------------------
def test_a_subclip_is_contained_at_its_offset_even_in_a_sparsely_sampled_long_video():
    rng = np.random.default_rng(0)
    long = Fingerprints(random_hashes(rng, 300), np.arange(300) + 0.5)  # 5 minutes, one a second
    times = np.arange(10) + 0.5
    clip = Fingerprints(flipped(rng, long.hashes[151:161], 4), times)  # 10 s cut at 2:31
    found = containment(clip, long)
    assert found.share == 1.0 and found.matched == 10 and abs(found.offset - 151) <= 1
    keyframes = np.arange(0, 300, 4)  # the long one sampled at keyframes every 4 s
    sparse = containment(clip, Fingerprints(long.hashes[keyframes], long.times[keyframes]))
    assert sparse.share == 1.0 and 2 <= sparse.compared < 10 and abs(sparse.offset - 151) <= 1


def test_partial_overlap_and_unrelated_videos_are_not_contained():
    rng = np.random.default_rng(1)
    long = Fingerprints(random_hashes(rng, 60), np.arange(60) + 0.5)
    tail_then_other = np.r_[long.hashes[55:], random_hashes(rng, 5)]  # half of it runs past the end
    found = containment(Fingerprints(tail_then_other, np.arange(10) + 0.5), long)
    assert found.matched == 5 and found.overhang == 5.0 and found.share == 0.0  # 5 s past its end: no copy
    assert containment(Fingerprints(random_hashes(rng, 10), np.arange(10.0)), long).share == 0.0
    one_frame = containment(Fingerprints(long.hashes[3:4], np.array([0.5])), long)
    assert one_frame.share == 0.0  # a single look-alike frame is no evidence


def test_frames_out_of_order_do_not_add_up():
    rng = np.random.default_rng(2)
    long = Fingerprints(random_hashes(rng, 40), np.arange(40) + 0.5)
    shuffled = Fingerprints(long.hashes[rng.permutation(40)[:10]], np.arange(10) + 0.5)
    assert containment(shuffled, long).share < 0.5


def test_candidate_search_finds_planted_copies_without_comparing_all_pairs():
    rng = np.random.default_rng(3)
    videos = [Fingerprints(random_hashes(rng, 60), np.arange(60.0)) for _ in range(2000)]
    planted = set()
    for original in range(0, 2000, 50):
        videos[original + 1] = Fingerprints(flipped(rng, videos[original].hashes[10:30], 5), np.arange(20.0))
        planted.add((original, original + 1))
    found = {tuple(pair) for pair in candidate_pairs(videos).tolist()}
    assert planted <= found and len(found) < 20 * len(planted)


# -- grouping -------------------------------------------------------------------------------------
def test_groups_do_not_chain():
    # 0 ~ 1, 1 ~ 2, 2 ~ 3 but no other pair: 1 (matched by two, the earliest such) anchors 0 and 2;
    # 3 is not pulled in through 2.
    scores = {(0, 1): (0.9, 0.0), (1, 2): (0.9, 0.0), (2, 3): (0.9, 0.0), (4, 5): (0.85, 2.0)}
    assert _anchored_groups(6, scores, set(scores)) == [([0, 1, 2], 1), ([4, 5], 4), ([3], 3)]
    # Anchored on the first in matching order instead (similar mode): 0 takes 1, then 2 takes 3.
    assert [m for m, _ in _anchored_groups(6, scores, set(), most_matched=False)] == [[0, 1], [2, 3], [4, 5]]


def test_a_group_forms_around_the_video_the_others_match():
    # The keeper-order first video (0, a pillarboxed copy) is matched by the original (1) alone; the
    # original is matched by every copy: all join one group, whose keeper is still chosen by the rule.
    scores = {(0, 1): (0.9, 0.0), (1, 2): (0.9, 0.0), (1, 3): (0.8, -2.0), (1, 4): (0.8, -3.0)}
    assert _anchored_groups(5, scores, set(scores)) == [([0, 1, 2, 3, 4], 1)]


def test_a_copy_that_holds_the_original_both_ways_joins_the_group_around_it():
    # 0, a still screen's copy whose footage measured longer, contains the original (1) and is
    # contained in it: a copy, not a longer cut, so it joins the group the copies form around 1.
    scores = {(0, 1): (1.0, 0.0), (1, 2): (0.9, 0.0), (1, 3): (0.9, 0.0), (2, 3): (0.9, 0.0)}
    assert _anchored_groups(4, scores, {(0, 1), (1, 2), (1, 3), (2, 3)}) == [([0, 1, 2, 3], 1)]
    assert _anchored_groups(4, scores, {(1, 2), (1, 3), (2, 3)}) == [([1, 2, 3], 1), ([0], 0)]


def test_two_cuts_holding_one_clip_do_not_join_around_it():
    # 2 (a shorter clip) is contained in both 0 and 1, which do not match each other.
    scores = {(0, 2): (0.9, 1.0), (1, 2): (0.9, 3.0)}
    assert _anchored_groups(3, scores, set()) == [([0, 2], 0), ([1], 1)]


# -- the labelled set -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> tuple[Path, Path, list]:
    """(root, index, labels) of the labelled duplicate set plus an identical copy, indexed once."""
    base = tmp_path_factory.mktemp("dupes")
    root = base / "videos"
    labels = make_duplicate_set(root, clip=(SUBCLIP_START, 8.0))
    shutil.copy(root / "original_0.mp4", root / "copy_0.mp4")
    labels.append(("copy_0.mp4", "original_0", "identical copy"))
    db = base / "index"
    Index(str(db), precision="fp32").add(root, model=ModelSpec("vindex-tiny"))
    return root, db, labels


def precision_recall(groups: list[dict], labels: list) -> tuple[float, float, Counter]:
    """Members whose keeper is of their family / all members; copies grouped with their family's
    original / all copies (per kind: the copies missed)."""
    family = {path: name for path, name, _ in labels}
    members = [(video["path"], group["keeper"]) for group in groups for video in group["videos"][1:]]
    correct = sum(family[member] == family[keeper] for member, keeper in members)
    group_of = {video["path"]: number for number, group in enumerate(groups) for video in group["videos"]}
    originals = {name: path for path, name, kind in labels if kind == "original"}
    copies = [(path, name, kind) for path, name, kind in labels if name in originals and kind != "original"]
    missed = Counter(kind for path, name, kind in copies
                     if path not in group_of or group_of[path] != group_of.get(originals[name]))
    return (correct / len(members) if members else 1.0), 1 - sum(missed.values()) / len(copies), missed


def test_near_mode_finds_the_copies_and_no_look_alike(labelled, run):
    _, db, labels = labelled
    report = json.loads(run("dupes", "--db", db, "--json").stdout)
    assert report["mode"] == "near" and report["threshold"] == DUPLICATE_THRESHOLDS["near"]
    precision, recall, missed = precision_recall(report["groups"], labels)
    assert precision == 1.0 and recall >= 0.95, missed
    for group in report["groups"]:
        assert group["videos"][0]["reason"] == "keeper" and group["keeper"] == group["videos"][0]["path"]
        assert all(video["score"] >= report["threshold"] for video in group["videos"])
        assert group["reclaimable_bytes"] == sum(video["size"] for video in group["videos"][1:])
        assert group["videos"][0]["visual"] == 1.0 and all(0 < video["visual"] <= 1 for video in group["videos"])
    found = {video["path"]: video for group in report["groups"] for video in group["videos"]}
    for clip, resized in (("subclip.mp4", ""), ("subclip_scaled.mp4", ", resized")):
        offset = found[clip]["offset"]  # sampling puts it within a second of the cut
        assert abs(offset - SUBCLIP_START) <= 1.0
        assert found[clip]["reason"] == f"contained at 0:{round(offset):02d}{resized}"
    assert found["trimmed_0.mp4"]["reason"].startswith("trimmed")
    assert found["start_cut_0.mp4"]["reason"].startswith("contained at 0:02")
    assert found["letterboxed_0.mp4"]["reason"] == "cropped or letterboxed"


def test_reasons_are_relative_to_the_keeper(labelled):
    _, db, _ = labelled
    names = ("original_0.mp4", "re-encode_mpeg4_0.avi", "scaled_down_0.mp4", "copy_0.mp4")
    [group] = Index(str(db)).duplicates(where=f"path IN ({', '.join(repr(name) for name in names)})")
    reasons = {video.path: video.reason for video in group.videos}
    assert group.keeper.path == "copy_0.mp4"  # as long and as large as original_0.mp4: the path decides
    assert reasons == {"copy_0.mp4": "keeper", "original_0.mp4": "identical bytes",
                       "re-encode_mpeg4_0.avi": "re-encode", "scaled_down_0.mp4": "resized"}


def test_human_table_and_paths_for_piping(labelled, run):
    root, db, labels = labelled
    table = run("dupes", "--db", db).stdout
    assert "keep long.mp4" in table and "contained at 0:17" in table and "reclaimable" in table
    paths = run("dupes", "--db", db, "--paths").stdout.splitlines()
    report = json.loads(run("dupes", "--db", db, "--json").stdout)
    assert sorted(paths) == sorted(str(root / video["path"]) for group in report["groups"]
                                   for video in group["videos"][1:])
    assert str(root / "long.mp4") not in paths and all(Path(path).exists() for path in paths)  # nothing deleted


def test_exact_mode_groups_identical_bytes_only(labelled, run):
    _, db, _ = labelled
    report = json.loads(run("dupes", "--db", db, "--mode", "exact", "--json").stdout)
    assert report["threshold"] is None
    assert [[video["path"] for video in group["videos"]] for group in report["groups"]] == [
        ["copy_0.mp4", "original_0.mp4"]]


def test_similar_mode_scores_against_the_keeper(labelled, run):
    _, db, _ = labelled
    report = json.loads(run("dupes", "--db", db, "--mode", "similar", "--threshold", "0.99", "--json").stdout)
    for group in report["groups"]:
        assert all(video["score"] >= 0.99 for video in group["videos"])
        assert {video["reason"] for video in group["videos"][1:]} <= {"similar scene", "identical bytes"}


def test_library_returns_a_report(labelled):
    _, db, _ = labelled
    report = Index(str(db)).duplicates(where="path LIKE 'scaled%' OR path LIKE 'original%'")
    assert isinstance(report, DuplicateReport) and report.compared == 3
    assert [len(group.videos) for group in report] == [3]
    with pytest.raises(VindexError, match="bad video filter"):
        Index(str(db)).duplicates(where="no_such_column = 1")


def test_videos_without_fingerprints_are_a_warning_not_a_crash(labelled, run, tmp_path):
    _, db, _ = labelled
    copy = tmp_path / "index"
    shutil.copytree(db, copy)
    Index(str(copy)).store.videos.update(values_sql={"fingerprints": "NULL", "fingerprint_times": "NULL"})
    result = run("dupes", "--db", copy)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "vindex add" in warnings[0] and "no fingerprints" in warnings[0]
    assert result.stdout.count("group ") == 1 and "identical bytes" in result.stdout


# -- copies as real tools make them ---------------------------------------------------------------
def scene(look: int, seed: int, seconds: float, fps: float, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    from vindex.demo import render_scene

    return render_scene(look, size[0], size[1], round(seconds * fps), fps, np.random.default_rng(seed))


def letterboxed_after_black(pictures: np.ndarray, box: tuple[int, int], black_frames: int) -> np.ndarray:
    """`pictures` shrunk into a `box` (width, height) of another shape, bars around, after black frames."""
    from PIL import Image

    height, width = pictures.shape[1:3]
    scale = min(box[0] / width, box[1] / height)
    inner = (round(width * scale / 2) * 2, round(height * scale / 2) * 2)
    out = np.zeros((len(pictures) + black_frames, box[1], box[0], 3), np.uint8)
    top, left = (box[1] - inner[1]) // 2, (box[0] - inner[0]) // 2
    for index, picture in enumerate(pictures):
        out[black_frames + index, top : top + inner[1], left : left + inner[0]] = np.asarray(
            Image.fromarray(picture).resize(inner, Image.BILINEAR))
    return out


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> tuple[Path, dict]:
    """An index of two originals, copies of them as ffmpeg would make them, and look-alikes."""
    from vindex.demo import write_video

    root = tmp_path_factory.mktemp("copies") / "videos"
    # 3.5 s (a short cut, as phones make them) at 75 fps: both 25 fps and 15 fps pictures lie on it.
    fine = scene(look=3, seed=1, seconds=3.5, fps=75)
    write_video(root / "original.mp4", fine[::3], 25)
    # 0.41 s and 0.23 s trimmed, 15 fps: its frames fall between the original's, at another phase.
    write_video(root / "trimmed_15fps.mp4", fine[31 : len(fine) - 17 : 5], 15, bit_rate=150_000)
    write_video(root / "retake.mp4", scene(look=3, seed=2, seconds=3.5, fps=25), 25)  # same look, other shot
    write_video(root / "unrelated.mp4", scene(look=4, seed=3, seconds=3.5, fps=25), 25)
    picture = scene(look=5, seed=4, seconds=5.0, fps=25, size=(320, 240))
    write_video(root / "full_picture.mp4", picture, 25)
    write_video(root / "black_intro_letterboxed.mp4", letterboxed_after_black(picture, (240, 136), 50), 25)
    db = root.parent / "index"
    Index(str(db), precision="fp32").add(root, model=ModelSpec("vindex-tiny"))
    report = Index(str(db)).duplicates()
    return db, {group.keeper.path: group for group in report}


def test_a_trimmed_copy_at_another_frame_rate_and_sampling_phase_is_grouped(copies):
    _, groups = copies
    assert [video.path for video in groups["original.mp4"].videos] == ["original.mp4", "trimmed_15fps.mp4"]
    assert groups["original.mp4"].videos[1].reason == "trimmed"  # 0.64 s shorter: the keeper holds more


def test_unrelated_clips_and_retakes_of_a_scene_are_not_grouped(copies):
    _, groups = copies
    grouped = {video.path for group in groups.values() for video in group.videos}
    assert not grouped & {"retake.mp4", "unrelated.mp4"}


def test_the_keeper_is_the_full_picture_original_over_a_longer_black_intro_letterboxed_copy(copies):
    db, groups = copies
    group = groups["full_picture.mp4"]
    assert [video.path for video in group.videos] == ["full_picture.mp4", "black_intro_letterboxed.mp4"]
    copy = group.videos[1]
    assert copy.duration > group.keeper.duration  # longer, by its black intro
    assert copy.offset == pytest.approx(-2.0, abs=0.3)
    assert "cropped or letterboxed" in copy.reason and "padded" in copy.reason
    rows = {row.path: row for row in Index(str(db)).store.duplicate_candidates()}
    assert rows["black_intro_letterboxed.mp4"].content_seconds == pytest.approx(5.0, abs=0.3)
    assert rows["black_intro_letterboxed.mp4"].picture_width == pytest.approx(180, abs=8)
    assert rows["full_picture.mp4"].picture_width == 320


def test_a_subclip_of_a_long_video_with_sparse_keyframes_is_found_at_its_offset(tmp_path):
    from vindex.demo import write_video

    # 75 s of five different scenes, a keyframe every 10 s at most: the sub-clip holds at most one.
    parts = [scene(look=6 + number, seed=10 + number, seconds=15.0, fps=10, size=(96, 72)) for number in range(5)]
    long = np.concatenate(parts)
    write_video(tmp_path / "videos" / "long.mp4", long, 10, keyframe_every=10.0)
    write_video(tmp_path / "videos" / "cut.mp4", long[374:434], 10, bit_rate=80_000)  # 6 s from 0:37.4
    db = tmp_path / "index"
    Index(str(db), precision="fp32").add(tmp_path / "videos", model=ModelSpec("vindex-tiny"))
    [group] = Index(str(db)).duplicates()
    assert [video.path for video in group.videos] == ["long.mp4", "cut.mp4"]
    offset = group.videos[1].offset
    assert offset == pytest.approx(37.4, abs=0.6) and group.videos[1].reason == f"contained at 0:{round(offset)}"


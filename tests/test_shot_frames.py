"""A long video's frames are picked during the steady pass that decodes it anyway (no seek), one
per shot and more in long shots, near the middle of each slice, within the policy's caps."""

import numpy as np
import pytest

from tests.test_moments import scenes_video
from vindex import frames
from vindex.sampling import FramePolicy
from vindex.shot_frames import nearest_each, slice_centres

SCENES = [8, 8, 16, 8, 8]


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("picked") / "long.mp4"
    return path, scenes_video(path, SCENES, [1, 2, 3, 4, 5])


def test_each_shot_gets_its_frames_from_the_pass_near_its_middle_without_a_seek(long_video, monkeypatch):
    path, bounds = long_video
    monkeypatch.setattr(frames, "_seek_each", lambda *a, **k: pytest.fail("a long video's frames were sought"))
    decoded = frames.read_frames(str(path), FramePolicy(), 32, sampling="shots")
    times = decoded.timestamps
    per_scene = [sum(start <= t < end for t in times) for start, end in bounds]
    assert per_scene == [1, 1, 2, 1, 1]  # the 16 s scene: one every 10 s
    for (start, end), count in zip(bounds, per_scene):
        centres = slice_centres(start, end, count)
        inside = [t for t in times if start <= t < end]
        assert all(abs(t - c) <= 0.25 * (end - start) / count for t, c in zip(inside, centres))
    assert decoded.images.shape == (6, 32, 32, 3) and len(decoded.phashes) == 6


def test_past_the_cap_extra_frames_go_first_then_the_shortest_shots(long_video):
    path, _ = long_video
    everything = frames.read_frames(str(path), FramePolicy(), 32, sampling="shots").timestamps
    capped = frames.read_frames(str(path), FramePolicy(per_minute=1, per_video=3), 32, sampling="shots").timestamps
    assert len(everything) == 6 and len(capped) == 3
    assert set(np.round(capped, 3)) <= set(np.round(everything, 3))  # the same pictures, fewer of them


def test_nearest_each_takes_a_different_candidate_for_each_target():
    candidates = [(0.0, "a"), (1.0, "b"), (2.0, "c")]
    assert nearest_each(candidates, [1.1, 1.2]) == [(1.0, "b"), (2.0, "c")]


def test_a_long_videos_frames_are_the_same_without_fingerprints(long_video, monkeypatch):
    path, _ = long_video
    monkeypatch.setattr(frames, "_seek_each", lambda *a, **k: pytest.fail("a long video's frames were sought"))
    with_them = frames.read_frames(str(path), FramePolicy(), 32, sampling="shots")
    without = frames.read_frames(str(path), FramePolicy(), 32, sampling="shots", fingerprints=False)
    assert without.timestamps == with_them.timestamps and len(without.fingerprints) == 0

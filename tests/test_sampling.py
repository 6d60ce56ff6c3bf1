"""Shot-aware sampling (`add --sampling shots`): cuts found, frames from the middle of the longest
shots, and the choice recorded in the index and held to on later adds."""

import json
from pathlib import Path

import av
import numpy as np
import pytest

from vindex import shots
from vindex.demo import PALETTES, PATTERNS, Theme, make_corpus, render, write_video
from vindex.frames import read_frames

from .conftest import TINY

FPS = 12
# Scene lengths in frames (at 12 fps: 3, 8, 2.5, 5, 2.5 and 6 s), each at least x264's shortest
# keyframe interval so every cut starts a keyframe.
SCENES = (36, 96, 30, 60, 30, 72)
CUTS = np.cumsum(SCENES)[:-1] / FPS  # 3.0, 11.0, 13.5, 18.5, 21.0


def multi_scene(path: Path, scenes=SCENES, codec: str = "libx264") -> Path:
    rng = np.random.default_rng(1)
    themes = [Theme(PATTERNS[i % len(PATTERNS)], PALETTES[(i * 3 + 1) % len(PALETTES)]) for i in range(len(scenes))]
    pictures = [render(theme, 96, 72, frames, rng) for theme, frames in zip(themes, scenes)]
    return write_video(path, np.concatenate(pictures), FPS, codec)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return multi_scene(tmp_path_factory.mktemp("shots") / "scenes.mp4")


def test_cuts_are_found_within_a_frame(video):
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        timed = [(float(frame.pts * stream.time_base), frame) for frame in container.decode(stream)]
    found = shots.find_shots(timed, 0.0, sum(SCENES) / FPS)
    assert len(found) == len(SCENES)
    assert np.allclose([start for start, _ in found[1:]], CUTS, atol=1.5 / FPS)


def test_frames_come_from_the_middle_of_the_longest_shots(video):
    taken = read_frames(str(video), 3, 32, sampling="shots").timestamps
    # The 8 s, 5 s and 6 s scenes, in time order: their middles.
    assert np.allclose(taken, [7.0, 16.0, 24.0], atol=1.5 / FPS)
    uniform = read_frames(str(video), 3, 32).timestamps
    assert not np.allclose(uniform, taken, atol=0.5)


def test_an_all_intra_file_is_cut_on_keyframes_half_a_second_apart(tmp_path):
    path = str(multi_scene(tmp_path / "scenes.avi", codec="mjpeg"))  # every frame is a keyframe
    taken = read_frames(path, 3, 32, sampling="shots").timestamps
    assert np.searchsorted(CUTS, taken, side="right").tolist() == [1, 3, 5]  # the 8 s, 5 s and 6 s scenes
    assert np.allclose(taken, [7.0, 16.0, 24.0], atol=shots.KEYFRAME_GAP)


def test_spare_frames_go_inside_the_longest_shots(video):
    assert shots.frames_per_shot([(0, 3), (3, 11), (11, 13.5), (13.5, 18.5), (18.5, 21), (21, 27)], 8) == [
        1, 2, 1, 1, 1, 2]
    taken = read_frames(str(video), 8, 32, sampling="shots").timestamps
    assert len(taken) == 8 and taken == sorted(taken)
    per_scene = np.bincount(np.searchsorted(CUTS, taken, side="right"), minlength=len(SCENES))
    assert per_scene.tolist() == [1, 2, 1, 1, 1, 2]
    assert np.allclose(taken[1:3], [5.0, 9.0], atol=1.5 / FPS)  # centres of two halves of 3-11 s


def test_a_single_shot_video_is_sampled_as_uniform(tmp_path):
    path = make_corpus(tmp_path, channels=1, videos_per_channel=1, size=(96, 72), seconds=(6, 6), fps=FPS)[0]
    uniform, by_shots = read_frames(str(path), 5, 32), read_frames(str(path), 5, 32, sampling="shots")
    assert by_shots.timestamps == uniform.timestamps
    assert np.array_equal(by_shots.images, uniform.images)


def test_sampling_is_recorded_shown_and_held_to(tmp_path, run):
    folder = tmp_path / "channels"
    multi_scene(folder / "a" / "scenes.mp4", SCENES[:3])
    run("add", folder, *TINY, "--sampling", "shots", "-q")
    facts = json.loads(run("info", "--json").stdout)
    assert facts["sampling"] == "shots"
    assert "sampling: shots" in run("info").stdout
    refused = run("add", folder, "--sampling", "uniform", expect=1)
    assert refused.stderr.count("\n") == 1 and "shots sampling" in refused.stderr and "--reembed" in refused.stderr
    assert "Traceback" not in refused.output
    run("add", folder, "-q")  # no --sampling: the index's
    run("add", folder, "--sampling", "uniform", "--reembed", "-q")
    assert json.loads(run("info", "--json").stdout)["sampling"] == "uniform"


def test_the_library_records_sampling_in_the_meta(tmp_path):
    from vindex import Index
    from vindex.embedding import ModelSpec

    folder = tmp_path / "channels"
    multi_scene(folder / "a" / "scenes.mp4", SCENES[:2])
    index = Index(str(tmp_path / "db"))
    index.add(folder, model=ModelSpec("vindex-tiny"), sampling="uniform")
    assert index.meta.sampling == "uniform" and index.info().sampling == "uniform"


def test_add_help_explains_sampling(run):
    text = " ".join(run("add", "--help").stdout.split())
    assert "--sampling [uniform|shots]" in text and "longest shots" in text and "evenly spaced" in text


@pytest.mark.parametrize("scenes", [SCENES, SCENES + (60,)], ids=["sequential", "past 30 s"])
def test_both_samplings_fill_the_same_fingerprints(tmp_path, scenes):
    path = str(multi_scene(tmp_path / "scenes.mp4", scenes))
    uniform, by_shots = read_frames(path, 3, 32), read_frames(path, 3, 32, sampling="shots")
    assert len(by_shots.phashes) == len(by_shots.blanks) == len(by_shots.images) == 3
    # Up to 30 s, which frames a pass decodes (and so samples) depends on where its targets are.
    assert len(by_shots.fingerprints) == len(uniform.fingerprints) > 2
    assert np.allclose(by_shots.fingerprint_times, uniform.fingerprint_times, atol=0.5)
    if len(scenes) > len(SCENES):  # past 30 s both sample the keyframes
        assert np.array_equal(by_shots.fingerprints, uniform.fingerprints)


def test_the_ray_decode_stage_samples_by_shots(video):
    from vindex.indexing.ray_runner import decode_videos

    rows = decode_videos({"job": np.array([0]), "path": np.array([str(video)])}, 3, 32, sampling="shots")
    assert np.allclose(rows["timestamp"], read_frames(str(video), 3, 32, sampling="shots").timestamps)

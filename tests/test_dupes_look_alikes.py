"""Near mode never groups different videos that merely share a look: a fine repeating pattern
(stripes, rings) shows the same pictures in every video of it, and its hash says little of it."""

import json

import numpy as np

from tests.conftest import TINY
from vindex.demo import make_corpus, render, theme_for
from vindex.fingerprints import hash_pictures


def grey(pictures: np.ndarray) -> np.ndarray:
    return pictures.astype(np.float32).mean(axis=3).astype(np.uint8)


def test_a_fine_repeating_pattern_has_a_weak_hash_and_a_scene_a_strong_one():
    rng = np.random.default_rng(0)
    for channel in (0, 2):  # stripes, rings
        pattern = grey(render(theme_for(channel), 64, 64, 12, rng))
        assert hash_pictures(pattern).weak.mean() > 0.5, theme_for(channel).pattern
    scene = rng.integers(0, 256, (6, 8), np.uint8).repeat(8, axis=0).repeat(8, axis=1)
    smooth = np.stack([np.roll(scene, shift, axis=1) for shift in range(0, 12, 2)])
    assert not hash_pictures(smooth).weak.any()


def test_distinct_videos_of_one_repeating_pattern_are_not_grouped(tmp_path, run):
    root, db = tmp_path / "videos", tmp_path / "index"
    make_corpus(root, channels=3, videos_per_channel=8, seed=3, size=(128, 96), seconds=(2.0, 4.0), fps=12)
    run("add", root, "--db", db, *TINY, "-q")
    report = json.loads(run("dupes", "--db", db, "--channel", "00_stripes", "--channel", "02_rings", "--json").stdout)
    assert report["compared"] == 16
    assert report["groups"] == []

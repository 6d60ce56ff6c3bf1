"""A picture or clip query's moment is where its own picture shows in the video: the fingerprint
nearest one of its frames inside a matching segment, not only the best-scoring CLIP frame."""

import json

import av
import numpy as np
from PIL import Image

from tests.conftest import TINY
from tests.test_moments import scenes_video
from vindex.moment_pictures import PICTURE_BITS, picture_time
from vindex.segments import Moment
from vindex.store import Store


def test_the_querys_own_picture_inside_a_matching_moment_wins_over_a_better_clip_score():
    moments = [Moment(0.0, 10.0, 5.0, 0.99), Moment(20.0, 30.0, 25.0, 0.98)]
    hashes = np.array([0b1111, 0xFFFF_0000_FFFF_0000, 0xFFFF_0000_FFFF_0001], np.uint64)
    times = np.array([5.0, 24.0, 40.0])  # the last lies in no matching moment
    query = np.array([0xFFFF_0000_FFFF_0003], np.uint64)  # one bit from the picture at 24 s
    assert picture_time(moments, query, hashes, times) == 24.0
    far = np.array([0x0F0F_0F0F_0F0F_0F0F], np.uint64)  # no fingerprint within PICTURE_BITS
    assert min(bin(int(far[0]) ^ int(h)).count("1") for h in hashes) > PICTURE_BITS
    assert picture_time(moments, far, hashes, times) is None


def test_a_still_of_a_scene_gets_the_moment_of_its_own_picture(tmp_path, run, isolated_index):
    root = tmp_path / "videos"
    bounds = scenes_video(root / "long.mp4", [8, 8, 16, 8, 8], [1, 2, 3, 4, 5])
    run("add", root, *TINY, "-q")
    still = tmp_path / "photo.png"
    with av.open(str(root / "long.mp4")) as container:  # the picture on screen at 33.2 s, re-saved smaller
        frame = next(f for f in container.decode(video=0) if f.time >= 33.2)
    Image.fromarray(frame.to_ndarray(format="rgb24")).resize((48, 36)).save(still)
    hit = json.loads(run("similar", still, "--json").stdout)["hits"][0]
    row = Store(str(isolated_index)).catalog(["fingerprint_times"]).to_pylist()[0]
    assert any(abs(hit["timestamp"] - time) < 1e-6 for time in row["fingerprint_times"])  # a picture's time
    start, end = bounds[3]
    assert start <= hit["timestamp"] < end and hit["start"] <= hit["timestamp"] <= hit["end"]
    assert abs(hit["timestamp"] - 33.2) < 1.0  # the stored CLIP frame of that scene lies near its middle, 36 s

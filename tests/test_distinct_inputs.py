"""Every distinct model input is embedded once: bit-identical frames share one forward pass, and
their vectors are the ones a forward pass of their own gives."""

import json

import numpy as np

from tests.conftest import TINY
from vindex.demo import write_video
from vindex.embedding import ModelSpec, open_embedder
from vindex.indexing.distinct import DistinctInputs


def test_identical_frames_are_embedded_once_with_the_same_vectors():
    model = open_embedder(ModelSpec("vindex-tiny"), "cpu", "fp32", "openvino")
    rng = np.random.default_rng(0)
    picture, other = rng.integers(0, 256, (2, 64, 64, 3), np.uint8)
    images = np.stack([picture, other, picture, picture])
    embedded: list[int] = []
    distinct = DistinctInputs(lambda batch: (embedded.append(len(batch)), model.embed_images(batch))[1], lambda: 0)
    vectors, digests = distinct(images)
    again, _ = distinct(images[:1])  # a later batch meets a frame it has seen
    assert embedded == [2] and distinct.reused == 3
    assert np.allclose(vectors, model.embed_images(images), atol=1e-6)
    assert np.array_equal(again[0], vectors[0])
    assert digests[0] == digests[2] == digests[3] != digests[1]


def test_remembered_vectors_stay_within_the_limit():
    distinct = DistinctInputs(lambda batch: batch.reshape(len(batch), -1)[:, :4].astype(np.float32), lambda: 0,
                              limit=2)
    distinct(np.arange(4 * 2 * 2 * 3, dtype=np.uint8).reshape(4, 2, 2, 3))
    assert len(distinct.vectors) == 2


def test_add_reports_the_frames_a_static_video_reused(tmp_path, run):
    folder = tmp_path / "videos"
    still = np.full((48, 96, 128, 3), 90, np.uint8)  # 2 s of one grey picture: every frame the same
    write_video(folder / "still.mp4", still, 24)
    summary = json.loads(run("add", folder, *TINY, "--db", tmp_path / "db", "--frames", "5", "--json").stdout)
    assert summary["frames"] == 5 and summary["frames_reused"] == 4

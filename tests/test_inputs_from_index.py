"""A frame bit-identical (at the model's size) to one the index already holds takes the stored
vector instead of a forward pass: each frame row keeps its model-input digest, made for one model."""

import json
import subprocess

import numpy as np
import pytest

from vindex import schema
from vindex.demo import write_video
from vindex.embedding import ModelSpec
from vindex.embedding.spec import image_size_of
from vindex.frames import read_frames
from vindex.index import Index
from vindex.indexing.distinct import DistinctInputs, model_seed
from vindex.store import Store

TINY = ModelSpec("vindex-tiny")


@pytest.fixture
def moving(tmp_path):
    """A folder with one video of 3 s whose every frame differs."""
    pictures = np.random.default_rng(3).integers(0, 256, (30, 72, 96, 3), np.uint8)
    return write_video(tmp_path / "videos" / "noise.mp4", pictures, 10)


def remux(source, target) -> None:
    """The same picture stream in a file of other bytes (another title): a new content hash."""
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(source), "-c", "copy", "-metadata", "title=copy",
                    str(target)], check=True)


def counting_forward_passes(index: Index, monkeypatch) -> list[int]:
    """The frames each forward pass of the index's loaded model takes, from now on."""
    calls: list[int] = []
    for embedder in index._embedders.values():
        embed = embedder.embed_images
        monkeypatch.setattr(embedder, "embed_images", lambda images, embed=embed: (calls.append(len(images)),
                                                                                    embed(images))[1])
    return calls


def frame_rows(store: Store, path: str) -> dict:
    video = store.video_at(path)
    return store.frames_by_video([video.id]).sort_by("frame_index").to_pydict()


def test_a_remuxed_copy_added_later_is_embedded_without_a_forward_pass_and_gets_the_same_vectors(
        moving, tmp_path, monkeypatch):
    db = tmp_path / "index.vindex"
    index = Index(str(db))
    first = index.add(moving.parent, model=TINY, frames=5, sampling="uniform")
    assert first.frames == 5 and first.frames_from_index == 0
    remux(moving, moving.parent / "copy.mp4")
    calls = counting_forward_passes(index, monkeypatch)

    summary = index.add(moving.parent, model=TINY)
    assert summary.embedded == 1 and summary.frames == 5
    assert summary.frames_reused == summary.frames_from_index == 5 and calls == []
    store = Store(str(db))
    original, copy = frame_rows(store, "noise.mp4"), frame_rows(store, "copy.mp4")
    assert copy["input_digest"] == original["input_digest"] and None not in copy["input_digest"]
    assert np.array_equal(np.array(copy["vector"]), np.array(original["vector"]))


def test_the_add_summary_line_says_which_frames_were_reused_from_the_index(moving, tmp_path, run):
    db = tmp_path / "index.vindex"
    run("add", moving.parent, "--db", db, "--model", "vindex-tiny", "-q")
    remux(moving, moving.parent / "copy.mp4")
    line = run("add", moving.parent, "--db", db, "-q").stdout.splitlines()[0]
    assert line.endswith("(1 video, 5 frames embedded, 5 reused from the index)"), line


def test_the_stored_vectors_serve_only_the_model_that_made_them(moving, tmp_path):
    db = tmp_path / "index.vindex"
    Index(str(db)).add(moving.parent, model=TINY, frames=5, sampling="uniform")
    store = Store(str(db))
    images = read_frames(str(moving), 5, image_size_of(TINY), sampling="uniform").images
    embedded: list[int] = []

    def embed(batch: np.ndarray) -> np.ndarray:
        embedded.append(len(batch))
        return np.ones((len(batch), store.meta.dim), np.float32)

    same = DistinctInputs(embed, lambda: model_seed(store.meta.model, store.meta.weights), store.vectors_of_inputs)
    vectors, _ = same(images)
    assert same.from_index == 5 and embedded == []
    assert np.array_equal(vectors, np.array(frame_rows(store, "noise.mp4")["vector"], np.float32))

    other = DistinctInputs(embed, lambda: model_seed("ViT-B-32", "openai"), store.vectors_of_inputs)
    other(images)
    assert other.from_index == 0 and embedded == [5]


def test_a_version_5_index_gets_an_empty_digest_column_and_its_frames_are_embedded_again(
        moving, tmp_path, run):
    db = tmp_path / "index.vindex"
    Index(str(db)).add(moving.parent, model=TINY, frames=5, sampling="uniform")
    old = Store(str(db))
    frames = old.frames.count_rows()
    old.frames.drop_columns([field.name for field in schema.FRAME_COLUMNS_V6])
    old.set_meta(schema_version=5)

    migrated = Store(str(db))
    assert migrated.migrated == list(range(5, schema.SCHEMA_VERSION)) and migrated.meta.schema_version == schema.SCHEMA_VERSION
    digests = migrated.frames.to_arrow().column("input_digest")
    assert len(digests) == frames and digests.null_count == frames

    remux(moving, moving.parent / "copy.mp4")
    summary = json.loads(run("add", moving.parent, "--db", db, "--json").stdout)
    assert summary["embedded"] == 1 and summary["frames_from_index"] == 0 and summary["frames_reused"] == 0
    assert None not in frame_rows(Store(str(db)), "copy.mp4")["input_digest"]

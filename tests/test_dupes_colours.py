"""Near mode groups copies, not look-alikes: frames match only in the same colours (a colour
signature per fingerprint), and a copy lies within what it copies (two cuts of one clip that only
partly overlap are not copies). The index's colour signatures arrive by migration without
re-embedding."""

import json

import numpy as np
import pytest

from tests.fingerprint_migration import assert_fingerprints_refilled_without_reembedding
from vindex import schema
from vindex.demo import render_scene, write_video
from vindex.fingerprints import colour_apart, hash_pictures

FPS = 10
MOTION = FPS / 4  # scenes move four times faster than render_scene's own pace: a copy's offset is sharp
# A tint with no luma (BT.601 weights): the same grey pictures in other colours.
TINT = np.array([20.0, -20.0, 52.5], np.float32)


def tinted(pictures: np.ndarray) -> np.ndarray:
    return np.clip(pictures.astype(np.float32) + TINT, 0, 255).astype(np.uint8)


def softened(pictures: np.ndarray) -> np.ndarray:
    """Levels 64-191, so that the tint is never clipped and the grey levels stay the same."""
    return (64 + pictures.astype(np.float32) / 2).astype(np.uint8)


def luma(pictures: np.ndarray) -> np.ndarray:
    return (pictures.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).round().astype(np.uint8)


def chroma_planes(pictures: np.ndarray) -> np.ndarray:
    """(n, 2, h, w) U and V planes (BT.601) of RGB pictures, as a decoder gives them."""
    rgb = pictures.astype(np.float32)
    u = 128 + rgb @ np.array([-0.169, -0.331, 0.5], np.float32)
    v = 128 + rgb @ np.array([0.5, -0.419, -0.081], np.float32)
    return np.clip(np.stack([u, v], axis=1), 0, 255).astype(np.uint8)


def test_pictures_alike_in_grey_hash_alike_and_differ_in_their_colour_signature():
    scene = softened(render_scene(7, 64, 64, 4, MOTION, np.random.default_rng(0)))
    assert np.abs(luma(scene).astype(int) - luma(tinted(scene))).max() <= 1  # the tint keeps the grey levels
    plain, tint = (hash_pictures(luma(scene), chroma_planes(p)) for p in (scene, tinted(scene)))
    assert np.array_equal(plain.hashes, tint.hashes)
    grey_apart, chroma_apart = colour_apart(plain.colours, tint.colours)
    assert (grey_apart == 0).all() and (chroma_apart >= 10).all()
    same_grey, same_chroma = colour_apart(plain.colours, hash_pictures(luma(scene), chroma_planes(scene)).colours)
    assert (same_grey == 0).all() and (same_chroma == 0).all()


@pytest.fixture(scope="module")
def look_alikes(tmp_path_factory):
    """(root, index) of: a scene, its re-encode at a low bit rate (a copy) and a tinted version (same grey
    pictures, other colours); two 8 s cuts of one 10 s clip 2 s apart and a 4 s sub-clip of both."""
    from vindex import Index, ModelSpec

    base = tmp_path_factory.mktemp("colours")
    root = base / "videos"
    rng = np.random.default_rng(5)
    scene = softened(render_scene(11, 160, 120, 6 * FPS, MOTION, rng))
    write_video(root / "scene.mp4", scene, FPS)
    write_video(root / "scene_reencoded.mp4", scene, FPS, bit_rate=60_000)
    write_video(root / "scene_tinted.mp4", tinted(scene), FPS)
    clip = render_scene(12, 160, 120, 10 * FPS, MOTION, rng)
    write_video(root / "cut_first.mp4", clip[: 8 * FPS], FPS)
    write_video(root / "cut_later.mp4", clip[2 * FPS :], FPS)
    write_video(root / "cut_middle.mp4", clip[3 * FPS : 7 * FPS], FPS)
    db = base / "index"
    Index(str(db), precision="fp32").add(root, model=ModelSpec("vindex-tiny"))
    return root, db


def groups_of(run, db) -> list[set[str]]:
    report = json.loads(run("dupes", "--db", db, "--json").stdout)
    return [{video["path"] for video in group["videos"]} for group in report["groups"]]


def test_the_same_grey_pictures_in_other_colours_are_not_a_copy(look_alikes, run):
    _, db = look_alikes
    [scene] = [group for group in groups_of(run, db) if "scene.mp4" in group]
    assert scene == {"scene.mp4", "scene_reencoded.mp4"}  # the re-encode is, the tinted version is not


def test_cuts_that_partly_overlap_are_not_copies_but_a_contained_sub_clip_is(look_alikes, run):
    _, db = look_alikes
    cuts = [group for group in groups_of(run, db) if group & {"cut_first.mp4", "cut_later.mp4", "cut_middle.mp4"}]
    assert not any({"cut_first.mp4", "cut_later.mp4"} <= group for group in cuts)  # 6 s of 8 shared
    assert any("cut_middle.mp4" in group and len(group) == 2 for group in cuts)  # inside both: grouped with one


def test_a_version_6_index_gets_colour_signatures_without_reembedding(indexed_copy, corpus_template, run):
    """Version 6 had grey fingerprints only: the migration adds the column and drops them; the next
    add decodes them again with their colour signatures, vectors untouched."""
    assert_fingerprints_refilled_without_reembedding(indexed_copy, corpus_template, run, schema.VIDEO_COLUMNS_V7, 6,
                                                     "fingerprint_colours", 1)


def test_full_range_mjpeg_chroma_reads_as_the_limited_range_original(tmp_path):
    import av

    from vindex.sample_pictures import chroma_planes

    orange = np.zeros((3, 64, 64, 3), np.uint8) + np.array([240, 120, 20], np.uint8)
    means = []
    for name, codec in (("limited.mp4", "libx264"), ("full.avi", "mjpeg")):
        path = write_video(tmp_path / name, orange, FPS, codec)
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
        means.append(chroma_planes(frame).astype(np.float32).mean(axis=(1, 2)) - 128)
    assert np.abs(means[0]).max() >= 40  # a strong colour, where the ranges differ by 14 %
    assert np.abs(means[0] - means[1]).max() <= 2


def test_containment_needs_the_same_colours_on_average_and_any_without_signatures():
    from vindex.duplicates.fingerprint_match import Fingerprints, containment

    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 1 << 63, 30, dtype=np.int64).view(np.uint64)
    times = np.arange(30) * 0.2
    signatures = rng.integers(-60, 60, (30, 8), dtype=np.int64).astype(np.int8)
    grey_shift, chroma_shift = signatures.copy(), signatures.copy()
    grey_shift[:, :4] += 30  # a brighter picture, the same colours
    chroma_shift[:, 4:] += 6  # the same grey levels, other colours
    as_colours = lambda cells: np.ascontiguousarray(cells).view(np.uint64).ravel()  # noqa: E731
    original = Fingerprints(hashes, times, as_colours(signatures))
    assert containment(Fingerprints(hashes, times, as_colours(signatures)), original).share == 1.0
    assert containment(Fingerprints(hashes, times, as_colours(grey_shift)), original).share == 0.0
    assert containment(Fingerprints(hashes, times, as_colours(chroma_shift)), original).share == 0.0
    assert containment(Fingerprints(hashes, times), original).share == 1.0  # no signatures: any colour agrees


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_one_pass_gives_the_grey_square_and_chroma_of_two_passes(tmp_path, codec):
    """The sampler's one swscale pass (`grey_and_chroma`) keeps every stored grey square as it was, and
    the chroma within two levels, unbiased; a BT.709 frame, whose grey square one pass would change, takes two."""
    import av

    from vindex.sample_pictures import chroma_planes as decoded_chroma
    from vindex.sample_pictures import grey_and_chroma, grey_square

    pictures = render_scene(4, 160, 96, 12, FPS, np.random.default_rng(2))
    with av.open(str(write_video(tmp_path / "scene.mp4", pictures, FPS, codec))) as container:
        frames = list(container.decode(video=0))
    chroma_apart = []
    for frame in frames:
        grey, chroma = grey_and_chroma(frame)
        assert np.array_equal(grey, grey_square(frame))
        chroma_apart.append(chroma.astype(np.int16) - decoded_chroma(frame))
        frame.colorspace = 1  # BT.709
        assert np.array_equal(grey_and_chroma(frame)[1], decoded_chroma(frame))
    apart = np.stack(chroma_apart)
    assert np.abs(apart).max() <= 2
    assert abs(float(apart.mean())) <= 0.2
    assert np.any(apart)  # the one pass ran: two passes give the same chroma exactly

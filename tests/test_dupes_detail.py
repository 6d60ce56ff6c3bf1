"""Near mode groups copies, not pictures alike in their low frequencies only: checkerboards of other
checker sizes hash alike in 64 bits, and a finer hash per fingerprint (256 bits) tells them apart,
while a re-encoded, scaled-down copy still matches. The index's finer hashes arrive by migration
without re-embedding."""

import json

import numpy as np
import pytest

from tests.fingerprint_migration import assert_fingerprints_refilled_without_reembedding
from vindex import schema
from vindex.demo import write_video
from vindex.fingerprints import FINE_WORDS, fine_distance, hash_pictures

FPS = 12


def checkerboard(scale: float, width: int = 320, height: int = 240, seconds: float = 5.0) -> np.ndarray:
    """A drifting two-colour checkerboard, as the demo corpus draws it, of 8 x 6 cells at scale 1."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x, y = x / width, y / height
    low, high = np.array([40, 60, 160], np.float32), np.array([230, 200, 60], np.float32)
    pictures = []
    for index in range(int(seconds * FPS)):
        drift = 0.05 * index / 8
        mix = (np.sin(2 * np.pi * 4 * scale * (x + drift)) * np.sin(2 * np.pi * 3 * scale * y) > 0)[..., None]
        pictures.append(np.clip(low * (1 - mix) + high * mix, 0, 255).astype(np.uint8))
    return np.stack(pictures)


def shrunk(pictures: np.ndarray) -> np.ndarray:
    """Half the width and height (2x2 means)."""
    count, height, width, channels = pictures.shape
    halves = pictures.reshape(count, height // 2, 2, width // 2, 2, channels).astype(np.float32)
    return halves.mean(axis=(2, 4)).round().astype(np.uint8)


def test_finer_hashes_are_256_bits_per_picture_and_mostly_survive_a_slight_noise():
    board = checkerboard(0.9, seconds=1)[:, ::4, ::5].mean(axis=3)  # 64 x 64 grey squares
    noisy = board + np.random.default_rng(0).normal(0, 3, board.shape)
    hashed, again = (hash_pictures(np.clip(p, 0, 255).astype(np.uint8)) for p in (board, noisy))
    assert hashed.fine.shape == (FPS, FINE_WORDS) and hashed.fine.dtype == np.uint64
    assert fine_distance(hashed.fine, again.fine).mean() <= 32  # of 256 bits
    assert (fine_distance(hashed.fine[:1], hashed.fine[FPS // 2 :]) >= 16).all()  # the board drifts


@pytest.fixture(scope="module")
def checkerboards(tmp_path_factory):
    """(root, index) of: a checkerboard, its copy scaled down and re-encoded at a low bit rate, and a
    shorter checkerboard of cells 18 % smaller (its 64-bit hashes match the first as a copy's do)."""
    from vindex import Index, ModelSpec

    base = tmp_path_factory.mktemp("detail")
    root = base / "videos"
    board = checkerboard(0.9)
    write_video(root / "board.mp4", board, FPS)
    write_video(root / "board_small.mp4", shrunk(board), FPS, bit_rate=60_000)
    write_video(root / "board_smaller_cells.mp4", checkerboard(1.1, seconds=3), FPS)  # the shorter: the one compared
    db = base / "index"
    Index(str(db), precision="fp32").add(root, model=ModelSpec("vindex-tiny"))
    return root, db


def test_checkerboards_of_other_cell_sizes_are_not_copies_but_a_scaled_re_encode_is(checkerboards, run):
    _, db = checkerboards
    report = json.loads(run("dupes", "--db", db, "--json").stdout)
    groups = [{video["path"] for video in group["videos"]} for group in report["groups"]]
    assert groups == [{"board.mp4", "board_small.mp4"}]


def test_containment_needs_finer_hashes_alike_beyond_their_hash_distance_and_any_without_them():
    from vindex.duplicates.fingerprint_match import Fingerprints, containment

    rng = np.random.default_rng(4)
    hashes = rng.integers(0, 1 << 63, 30, dtype=np.int64).view(np.uint64)
    times = np.arange(30) * 0.2
    fine = rng.integers(0, 1 << 63, (30, FINE_WORDS), dtype=np.int64).view(np.uint64)
    other_detail = fine ^ np.uint64((1 << 48) - 1)  # 48 of 256 bits flipped, the 64-bit hashes unchanged
    original = Fingerprints(hashes, times, None, fine)
    assert containment(Fingerprints(hashes, times, None, fine), original).share == 1.0
    assert containment(Fingerprints(hashes, times, None, other_detail), original).share == 0.0
    assert containment(Fingerprints(hashes, times), original).share == 1.0  # no finer hashes: the hashes decide


def test_a_version_7_index_gets_finer_hashes_without_reembedding(indexed_copy, corpus_template, run):
    """Version 7 had no finer hashes: the migration adds the column and drops the fingerprints; the
    next add decodes them again with their finer hashes, vectors untouched."""
    assert_fingerprints_refilled_without_reembedding(indexed_copy, corpus_template, run, schema.VIDEO_COLUMNS_V8, 7,
                                                     "fingerprint_fine", FINE_WORDS)

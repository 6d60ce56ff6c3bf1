"""Bars are cropped alike in a video and its boxed copy: only near-black borders that stay so
around each sample are bars, so an original's own flat border (a window's background, a sky) and
its dark pictures beside an added bar leave the original and its letterboxed or pillarboxed copy
with the same picture."""

import numpy as np
from PIL import Image

from vindex.fingerprints import distance, hash_pictures


def framed_footage(count: int = 20, seed: int = 3) -> np.ndarray:
    """Grey pictures (48 x 64) of a moving texture inside a flat grey border (a window on a desktop),
    with two pictures black below their top few rows (a dark scene beside the bottom edge)."""
    rng = np.random.default_rng(seed)
    pictures = np.full((count, 48, 64), 120, np.uint8)
    for index in range(count):
        texture = Image.fromarray(rng.integers(0, 256, (4, 5), np.uint8)).resize((48, 32), Image.BICUBIC)
        pictures[index, 8:40, 8:56] = np.asarray(texture)
    pictures[5, 12:] = 0
    pictures[12, 10:] = 0
    return pictures


def boxed(pictures: np.ndarray, rows: int = 0, columns: int = 0) -> np.ndarray:
    out = np.zeros((len(pictures), pictures.shape[1] + 2 * rows, pictures.shape[2] + 2 * columns), np.uint8)
    out[:, rows : rows + pictures.shape[1], columns : columns + pictures.shape[2]] = pictures
    return out


def test_a_boxed_copy_crops_to_its_originals_picture():
    original = framed_footage()
    times = np.arange(len(original)) * 0.2
    hashed = hash_pictures(original, times=times)
    assert hashed.width_share.min() == hashed.height_share.min() == 1.0  # its grey border is picture
    for copy, rows, columns in ((boxed(original, rows=12), 12, 0), (boxed(original, columns=16), 0, 16)):
        copied = hash_pictures(copy, times=times)
        assert distance(hashed.hashes, copied.hashes).max() <= 2
        assert np.allclose(copied.height_share * copy.shape[1], original.shape[1])
        assert np.allclose(copied.width_share * copy.shape[2], original.shape[2])


def test_a_title_card_before_boxed_footage_leaves_its_bars_to_the_footage():
    footage = boxed(framed_footage(), rows=12)
    card = np.asarray(Image.fromarray(np.random.default_rng(9).integers(0, 256, (3, 4), np.uint8)).resize(
        (footage.shape[2], footage.shape[1]), Image.BICUBIC))  # a title card, bright to its edges
    titled = np.concatenate([np.repeat(card[None], 15, axis=0), footage])
    alone = hash_pictures(footage, times=np.arange(len(footage)) * 0.2)
    after_card = hash_pictures(titled, times=np.arange(len(titled)) * 0.2)
    assert distance(alone.hashes, after_card.hashes[15:]).max() <= 2
    assert after_card.height_share[:15].min() == 1.0 and np.allclose(after_card.height_share[15:], 48 / 72)

"""Fast footage is sampled at other instants in a copy than in its original: a copy's samples fall
between the original's, where the picture is halfway from one to the next, and match looser
(`fingerprint_match.FAST_MAX_DISTANCE`); slower footage keeps the strict match."""

import numpy as np

from tests.test_dupes import random_hashes
from vindex.duplicates.fingerprint_match import (FAST_MAX_DISTANCE, FAST_MOTION_BITS, MAX_DISTANCE, Fingerprints,
                                                 containment, motion_bits)


def walk(rng: np.random.Generator, count: int, bits: int) -> np.ndarray:
    """Hashes of footage that moves `bits` bits between samples: each flips that many of the last's."""
    hashes = [random_hashes(rng, 1)[0]]
    for _ in range(count - 1):
        flips = np.uint64(1) << rng.choice(64, bits, replace=False).astype(np.uint64)
        hashes.append(hashes[-1] ^ np.bitwise_or.reduce(flips))
    return np.array(hashes, np.uint64)


def between(rng: np.random.Generator, hashes: np.ndarray, noise: int) -> np.ndarray:
    """The pictures halfway from each sample to the next (half the bits that change between them
    flipped), re-encoded (`noise` more bits)."""
    halfway = []
    for before, after in zip(hashes[:-1], hashes[1:]):
        changing = [bit for bit in range(64) if (int(before ^ after) >> bit) & 1]
        moved = before ^ np.uint64(sum(1 << bit for bit in rng.choice(changing, len(changing) // 2, replace=False)))
        untouched = [bit for bit in range(64) if bit not in changing]
        halfway.append(moved ^ np.uint64(sum(1 << bit for bit in rng.choice(untouched, noise, replace=False))))
    return np.array(halfway, np.uint64)


def test_a_copy_of_fast_footage_sampled_between_the_originals_samples_is_found():
    rng = np.random.default_rng(21)
    original = Fingerprints(walk(rng, 40, 26), np.arange(40) * 0.2)  # 8 s moving 26 bits every 0.2 s
    copy = Fingerprints(between(rng, original.hashes[5:36], 3), np.arange(30) * 0.2)  # trimmed by 1.1 s
    distances = np.bitwise_count(copy.hashes[:, None] ^ original.hashes[None, :]).min(axis=1)
    assert np.median(distances) > MAX_DISTANCE  # no sample of the original shows the copy's pictures
    assert motion_bits(copy) >= FAST_MOTION_BITS
    found = containment(copy, original)
    assert found.share >= 0.9 and abs(found.offset - 1.1) <= 0.2


def test_slower_footage_keeps_the_strict_match():
    rng = np.random.default_rng(22)
    original = Fingerprints(walk(rng, 40, 12), np.arange(40) * 0.2)  # 12 bits every 0.2 s
    # Other footage that lies as far from it as a fast copy's samples do, all along.
    apart = np.uint64(sum(1 << int(bit) for bit in rng.choice(64, FAST_MAX_DISTANCE - 1, replace=False)))
    other = Fingerprints(original.hashes[5:35] ^ apart, np.arange(30) * 0.2)
    assert motion_bits(other) < FAST_MOTION_BITS
    assert containment(other, original).share == 0.0

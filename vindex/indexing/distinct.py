"""Every distinct model input embedded once: frames whose pixels at the model's size are
bit-identical (black and title frames, static screens, frames shared by copies, remuxed or re-tagged
files) reuse one forward pass, within a run and from the index.

The key is the xxh3-128 of the frame as the model takes it in (uint8 RGB at the model's size,
after the resize and crop), seeded with the model's identity (name and weights): the towers are
deterministic functions of those bytes, so a reused vector is the vector a forward pass gave, and a
digest made for one model never matches a frame of another. Each frame row keeps its digest
(`input_digest`, schema version 6); a frame whose digest the index already holds takes that
row's vector.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import xxhash

# Vectors remembered per run: 50,000 × 512 float32 is 100 MiB; the oldest go first.
REMEMBERED_INPUTS = 50_000

# digests → the vectors the index holds for those of them it has (`Store.vectors_of_inputs`).
StoredLookup = Callable[[list[str]], dict[str, np.ndarray]]


def model_seed(name: str | None, weights: str | None) -> int:
    """The digest seed of one model: its name and weights, as the index records them."""
    return xxhash.xxh3_64_intdigest(f"{name}\0{weights}".encode())


def input_digests(images: np.ndarray, seed: int) -> list[str]:
    """The hex digest of each (size, size, 3) uint8 frame, as one model (`model_seed`) takes it in."""
    return [xxhash.xxh3_128_hexdigest(np.ascontiguousarray(image).data, seed) for image in images]


class DistinctInputs:
    """Embeds only the frames neither this run nor the index has seen; counts the ones it reused.

    `seed` (`model_seed`) is asked for at the first batch, when the model is known; `stored`, when
    given, is asked once per batch for the digests this run has not met yet.
    """

    def __init__(self, embed: Callable[[np.ndarray], np.ndarray], seed: Callable[[], int],
                 stored: StoredLookup | None = None, limit: int = REMEMBERED_INPUTS):
        self.embed = embed
        self.seed = seed
        self.stored = stored
        self.limit = limit
        self.vectors: dict[str, np.ndarray] = {}
        self.reused = 0  # frames that had no forward pass of their own
        self.from_index = 0  # of those, the ones whose vector the index held before the batch
        self._seed: int | None = None

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(n, size, size, 3) uint8 frames → their (n, dim) vectors and input digests, one forward
        pass per frame neither remembered nor in the index."""
        if self._seed is None:
            self._seed = self.seed()
        keys = input_digests(images, self._seed)
        unseen = [key for key in dict.fromkeys(keys) if key not in self.vectors]
        found = self.stored(unseen) if self.stored and unseen else {}
        self.from_index += sum(key in found for key in keys)
        self.vectors.update(found)
        new: dict[str, int] = {}
        for position, key in enumerate(keys):
            if key not in self.vectors and key not in new:
                new[key] = position
        if new:
            vectors = self.embed(images[list(new.values())])
            for key, vector in zip(new, vectors):
                self.vectors[key] = vector
        self.reused += len(keys) - len(new)
        result = np.stack([self.vectors[key] for key in keys])
        while len(self.vectors) > self.limit:
            del self.vectors[next(iter(self.vectors))]
        return result, keys

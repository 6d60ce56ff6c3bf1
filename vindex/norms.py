"""Unit-length rows: CLIP vectors are compared by dot product, so every stage that normalises
vectors (the embedders, clustering with the cosine metric, assignment) does it this one way."""

from __future__ import annotations

import numpy as np

# Below this length a row is treated as zero instead of divided by (almost) nothing.
MIN_NORM = 1e-12


def unit_rows(vectors) -> np.ndarray:
    """Each row of `vectors` (an (n, dim) array-like) scaled to length 1, as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), MIN_NORM)

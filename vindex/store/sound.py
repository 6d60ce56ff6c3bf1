"""Which stored vectors can be trusted: finite and of unit length, as every model's output is
normalised. A damaged data file can hold others (NaN, inf, any length) that still read: `vindex
check` reports them and searches pass them over."""

from __future__ import annotations

import numpy as np

# float32 vectors normalised by the model come back within 1e-5 of unit length; bf16 and int8
# backends within 1e-3. Anything further off was not written by vindex.
UNIT_TOLERANCE = 1e-2


def sound_rows(vectors: np.ndarray) -> np.ndarray:
    """A mask of the rows of `vectors` ((n, dim)) that are finite and of unit length."""
    if not len(vectors):
        return np.zeros(0, bool)
    finite = np.isfinite(vectors).all(axis=1)
    with np.errstate(all="ignore"):
        lengths = np.linalg.norm(np.where(finite[:, None], vectors, 0), axis=1)
    return finite & (np.abs(lengths - 1.0) <= UNIT_TOLERANCE)


def sound_score(score: float) -> bool:
    """A cosine a sound pair of vectors can have (a NaN or a 2.9 says a vector is damaged)."""
    return bool(np.isfinite(score)) and abs(score) <= 1.0 + UNIT_TOLERANCE

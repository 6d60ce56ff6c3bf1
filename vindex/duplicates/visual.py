"""`--mode similar`: visual containment from the stored CLIP frames, the same scene shot again.

A video's frames are found in another's when, on average, each finds a frame of the other at least
`threshold` similar (cosine). Blank frames (black, white, one colour, fades) are left out first, so
a shared black intro or fade is never a match. Candidate pairs come from an exact blocked
frame x frame similarity: any pair that can reach the threshold shares a frame pair above it.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from vindex.store import Store
from vindex.store.sound import sound_rows

# Cells of the (frames x frames) similarity matrix computed at once when looking for candidate
# pairs (512 MiB of float32).
BLOCK_CELLS = 1 << 27


def frame_vectors(store: Store, ids: list[str], subset: bool) -> list[np.ndarray]:
    """The non-blank frame vectors of each of these videos, by position in `ids`; `subset` reads
    only their frames instead of scanning the whole table."""
    position = {video: i for i, video in enumerate(ids)}
    frames = store.frame_vectors(ids if subset else None)
    owner = np.array([position.get(video, -1) for video in frames.video_ids], np.int64)
    owner[~sound_rows(frames.vectors)] = -1  # a damaged vector (NaN, any length) matches nothing
    order = np.argsort(owner, kind="stable")
    order = order[owner[order] >= 0]
    vectors = frames.vectors[order]
    bounds = np.searchsorted(owner[order], np.arange(len(ids) + 1))
    return [vectors[bounds[i] : bounds[i + 1]] for i in range(len(ids))]


def contained(part: np.ndarray, whole: np.ndarray) -> float:
    """Mean over the frames of `part` of their best cosine against the frames of `whole`."""
    if not len(part) or not len(whole):
        return 0.0
    return float((part @ whole.T).max(axis=1).mean())


def candidate_pairs(frames_of: list[np.ndarray], threshold: float) -> list[tuple[int, int]]:
    """Pairs (a < b) of video positions with at least one frame pair at least `threshold` similar.

    Frames are ordered by video, so comparing each block of rows with the columns from the block
    on (half the matrix) still meets every pair of different videos.
    """
    sizes = [len(frames) for frames in frames_of]
    if sum(sizes) == 0:
        return []
    matrix = np.concatenate(frames_of)
    owners = np.repeat(np.arange(len(frames_of)), sizes)
    above = lambda rows, columns: np.nonzero(rows @ columns.T >= threshold)  # noqa: E731
    if importlib.util.find_spec("torch") is not None:
        import torch  # its matrix product ran 3x faster than numpy's here (docs/search.md)

        matrix, owners = torch.from_numpy(matrix), torch.from_numpy(owners)
        above = lambda rows, columns: torch.nonzero(rows @ columns.T >= threshold, as_tuple=True)  # noqa: E731
    found: set[tuple[int, int]] = set()
    block = max(1, BLOCK_CELLS // len(matrix))
    for start in range(0, len(matrix), block):
        rows, cols = above(matrix[start : start + block], matrix[start:])
        a, b = owners[start + rows], owners[start + cols]
        ahead = a < b
        found.update(zip(a[ahead].tolist(), b[ahead].tolist()))
    return sorted(found)

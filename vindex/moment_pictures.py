"""Which of a hit's matching moments shows the query's own picture.

A video's CLIP frames often score nearly alike (a game's screens, one look through a whole
recording; with random weights, nearly everything): the best frame may then lie in another scene
than the one the query was cut from. When the query is a picture or a clip (not text), its frames'
perceptual hashes are compared with the video's dense fingerprints (one a second past 30 s, five a
second below; `vindex.frames`) inside its matching moments: a fingerprint within `PICTURE_BITS`
of a query frame shows that picture, re-encoded or resized, and its time becomes the hit's moment
(the nearest such picture first, then the better-scoring moment): the stored CLIP frames, one a
shot, may lie seconds away from it, even across a cut the shots missed. Where none
does, or the query has no pictures (text), CLIP's choice stands. Measured with scripts/bench_moments.py.
"""

from __future__ import annotations

import numpy as np

from vindex.fingerprints import distance, from_stored
from vindex.store import Store

# Two pictures whose 64-bit pHashes differ in at most this many bits show the same picture: a
# re-encode at another size and quality stays within about 6, unrelated pictures lie near 32
# (docs/duplicates.md); 12 leaves room for a query cut between two fingerprints a second apart.
PICTURE_BITS = 12


def video_fingerprints(store: Store, ids: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per video of `ids` with fingerprints: (uint64 hashes, seconds) in time order."""
    if not ids:
        return {}
    rows = store.videos_by_id(ids, ["id", "fingerprints", "fingerprint_times"]).to_pylist()
    return {row["id"]: (from_stored(row["fingerprints"]), np.asarray(row["fingerprint_times"], np.float64))
            for row in rows if row["fingerprints"] and row["fingerprint_times"]}


def picture_time(moments: list, query_hashes: np.ndarray, hashes: np.ndarray, times: np.ndarray) -> float | None:
    """The time of the fingerprint nearest a query hash (within PICTURE_BITS) among those inside the
    matching `moments` (`vindex.segments.Moment`); on a tie, the one in the better-scoring moment.
    None when no fingerprint there shows the query's picture."""
    if not len(query_hashes) or not len(hashes):
        return None
    nearest = distance(query_hashes[:, None], hashes[None, :]).min(axis=0)  # per fingerprint
    best, best_key = None, None
    for moment in moments:
        inside = np.flatnonzero((times >= moment.start - 1e-6) & (times <= moment.end + 1e-6))
        if not len(inside):
            continue
        closest = inside[int(nearest[inside].argmin())]
        key = (int(nearest[closest]), -moment.score)
        if key[0] <= PICTURE_BITS and (best_key is None or key < best_key):
            best, best_key = float(times[closest]), key
    return best

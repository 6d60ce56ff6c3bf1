"""Cluster ids that survive a re-run: this run's clusters take the ids of the previous run's
clusters they match by membership, so "cluster 3" keeps meaning the same videos."""

from __future__ import annotations

import numpy as np

# A new cluster keeps an old cluster's id when their members (among videos in both runs) have a
# Jaccard overlap of at least this: most of each is the other.
KEEP_ID_OVERLAP = 0.5
# The stored cluster of a video that had none (added after the previous run, or outside it).
NO_PREVIOUS = -2
# The key, in the index's clustering metadata, of the smallest id never handed out: every id below it
# was a cluster's once (of some fit, retune or split), so none of them is handed out again.
NEXT_ID = "next_id"


def handed_out(clustering: dict | None) -> set[int]:
    """Every cluster id handed out so far by this index's fits and curation (`NEXT_ID`); empty for an
    index clustered before it was kept, where the clusters table and the decisions are all there is."""
    return set(range(int((clustering or {}).get(NEXT_ID, 0))))


def next_id(clustering: dict | None, ids) -> int:
    """The new `NEXT_ID` once `ids` (cluster ids, -1 noise) are handed out too."""
    return max([int((clustering or {}).get(NEXT_ID, 0))] + [int(i) + 1 for i in ids if int(i) >= 0])


def stored_ids(column) -> np.ndarray:
    """The videos table's `cluster` column as int32 ids, NO_PREVIOUS where a video has none."""
    import pyarrow.compute as pc

    return pc.fill_null(column, NO_PREVIOUS).to_numpy().astype(np.int32)


def carry_ids(labels: np.ndarray, previous: np.ndarray, retired: set[int] | None = None) -> np.ndarray:
    """Give this run's clusters the ids of the previous run's clusters they match.

    `labels`: this run's labels (0..k-1, -1 noise); `previous`: the stored id of each same video
    (`stored_ids`: -1 noise, NO_PREVIOUS when it had none). A pair matches when, among the videos
    that were in a cluster before, their Jaccard overlap is at least KEEP_ID_OVERLAP (pairs chosen
    by an optimal one-to-one assignment): like new videos, videos the previous run called noise do
    not count against a match, so a cluster that took them in only grew. Other
    clusters get the smallest ids no earlier cluster had (`retired` adds ids of the previous
    clusters table), so an id never silently changes its meaning.
    """
    from scipy.optimize import linear_sum_assignment

    labels = labels.astype(np.int32)
    count = int(labels.max()) + 1 if len(labels) else 0
    result = labels.copy()
    if count == 0:
        return result
    old_ids = sorted(set(int(v) for v in previous[previous >= 0]))
    taken: dict[int, int] = {}
    if old_ids:
        common = previous >= 0  # in a cluster before: the noise and new videos are left out
        position = {old: i for i, old in enumerate(old_ids)}
        overlap = np.zeros((count, len(old_ids)))
        pairs = common & (labels >= 0) & (previous >= 0)
        old_positions = np.array([position[int(v)] for v in previous[pairs]], dtype=np.int64)
        np.add.at(overlap, (labels[pairs], old_positions), 1)
        new_sizes = np.bincount(labels[common & (labels >= 0)], minlength=count)
        old_sizes = np.array([np.sum(common & (previous == old)) for old in old_ids])
        union = new_sizes[:, None] + old_sizes[None, :] - overlap
        jaccard = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)
        for new, old in zip(*linear_sum_assignment(-jaccard)):
            if jaccard[new, old] >= KEEP_ID_OVERLAP:
                taken[int(new)] = old_ids[old]
    used = set(taken.values()) | set(old_ids) | set(retired or ())
    fresh = (i for i in range(len(used) + count + 1) if i not in used)
    mapping = np.array([taken[new] if new in taken else next(fresh) for new in range(count)], np.int32)
    result[labels >= 0] = mapping[labels[labels >= 0]]
    return result

"""How a video added after `vindex cluster` joins its clusters: the cluster its nearest fitted
videos are in, unless it lies farther from that cluster than the cluster's own members lie from
each other.

HDBSCAN's `approximate_predict` calls a point outside the condensed tree's dense core noise, even
when every one of its nearest fitted videos sits in one cluster: on real footage it left 18 of 34
added videos as noise beside a cluster of 50. Here a new video takes the label its `JOIN_NEIGHBOURS`
nearest fitted videos vote for, and is noise only when

- the vote is the noise (most of its nearest fitted videos are noise themselves): status `noise`;
- or its mean distance to its `JOIN_NEIGHBOURS` nearest members of the voted cluster is above that
  cluster's spread: the `JOIN_PERCENTILE`-th percentile of the same distance measured for each
  member against its fellow members at the fit, times `JOIN_MARGIN` (saved with the models):
  status `assigned-far`.

Otherwise it joins, status `assigned`, with the share of the vote as its probability.

The space (the `--components`-D UMAP layout or the vectors themselves), the number of neighbours,
the percentile and the margin were chosen with `scripts/bench_assign.py` (docs/clustering.md, "Adding videos
after clustering").
"""

from __future__ import annotations

import numpy as np

# Measured with scripts/bench_assign.py on 168 real-footage videos (docs/clustering.md, "Adding videos
# after clustering"): 20 % held out and added after clustering the rest, at three seeds.
#
# Where neighbours are searched: "vectors" (the embedding space, the run's metric) or "umap" (the
# layout HDBSCAN grouped, euclidean). "vectors": UMAP's `transform` does not pack a new video as
# tightly as the fit packed its members (min_dist 0), so in the layout new videos lie farther from
# their cluster than its members do, and any threshold taken from the members calls many of them
# noise (17-21 of 34 at the members' 95th percentile, against 2-8 in the vectors).
JOIN_SPACES = ("vectors", "umap")
JOIN_SPACE = "vectors"
# The vote: the issue's own yardstick, "the label the 5 nearest clustered videos vote for".
JOIN_NEIGHBOURS = 5
# A cluster's spread: this percentile of its members' mean distance to their nearest fellow members,
# times JOIN_MARGIN. The largest, with a margin: a cluster of n members puts a new member of its own
# kind beyond the largest of their n distances once in n + 1 times (1 in 9 for a cluster of 8), and
# at 95 % x 1 up to 8 of 34 held-out videos whose neighbours all sat in one cluster were called noise.
JOIN_PERCENTILE = 100.0
JOIN_MARGIN = 1.5
# Members whose spread is measured per cluster at most (a sample beyond): bounds the fit's cost.
SPREAD_SAMPLE = 2000
# Rows of distances computed at a time (rows x fitted videos).
DISTANCE_BLOCK = 256

ASSIGNED, ASSIGNED_FAR, NOISE_STATUS = "assigned", "assigned-far", "noise"
JOINED_STATUSES = (ASSIGNED, ASSIGNED_FAR, NOISE_STATUS)


def distances(rows: np.ndarray, points: np.ndarray, metric: str) -> np.ndarray:
    """(len(rows), len(points)) distances: cosine (points of unit length) or euclidean."""
    rows, points = np.asarray(rows, np.float64), np.asarray(points, np.float64)
    products = rows @ points.T
    if metric == "cosine":
        return np.maximum(1.0 - products, 0.0)
    squared = (rows * rows).sum(1)[:, None] + (points * points).sum(1)[None, :] - 2.0 * products
    return np.sqrt(np.maximum(squared, 0.0))


def mean_nearest(block: np.ndarray, k: int) -> np.ndarray:
    """Each row's mean over its k smallest entries (all of them when a row has fewer)."""
    k = min(k, block.shape[1])
    return np.partition(block, k - 1, axis=1)[:, :k].mean(axis=1)


def spreads(points: np.ndarray, labels: np.ndarray, metric: str, k: int = JOIN_NEIGHBOURS,
            percentile: float = JOIN_PERCENTILE, margin: float = JOIN_MARGIN, seed: int = 0) -> dict[int, float]:
    """For every cluster (label >= 0): how far its members lie from each other, the `percentile`-th
    percentile over members of their mean distance to their k nearest fellow members, times `margin`."""
    rng = np.random.default_rng(seed)
    found = {}
    for cluster in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == cluster)
        if len(members) < 2:
            continue
        measured = members if len(members) <= SPREAD_SAMPLE else rng.choice(members, SPREAD_SAMPLE, replace=False)
        values = []
        for start in range(0, len(measured), DISTANCE_BLOCK):
            rows = measured[start:start + DISTANCE_BLOCK]
            block = distances(points[rows], points[members], metric)
            block[np.arange(len(rows)), np.searchsorted(members, rows)] = np.inf  # not itself
            values.append(mean_nearest(block, min(k, len(members) - 1)))
        found[int(cluster)] = margin * float(np.percentile(np.concatenate(values), percentile))
    return found


def join(new: np.ndarray, points: np.ndarray, labels: np.ndarray, spread: dict[int, float], metric: str,
         k: int = JOIN_NEIGHBOURS) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Cluster ids (-1 noise), probabilities (the vote's share; 0 for noise) and statuses of `new`
    points among the fitted `points` with their cluster `labels` (-1 noise)."""
    count = len(new)
    result = np.full(count, -1, np.int32)
    probabilities = np.zeros(count, np.float32)
    statuses = [NOISE_STATUS] * count
    if not len(points):
        return result, probabilities, statuses
    k = min(k, len(points))
    for start in range(0, count, DISTANCE_BLOCK):
        block = distances(new[start:start + DISTANCE_BLOCK], points, metric)
        nearest = np.argpartition(block, k - 1, axis=1)[:, :k]
        for offset, (row, voters) in enumerate(zip(block, nearest)):
            voters = voters[np.argsort(row[voters], kind="stable")]  # ties go to the nearest
            votes = labels[voters]
            options, tally = np.unique(votes, return_counts=True)
            best = options[tally == tally.max()]
            winner = int(next(label for label in votes if label in best))
            at = start + offset
            if winner < 0 or winner not in spread:
                continue
            far = mean_nearest(row[labels == winner][None, :], k)[0] > spread[winner]
            statuses[at] = ASSIGNED_FAR if far else ASSIGNED
            if not far:
                result[at] = winner
                probabilities[at] = float(tally.max()) / k
    return result, probabilities, statuses

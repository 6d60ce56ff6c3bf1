"""What the latest `vindex cluster` left in the index, and the questions asked of it: the clusters
(`vindex show`), one cluster's members (`vindex show N`) and the frames that show a cluster best
(the report's gallery). Reports and the web app read clusters through here, never the tables."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from vindex.clustering.joining import ASSIGNED, ASSIGNED_FAR, JOINED_STATUSES, NOISE_STATUS
from vindex.clustering.stable_ids import NO_PREVIOUS, stored_ids
from vindex.defaults import REFIT_SHARE
from vindex.errors import VindexError
from vindex.locations import shown_path
from vindex.results import Result

NOISE = -1


@dataclass
class ClusterInfo(Result):
    """One cluster (or the noise, id -1): its id, name, size, mean membership probability and videos
    per channel, as a run returns it and `vindex show` lists it."""

    id: int
    name: str
    size: int
    mean_probability: float
    channels: dict[str, int]


@dataclass
class Member(Result):
    """A video of a cluster, with how surely it belongs there and how it got there (`status`:
    clustered by the fit, or assigned / assigned-far / noise by an add since)."""

    path: str
    channel: str
    probability: float
    id: str
    status: str | None = None


@dataclass
class ClusterMembers(ClusterInfo):
    """One cluster and its videos, most typical first (`vindex show ID`)."""

    videos: list[Member] = field(default_factory=list)


@dataclass
class Clustering:
    """The stored result of the latest `vindex cluster`: one entry per video of the index."""

    ids: list[str]
    paths: list[str]
    channels: list[str]
    labels: np.ndarray  # int, -1 noise, NO_PREVIOUS (-2) when not part of the run (null in the index)
    probabilities: np.ndarray
    xy: np.ndarray  # (n, 2), NaN where not part of the run
    clusters: list[dict]  # rows of the clusters table, largest first
    run: dict  # the run's parameters, model and time (index metadata)
    root: str | None
    # "clustered" (the fit); placed by add later: "assigned", or noise as "assigned-far" / "noise" (joining)
    statuses: list[str | None] = field(default_factory=list)

    @property
    def assigned(self) -> int:
        """Videos placed by `add` after the fit (into a cluster, or the noise), counted where they went."""
        return sum(status in JOINED_STATUSES for status in self.statuses)

    @property
    def in_run(self) -> np.ndarray:
        return self.labels != NO_PREVIOUS

    def members(self, cluster: int) -> np.ndarray:
        return np.flatnonzero(self.labels == cluster)

    def channel_counts(self, rows: np.ndarray) -> dict[str, int]:
        counts = Counter(self.channels[i] for i in rows)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], str(item[0]))))


def load_clustering(store, with_centroids: bool = False, where: str | None = None) -> Clustering:
    """The latest run's labels, probabilities, map positions and clusters table; `where` (an SQL
    filter on the videos table: --under, --name) keeps the entries of the videos that pass it."""
    import pyarrow.compute as pc

    store.require_videos()
    run = store.meta.clustering
    if run is None:
        raise VindexError("no clusters yet: run `vindex cluster` first")
    table = store.catalog(["id", "path", "channel", "cluster", "cluster_probability", "x", "y", "cluster_status"], where)
    probabilities = pc.fill_null(table.column("cluster_probability"), 0.0).to_numpy().astype(np.float32)
    xy = np.column_stack([
        table.column(axis).to_numpy(zero_copy_only=False).astype(np.float64) for axis in ("x", "y")
    ])
    rows = store.cluster_rows(centroids=with_centroids)
    return Clustering(
        ids=table.column("id").to_pylist(), paths=table.column("path").to_pylist(),
        channels=table.column("channel").to_pylist(), labels=stored_ids(table.column("cluster")),
        probabilities=probabilities, xy=xy, clusters=rows, run=run, root=store.meta.root,
        statuses=table.column("cluster_status").to_pylist(),
    )


def cluster_overview(store, where: str | None = None) -> list[ClusterInfo]:
    """Every cluster of the latest run, largest first, with its channels; the noise last (id -1).
    With `where`, sizes and channels count the videos that pass it, and clusters without one go."""
    clustering = load_clustering(store, where=where)
    overview = []
    for row in clustering.clusters:
        rows = clustering.members(row["id"])
        if where and not len(rows):
            continue
        overview.append(ClusterInfo(row["id"], row["name"], len(rows), round(float(row["mean_probability"]), 4),
                                        clustering.channel_counts(rows)))
    noise = clustering.members(NOISE)
    overview.append(ClusterInfo(NOISE, "noise", len(noise), 0.0, clustering.channel_counts(noise)))
    return overview


def most_typical_first(vectors: np.ndarray, centroid: np.ndarray) -> np.ndarray:
    """Positions of a cluster's video vectors, closest to its centroid first (ties keep their order).
    The one order of "most typical": the report's exemplars and `vindex show`'s members."""
    closeness = np.asarray(vectors, dtype=np.float64) @ np.asarray(centroid, dtype=np.float64)
    return np.argsort(-closeness, kind="stable")


def members(store, cluster: int, where: str | None = None) -> ClusterMembers:
    """One cluster (or the noise, -1) and its videos, most typical first (the noise: by
    probability, then path); with `where`, only the videos that pass it (its size and channels count those)."""
    from vindex.store import vectors_of

    clustering = load_clustering(store, with_centroids=cluster != NOISE, where=where)
    row = next((r for r in clustering.clusters if r["id"] == cluster), None)
    if row is None and cluster != NOISE:
        known = ", ".join(str(r["id"]) for r in clustering.clusters) or "none"
        raise VindexError(f"no cluster {cluster}; the latest run has clusters: {known} (and noise)")
    rows = clustering.members(cluster)  # in index order, as the run saw them: ties keep the exemplars' order
    if row is not None and row.get("centroid") is not None and len(rows):
        found = store.videos_by_id([clustering.ids[i] for i in rows], ["id", "vector"])
        position = {video: n for n, video in enumerate(found.column("id").to_pylist())}
        vectors = vectors_of(found.column("vector"))[[position[clustering.ids[i]] for i in rows]]
        rows = rows[most_typical_first(vectors, row["centroid"])]
    else:
        rows = sorted(rows, key=lambda i: (-clustering.probabilities[i], clustering.paths[i]))
    return ClusterMembers(
        cluster, row["name"] if row else "noise", len(rows),
        round(float(row["mean_probability"]), 4) if row else 0.0, clustering.channel_counts(rows),
        [Member(shown_path(clustering.paths[i]), clustering.channels[i], round(float(clustering.probabilities[i]), 4),
                clustering.ids[i], clustering.statuses[i]) for i in rows],
    )


def freshness(catalog, run: dict, clusters: int) -> dict:
    """How many videos the latest fit placed, how many joined since (assigned by `add`, or not
    placed), and whether that share calls for a re-fit (REFIT_SHARE)."""
    statuses = catalog.column("cluster_status").to_pylist()
    placed = [cluster is not None for cluster in catalog.column("cluster").to_pylist()]
    channels = catalog.column("channel").to_pylist()
    in_scope = [run.get("channel") is None or channel == run["channel"] for channel in channels]
    placed_later = Counter(status for status in statuses if status in JOINED_STATUSES)
    assigned = sum(placed_later.values())
    fitted = sum(p and status not in JOINED_STATUSES for p, status in zip(placed, statuses))
    unplaced = sum(scope and not p for scope, p in zip(in_scope, placed))
    joined = assigned + unplaced
    share = joined / max(fitted + joined, 1)
    # assigned: placed by add (joined a cluster: `in_cluster`; noise as far from its neighbours'
    # cluster: `far`; noise as its neighbours are noise: `noise`), and `unassigned`: not placed at all.
    return dict(clusters=clusters, fitted=fitted, joined_since_fit=joined, assigned=assigned,
                in_cluster=placed_later[ASSIGNED], far=placed_later[ASSIGNED_FAR], noise=placed_later[NOISE_STATUS],
                unassigned=unplaced,
                joined_share=round(share, 4), refit_suggested=share > REFIT_SHARE,
                fitted_at=run.get("created_at"))


def spread_pick(items: list, count: int) -> list:
    """`count` items spread evenly from first to last (all of them if there are fewer)."""
    if count <= 0:
        return []
    if len(items) <= count:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


def exemplar_frames(store, clustering: Clustering, per_cluster: int) -> dict[int, list[tuple[str, float]]]:
    """For each cluster (and the noise, -1): (video id, timestamp) of the frames to show.

    A cluster shows its exemplars, each at its frame closest to the cluster's centroid (the
    clustering must be loaded `with_centroids`); the noise shows videos spread evenly through it in
    path order (so across channels), each at its middle frame.
    """
    chosen: dict[int, list[str]] = {}
    centroids: dict[int, np.ndarray] = {}
    for row in clustering.clusters:
        chosen[row["id"]] = list(row["exemplars"])[:per_cluster]
        if row.get("centroid") is not None:
            centroids[row["id"]] = np.asarray(row["centroid"], dtype=np.float32)
    noise = clustering.members(NOISE)
    chosen[NOISE] = [clustering.ids[i] for i in spread_pick(sorted(noise, key=lambda i: clustering.paths[i]), per_cluster)]
    by_video = _frames_by_video(store, sorted({video for videos in chosen.values() for video in videos}))
    picked: dict[int, list[tuple[str, float]]] = {}
    for cluster, videos in chosen.items():
        picked[cluster] = []
        for video in videos:
            options = sorted(by_video.get(video, []), key=lambda item: item[0])
            if not options:
                picked[cluster].append((video, 0.0))
            elif cluster in centroids:
                best = max(options, key=lambda item: float(item[1] @ centroids[cluster]))
                picked[cluster].append((video, best[0]))
            else:
                picked[cluster].append((video, options[len(options) // 2][0]))
    return picked


def _frames_by_video(store, ids: list[str]) -> dict[str, list[tuple[float, np.ndarray]]]:
    """(timestamp, vector) of every stored frame of these videos."""
    from vindex.store import vectors_of

    frames = store.frames_by_video(ids) if ids else None
    by_video: dict[str, list[tuple[float, np.ndarray]]] = {}
    if frames is not None and frames.num_rows:
        vectors = vectors_of(frames.column("vector"))
        for video, timestamp, vector in zip(frames.column("video_id").to_pylist(),
                                            frames.column("timestamp").to_pylist(), vectors):
            by_video.setdefault(video, []).append((float(timestamp or 0.0), vector))
    return by_video

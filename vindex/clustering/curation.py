"""The user's corrections to the latest clustering: rename, merge, move, split, and undo the last.

Each action changes the index at once (the videos' `cluster` column and the clusters table, so
`show`, the report, `organize` and the web app see it), and is recorded as one row of the
`curation` table with what it needs to be undone and replayed after a re-fit (`decisions`).
The caller holds the writer lock.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from vindex.clustering.decisions import UNDO, in_force, replay
from vindex.clustering.stable_ids import NEXT_ID, handed_out, next_id
from vindex.clustering.state import NOISE
from vindex.errors import VindexError
from vindex.locations import stored_path
from vindex.results import Result, count
from vindex.store.curation import CurationLog, name_cluster

NAME_MAX_CHARS = 120


@dataclass
class CurationResult(Result):
    """One curation step: what was done, the clusters it changed and how many videos changed cluster."""

    action: str
    seq: int  # the decision's row in the audit trail
    cluster: int | None
    clusters: list[int] = field(default_factory=list)
    videos: int = 0
    name: str | None = None
    message: str = ""


def check_name(name: str) -> str:
    """A cluster name as the user typed it, trimmed; refused when empty, multi-line or too long."""
    name = unicodedata.normalize("NFC", " ".join((name or "").split()))
    if not name:
        raise VindexError("a cluster name cannot be empty")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        raise VindexError("a cluster name cannot contain control or formatting characters")
    if len(name) > NAME_MAX_CHARS:
        raise VindexError(f"a cluster name is at most {NAME_MAX_CHARS} characters")
    return name


def _clusters(store) -> dict[int, dict]:
    rows = store.cluster_rows() if store.meta.clustering else None
    if rows is None:
        raise VindexError("no clusters yet: run `vindex cluster` first")
    return {row["id"]: row for row in rows}


def _known(clusters: dict[int, dict], cluster: int, noise: bool = False) -> int:
    if cluster == NOISE and noise:
        return NOISE
    if cluster not in clusters:
        known = ", ".join(str(c) for c in sorted(clusters)) or "none"
        raise VindexError(f"no cluster {cluster}; the clusters are: {known}" + (" (and noise)" if noise else ""))
    return cluster


def _labels(store) -> dict[str, tuple[int | None, float | None]]:
    table = store.catalog(["id", "cluster", "cluster_probability"])
    return dict(zip(table.column("id").to_pylist(),
                    zip(table.column("cluster").to_pylist(), table.column("cluster_probability").to_pylist())))


def _fit_key(store) -> str | None:
    return (store.meta.clustering or {}).get("created_at")


def _write_labels(store, labels: dict[str, tuple[int | None, float | None]]) -> None:
    import pyarrow as pa

    if labels:
        ids = list(labels)
        store.write_cluster_labels(pa.table({
            "id": pa.array(ids, pa.string()),
            "cluster": pa.array([labels[video][0] for video in ids], pa.int32()),
            "cluster_probability": pa.array([labels[video][1] for video in ids], pa.float32()),
        }))


def refresh_clusters(store, names: dict[int, str | None] | None = None) -> list[int]:
    """Rebuild the clusters table from the videos' labels (size, centroid, exemplars, mean
    probability), keeping each cluster's name unless `names` gives one; returns the cluster ids."""
    from vindex.clustering.run import summarise
    from vindex.store import vectors_of

    previous = {row["id"]: row for row in store.cluster_rows()}
    table = store.catalog(["id", "cluster", "cluster_probability", "vector"], "cluster IS NOT NULL")
    ids = np.array(table.column("cluster").to_pylist(), dtype=np.int32)
    probabilities = np.nan_to_num(np.array(table.column("cluster_probability").to_pylist(), dtype=np.float32))
    run_ids = table.column("id").to_pylist()
    summaries = summarise(vectors_of(table.column("vector")), ids, probabilities) if len(ids) else []
    template = next(iter(previous.values()), {})
    names = names or {}
    rows = []
    for s in summaries:
        old = previous.get(s.id, {})
        name = names.get(s.id) or old.get("name") or f"cluster {s.id}"
        rows.append(dict(id=s.id, name=name, size=s.size, centroid=s.centroid,
                         exemplars=[run_ids[i] for i in s.exemplars], mean_probability=s.mean_probability,
                         params=old.get("params", template.get("params")),
                         created_at=old.get("created_at", template.get("created_at"))))
    store.write_clusters(rows)
    clustering = store.meta.clustering
    store.set_meta(clustering=dict(clustering, noise=int(np.sum(ids == NOISE)),
                                   **{NEXT_ID: next_id(clustering, set(ids.tolist()) | set(previous))}))
    return [s.id for s in summaries]


def rename(store, cluster: int, name: str) -> CurationResult:
    clusters = _clusters(store)
    cluster, name = _known(clusters, cluster), check_name(name)
    before = clusters[cluster]["name"]
    name_cluster(store, cluster, name)
    row = CurationLog(store).append("rename", cluster, {"name": name}, {"name": before, "fit": _fit_key(store)})
    return CurationResult("rename", row["seq"], cluster, [cluster], 0, name, f"cluster {cluster} is now {name!r}")


def merge(store, cluster: int, others: list[int]) -> CurationResult:
    clusters = _clusters(store)
    _known(clusters, cluster)
    others = list(dict.fromkeys(int(other) for other in others))
    if not others or cluster in others:
        raise VindexError("name at least one other cluster to merge into the first")
    for other in others:
        _known(clusters, other)
    labels = _labels(store)
    groups = {c: [video for video, (label, _) in labels.items() if label == c] for c in [cluster, *others]}
    moved = {video: labels[video] for other in others for video in groups[other]}
    _write_labels(store, {video: (cluster, probability) for video, (_, probability) in moved.items()})
    refresh_clusters(store)
    undo = {"labels": moved, "names": {str(other): clusters[other]["name"] for other in others}, "fit": _fit_key(store)}
    row = CurationLog(store).append("merge", cluster, {"others": others, "groups": list(groups.values())}, undo)
    return CurationResult("merge", row["seq"], cluster, [cluster, *others], len(moved), clusters[cluster]["name"],
                          f"merged {', '.join(map(str, others))} into cluster {cluster} "
                          f"({count(len(moved), 'video')} moved)")


def resolve_videos(store, wanted: list[str]) -> list[str]:
    """Video ids for what the user typed: a video id, a path relative to the indexed root, or a
    real path to an indexed file. Unknown ones are refused, all named in one line."""
    table = store.catalog(["id", "path"])
    ids = table.column("id").to_pylist()
    by_path = dict(zip(table.column("path").to_pylist(), ids))
    known_ids = set(ids)
    root = store.meta.root
    found, missing = [], []
    for item in wanted:
        if item in known_ids:
            found.append(item)
            continue
        # As the index stores them: a byte that is not UTF-8 as NUL and two hex digits.
        relative = stored_path(item.replace(os.sep, "/").removeprefix("./"))
        if relative not in by_path and root:
            real = os.path.realpath(os.path.expanduser(item))
            inside = os.path.commonpath([real, os.path.realpath(root)]) == os.path.realpath(root)
            if inside:
                relative = stored_path(os.path.relpath(real, os.path.realpath(root)).replace(os.sep, "/"))
        if relative in by_path:
            found.append(by_path[relative])
        else:
            missing.append(item)
    if missing:
        raise VindexError(f"not an indexed video: {', '.join(missing)} (pass a path or a video id from `vindex show`)")
    return list(dict.fromkeys(found))


def move(store, videos: list[str], to: int) -> CurationResult:
    clusters = _clusters(store)
    to = _known(clusters, to, noise=True)
    ids = resolve_videos(store, videos)
    if not ids:
        raise VindexError("name at least one video to move")
    labels = _labels(store)
    moved = {video: labels[video] for video in ids if labels[video][0] != to}
    _write_labels(store, {video: (to, 1.0 if to >= 0 else 0.0) for video in ids})
    sources = {label for label, _ in moved.values() if label is not None and label >= 0}
    refresh_clusters(store)
    undo = {"labels": {video: labels[video] for video in ids},
            "names": {str(c): clusters[c]["name"] for c in sources}, "fit": _fit_key(store)}
    row = CurationLog(store).append("move", to, {"videos": ids, "to": to}, undo)
    where = "the noise" if to == NOISE else f"cluster {to}"
    return CurationResult("move", row["seq"], to, sorted(sources | ({to} if to >= 0 else set())), len(moved),
                          None if to == NOISE else clusters[to]["name"],
                          f"moved {count(len(moved), 'video')} to {where}")


def split(store, cluster: int, min_size: int | None = None) -> CurationResult:
    """Re-cluster one cluster's members alone (HDBSCAN on their saved 5-D positions, or on their
    vectors when none are saved); the largest part keeps the id and the videos HDBSCAN leaves out."""
    from vindex.clustering.retune import embedding_for

    clusters = _clusters(store)
    _known(clusters, cluster)
    labels = _labels(store)
    members = [video for video, (label, _) in labels.items() if label == cluster]
    min_size = min_size or max(2, min(int(store.meta.clustering.get("min_size", 2)), len(members) // 2))
    parts = _split_labels(store, members, min_size, embedding_for)
    if parts.max(initial=-1) < 1:
        hint = ("try a smaller --min-size" if min_size > 2 else
                f"no two parts of {min_size} videos or more stand apart in it (2 is the smallest --min-size)")
        raise VindexError(f"cluster {cluster} does not split at --min-size {min_size}: {hint}")
    used = set(clusters) | replay(CurationLog(store).rows()).ids_used | handed_out(store.meta.clustering)
    fresh = (i for i in range(len(used) + len(parts) + 1) if i not in used)
    new_ids = {0: cluster, **{part: next(fresh) for part in range(1, int(parts.max()) + 1)}}
    changed = {video: (new_ids[int(part)], labels[video][1]) for video, part in zip(members, parts) if part >= 1}
    _write_labels(store, changed)
    base = clusters[cluster]["name"]
    taken = {row.get("name") for row in clusters.values()}  # a part of an earlier split keeps its name
    suffixes = (n for n in range(2, len(taken) + len(new_ids) + 2) if f"{base} ({n})" not in taken)
    names = {new: f"{base} ({next(suffixes)})" for new in new_ids.values() if new != cluster}
    refresh_clusters(store, names)
    undo = {"labels": {video: labels[video] for video in changed}, "fit": _fit_key(store)}
    parts_members = {str(new): [v for v, p in zip(members, parts) if new_ids.get(int(p), cluster) == new]
                     for new in new_ids.values()}
    row = CurationLog(store).append("split", cluster, {"min_size": min_size, "parts": parts_members}, undo)
    made = sorted(new_ids.values())
    return CurationResult("split", row["seq"], cluster, made, len(changed), base,
                          f"split cluster {cluster} into {len(made)}: {', '.join(map(str, made))}")


def _split_labels(store, members: list[str], min_size: int, embedding_for) -> np.ndarray:
    """Sub-cluster labels of `members` (0 the largest part, -1 left out, joined to part 0 by the caller)."""
    from vindex.clustering.grouping import ClusterParams, run_hdbscan
    from vindex.store import vectors_of

    points = embedding_for(store, members)
    if points is None:
        rows = store.videos_by_id(members, ["id", "vector"])
        position = {video: i for i, video in enumerate(rows.column("id").to_pylist())}
        vectors = vectors_of(rows.column("vector"))[[position[video] for video in members]]
        points = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    if len(points) < 2 * min_size:
        return np.zeros(len(members), np.int32)
    labels, _, _ = run_hdbscan(points, ClusterParams(min_size=min_size))
    return labels


def undo_last(store) -> CurationResult:
    """Undo the latest decision in force (of the current fit); recorded as an `undo` row."""
    log = CurationLog(store)
    rows = in_force(log.rows())
    if not rows:
        raise VindexError("nothing to undo: no curation decisions in force")
    last = rows[-1]
    if last["undo"].get("fit") != _fit_key(store):
        raise VindexError(f"the latest decision (#{last['seq']}, {last['action']}) was made before the latest "
                          "`vindex cluster`: undo works on the decisions since the fit")
    cluster = last["cluster"]
    if last["action"] == "rename":
        name_cluster(store, cluster, last["undo"]["name"])
        changed = [cluster]
    else:
        _write_labels(store, {video: tuple(value) for video, value in last["undo"]["labels"].items()})
        changed = refresh_clusters(store, {int(c): name for c, name in last["undo"].get("names", {}).items()})
    row = log.append(UNDO, cluster, {"undoes": last["seq"], "action": last["action"]})
    return CurationResult(UNDO, row["seq"], cluster, [c for c in changed if c is not None],
                          len(last["undo"].get("labels", {})), None,
                          f"undid #{last['seq']} ({last['action']})")

"""What the user's curation decisions mean once replayed, and how a re-fit keeps them.

The `curation` table holds one row per decision (`vindex.store.curation`). Replayed in order,
leaving out the undone ones, they come down to three things a new fit can honour:

- names: cluster id → the user's name. A re-fit gives its clusters the ids of the previous
  clusters they match by membership (`stable_ids`), so a name stays on "the same videos".
- merges: the member lists of the clusters merged into one. A re-fit that finds them apart again
  puts every new cluster that matches one of those lists (same Jaccard rule as stable ids) back
  into the cluster that stayed.
- pins: video id → the cluster (or -1, the noise) the user moved it to. A re-fit and `add` leave
  a pinned video where the user put it; a fit that dissolves that cluster takes the pin along
  with the cluster's videos, and says so (`pin_targets`).

A split is not replayed: it re-clusters one cluster with HDBSCAN, which is what a fit does anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vindex.clustering.stable_ids import KEEP_ID_OVERLAP

ACTIONS = ("rename", "merge", "move", "split")
UNDO = "undo"


@dataclass
class Decisions:
    """The decisions in force (not undone), replayed in order."""

    names: dict[int, str] = field(default_factory=dict)
    pins: dict[str, int] = field(default_factory=dict)
    merges: list[tuple[int, list[list[str]]]] = field(default_factory=list)  # kept id, member lists merged
    ids_used: set[int] = field(default_factory=set)  # every cluster id a decision named: never reused
    count: int = 0  # decisions in force

    @property
    def empty(self) -> bool:
        return not (self.names or self.pins or self.merges)


def undone(rows: list[dict]) -> set[int]:
    return {int(row["args"]["undoes"]) for row in rows if row["action"] == UNDO}


def in_force(rows: list[dict]) -> list[dict]:
    """The decision rows not undone, oldest first (undo rows themselves left out)."""
    gone = undone(rows)
    return [row for row in rows if row["action"] in ACTIONS and row["seq"] not in gone]


def replay(rows: list[dict]) -> Decisions:
    """The names, merges and pins that the rows in force leave."""
    decisions = Decisions()
    for row in in_force(rows):
        args, cluster = row["args"], row["cluster"]
        decisions.count += 1
        if cluster is not None:
            decisions.ids_used.add(int(cluster))
        if row["action"] == "rename":
            decisions.names[int(cluster)] = args["name"]
        elif row["action"] == "merge":
            others = {int(other) for other in args["others"]}
            decisions.ids_used |= others
            for other in others:
                decisions.names.pop(other, None)
            decisions.pins = {video: cluster if to in others else to for video, to in decisions.pins.items()}
            decisions.merges = [(cluster if kept in others else kept, groups) for kept, groups in decisions.merges]
            decisions.merges.append((int(cluster), args["groups"]))
        elif row["action"] == "move":
            for video in args["videos"]:
                decisions.pins[video] = int(args["to"])
        elif row["action"] == "split":
            decisions.ids_used |= {int(part) for part in args.get("parts", {})}
    return decisions


def matching_labels(labels: np.ndarray, run_ids: list[str], group: list[str]) -> set[int]:
    """The clusters of `labels` whose members (among the videos still in the run) are mostly the
    videos of `group`, and most of whose members are in it (Jaccard ≥ KEEP_ID_OVERLAP)."""
    position = {video: i for i, video in enumerate(run_ids)}
    rows = [position[video] for video in group if video in position]
    if not rows:
        return set()
    inside = labels[rows]
    matched = set()
    for label in {int(v) for v in inside if v >= 0}:
        overlap = int(np.sum(inside == label))
        union = len(rows) + int(np.sum(labels == label)) - overlap
        if overlap / union >= KEEP_ID_OVERLAP:
            matched.add(label)
    return matched


def apply_merges(decisions: Decisions, labels: np.ndarray, run_ids: list[str]) -> np.ndarray:
    """A fit's labels (ids already carried over) with every cluster that matches a merged
    cluster's members put back into the cluster that stayed."""
    labels = labels.copy()
    for kept, groups in decisions.merges:
        targets = set().union(*(matching_labels(labels, run_ids, group) for group in groups)) if groups else set()
        for label in targets:
            labels[labels == label] = kept
    return labels


def pin_targets(decisions: Decisions, labels: np.ndarray, previous: np.ndarray,
                run_ids: list[str]) -> tuple[dict[str, int], list[str]]:
    """Where each pinned video of the run goes in a fit with these `labels` (ids carried, merges
    applied; `previous`: the stored ids before it, `stable_ids.stored_ids`), and a note for every
    pinned cluster the fit no longer has.

    A pin says "this video belongs with those videos". When the fit dissolves the pinned cluster
    (no cluster carries its id), the pin follows those videos: to the cluster (or the noise) holding
    most of the cluster's videos that were not pinned; when none are left (an earlier fit already
    dissolved it), to the video's own previous cluster if this fit kept it; else the video stays
    where the fit puts it. Never a cluster of pinned videos alone under an id no fit has."""
    position = {video: i for i, video in enumerate(run_ids)}
    pinned = {video: cluster for video, cluster in decisions.pins.items() if video in position}
    present = {int(label) for label in labels if label >= 0}
    free = np.ones(len(run_ids), bool)
    free[[position[video] for video in pinned]] = False
    targets: dict[str, int] = {}
    stayed: set[str] = set()  # pinned videos kept in their own previous cluster (none of the gone one's videos left)
    gone: dict[int, list[str]] = {}
    for video, cluster in pinned.items():
        if cluster < 0 or cluster in present:
            targets[video] = cluster
            continue
        former = labels[free & (previous == cluster)]
        own = int(previous[position[video]])
        if len(former):
            values, tally = np.unique(former, return_counts=True)
            targets[video] = int(values[np.argmax(tally)])
        elif own >= 0 and own in present:
            targets[video] = own
            stayed.add(video)
        gone.setdefault(cluster, []).append(video)
    notes = []
    for cluster, videos in sorted(gone.items()):
        followed = sorted({targets[video] for video in videos if video in targets and video not in stayed})
        kept = sorted({targets[video] for video in videos if video in stayed})
        where = [f"follow its videos to {', '.join(_cluster_name(to) for to in followed)}"] if followed else []
        where += [f"stay in {', '.join(_cluster_name(to) for to in kept)}, where they were"] if kept else []
        if any(video not in targets for video in videos):
            where.append("stay where this fit puts them")
        were = "video was" if len(videos) == 1 else "videos were"
        notes.append(f"cluster {cluster}, where {len(videos)} {were} moved by hand, is gone in this fit: "
                     f"they {'; '.join(where)}")
    return targets, notes


def _cluster_name(cluster: int) -> str:
    return "the noise" if cluster == -1 else f"cluster {cluster}"


def apply_pins(decisions: Decisions, labels: np.ndarray, probabilities: np.ndarray, run_ids: list[str],
               previous: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Pinned videos where the user put them (probability 1 in a cluster, 0 in the noise), or where
    their cluster's videos went when the fit dissolved it (`pin_targets`); and the notes saying so."""
    labels, probabilities = labels.copy(), probabilities.copy()
    position = {video: i for i, video in enumerate(run_ids)}
    targets, notes = pin_targets(decisions, labels, previous, run_ids)
    for video, cluster in targets.items():
        labels[position[video]] = cluster
        probabilities[position[video]] = 1.0 if cluster >= 0 else 0.0
    return labels, probabilities, notes


def apply_to_fit(decisions: Decisions, labels: np.ndarray, probabilities: np.ndarray, run_ids: list[str],
                 previous: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A fit's labels with merges kept and pinned videos where the user put them (`apply_pins`)."""
    return apply_pins(decisions, apply_merges(decisions, labels, run_ids), probabilities, run_ids, previous)


def pins_of(store) -> dict[str, int]:
    """Video id → the cluster the user pinned it to (-1: the noise)."""
    from vindex.store.curation import CurationLog

    return replay(CurationLog(store).rows()).pins

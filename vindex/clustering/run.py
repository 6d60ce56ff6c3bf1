"""One `vindex cluster` over the index: read the vectors, group them, carry the ids over from the
previous run, name the clusters, and write labels, map positions and the clusters table back."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from vindex.clustering.assign import CLUSTERED, labels_table, save_models
from vindex.clustering.decisions import apply_merges, apply_pins, replay
from vindex.clustering.grouping import ClusterParams, Grouping, group_vectors
from vindex.clustering.naming import load_vocabulary, name_clusters
from vindex.clustering.stable_ids import NEXT_ID, carry_ids, handed_out, next_id, stored_ids
from vindex.clustering.state import ClusterInfo, most_typical_first
from vindex.errors import VindexError, first_line
from vindex.results import Result, StatusHook, count
from vindex.store.curation import CurationLog

# How many member ids the clusters table keeps as exemplars (closest to the centroid first).
EXEMPLARS = 12


@dataclass
class ClusterSummary(Result):
    id: int
    size: int
    centroid: np.ndarray  # unit vector in the embedding space
    exemplars: list[int]  # row positions, closest to the centroid first
    mean_probability: float


def summarise(vectors: np.ndarray, ids: np.ndarray, probabilities: np.ndarray) -> list[ClusterSummary]:
    """Centroid, exemplars and mean probability of every cluster, largest first."""
    summaries = []
    for cluster in np.unique(ids[ids >= 0]):
        members = np.flatnonzero(ids == cluster)
        centroid = vectors[members].mean(axis=0)
        centroid = centroid / max(float(np.linalg.norm(centroid)), 1e-12)
        order = members[most_typical_first(vectors[members], centroid)[:EXEMPLARS]]
        summaries.append(ClusterSummary(
            int(cluster), len(members), centroid.astype(np.float32), [int(i) for i in order],
            float(probabilities[members].mean()),
        ))
    summaries.sort(key=lambda s: (-s.size, s.id))
    return summaries


@dataclass
class ClusterResult(Result):
    """What one `vindex cluster` found and wrote back into the index."""

    videos: int
    clusters: list[ClusterInfo]
    noise: int
    unassigned: int  # videos of the index outside this run (another channel)
    method: str
    params: dict
    model: str
    notes: list[str]
    seconds: dict[str, float]

    def to_dict(self) -> dict:
        return dict(super().to_dict(), num_clusters=len(self.clusters))


def cluster_index(store, load_embedder: Callable, params: ClusterParams, vocabulary: str | Path | None = None,
                  status: StatusHook | None = None, retune: bool = False) -> ClusterResult:
    """Cluster the index's videos, name the clusters and write everything back into the index,
    keeping the user's curation decisions (`decisions`). `retune`: HDBSCAN only, on the points the
    latest fit saved (`retune`), for a new --min-size or --min-samples."""
    from vindex.store import vectors_of

    say = status or (lambda message: None)
    started = time.perf_counter()
    store.require_videos()
    terms = load_vocabulary(vocabulary)
    catalog = store.catalog(["id", "channel", "cluster", "vector"])
    run = _run_rows(catalog, params.channel)
    vectors = vectors_of(run.column("vector"))
    where = f", channel {params.channel}" if params.channel is not None else ""
    say(f"clustering {count(len(vectors), 'video')} ({vectors.shape[1]}-d vectors{where})")
    run_ids = run.column("id").to_pylist()
    if retune:
        from vindex.clustering.retune import retuned_grouping

        params.check(vectors.shape[1])
        grouping = retuned_grouping(store, run_ids, params, say)
    else:
        grouping = group_vectors(vectors, params, say)

    decisions = replay(CurationLog(store).rows())
    # Ids of earlier clusters (of any fit, or named by a decision) are never handed out again.
    retired = set(store.cluster_names()) | decisions.ids_used | handed_out(store.meta.clustering)
    previous = stored_ids(run.column("cluster"))
    carried = carry_ids(grouping.labels, previous, retired)
    fitted = apply_merges(decisions, carried, run_ids)
    ids, probabilities, pin_notes = apply_pins(decisions, fitted, grouping.probabilities, run_ids, previous)
    grouping.notes.extend(pin_notes)
    summaries = summarise(vectors, ids, probabilities)

    naming_started = time.perf_counter()
    # A retune keeps the names of the clusters that kept their ids; a fit names every cluster afresh.
    names = {c: n for c, n in store.cluster_names().items() if c in carried} if retune else {}
    unnamed = [s.id for s in summaries if s.id not in names]
    names.update(name_clusters(store, load_embedder, terms, unnamed, ids, run_ids, say, grouping.notes)
                 if unnamed else {})
    names.update({c: name for c, name in decisions.names.items() if c in names})
    grouping.seconds["naming"] = time.perf_counter() - naming_started

    meta = store.meta
    run_params = dict(params.to_dict(), model=meta.model, weights=meta.weights,
                      method=grouping.method, epochs=grouping.epochs)
    now = datetime.now(timezone.utc)
    run_params["models"] = _save_models(store.uri, now, grouping, fitted, run_params, say)
    if run_params["models"] and grouping.embedding is not None:
        from vindex.clustering.retune import save_embedding

        save_embedding(store.uri, run_params["models"], run_ids, grouping.embedding, grouping.xy)
    store.write_cluster_labels(_labels_table(catalog, run_ids, ids, probabilities, grouping.xy))
    store.write_clusters([
        dict(id=s.id, name=names[s.id], size=s.size, centroid=s.centroid, exemplars=[run_ids[i] for i in s.exemplars],
             mean_probability=s.mean_probability, params=_json(run_params), created_at=now)
        for s in summaries
    ])
    store.set_meta(clustering=dict(run_params, videos=len(run_ids), noise=int(np.sum(ids < 0)),
                                   **{NEXT_ID: next_id(meta.clustering, retired | set(ids.tolist()))},
                                   notes=grouping.notes, created_at=now.isoformat()))
    grouping.seconds["total"] = time.perf_counter() - started

    channels = run.column("channel").to_pylist()
    infos = []
    for s in summaries:
        counts: dict[str, int] = {}
        for i in np.flatnonzero(ids == s.id):
            counts[channels[i]] = counts.get(channels[i], 0) + 1
        infos.append(ClusterInfo(s.id, names[s.id], s.size, round(s.mean_probability, 4),
                                 dict(sorted(counts.items(), key=lambda item: (-item[1], str(item[0]))))))
    return ClusterResult(
        videos=len(run_ids), clusters=infos, noise=int(np.sum(ids < 0)), unassigned=len(catalog) - len(run_ids),
        method=grouping.method, params=run_params, model=str(meta.model), notes=grouping.notes,
        seconds={k: round(v, 3) for k, v in grouping.seconds.items()},
    )


def _run_rows(catalog, channel: str | None):
    """The catalog rows this run clusters: all of them, or one channel's (which must exist)."""
    import pyarrow.compute as pc

    if channel is None:
        return catalog
    run = catalog.filter(pc.equal(catalog.column("channel"), channel))
    if run.num_rows == 0:
        known = sorted({c for c in catalog.column("channel").to_pylist() if c is not None})
        raise VindexError(f"no channel named {channel!r}; the index has: {', '.join(known)}")
    return run


def _save_models(uri: str, now: datetime, grouping: Grouping, ids: np.ndarray, run_params: dict,
                 say: StatusHook) -> str | None:
    """Save the fitted models for `add` to place later videos; the saved run's key, or None."""
    models = grouping.models
    if models is None:
        return None
    found = models.raw_labels >= 0
    label_ids = {int(raw): int(final) for raw, final in zip(models.raw_labels[found], ids[found])}
    try:
        key = save_models(uri, "run-" + now.strftime("%Y%m%dT%H%M%S%fZ"), models, label_ids, run_params)
    except Exception as error:  # a disk error or a model that cannot be pickled: the run itself stands
        key, reason = None, f"cannot write them: {first_line(error, 120)}"
    else:
        reason = "an object-store index keeps no model files"
    if key is None:
        note = f"cluster models not saved ({reason}): videos added later stay unassigned until the next `vindex cluster`"
        say(note)
        grouping.notes.append(note)
    return key


def _labels_table(catalog, run_ids: list[str], ids: np.ndarray, probabilities: np.ndarray, xy: np.ndarray):
    """The label columns for every row of the index: this run's values (status `clustered`), null
    for videos outside it."""
    rows = len(catalog)
    position = {video: i for i, video in enumerate(run_ids)}
    in_run = np.array([position.get(video, -1) for video in catalog.column("id").to_pylist()], dtype=np.int64)
    member = in_run >= 0

    def spread(values: np.ndarray) -> np.ndarray:
        full = np.zeros((rows, *values.shape[1:]), dtype=values.dtype)
        full[member] = values[in_run[member]]
        return full

    return labels_table(catalog.column("id"), spread(ids), spread(probabilities), spread(xy), CLUSTERED, member)


def _json(data: dict) -> str:
    import json

    return json.dumps(data, sort_keys=True, default=str)

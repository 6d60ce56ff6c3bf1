"""A new --min-size or --min-samples without UMAP: HDBSCAN again on the points the latest fit
clustered, saved beside its models (`cluster-models/RUN/embedding.npz`).

UMAP is seeded, so a full fit with the same videos and UMAP options would lay them out the same;
only HDBSCAN's answer changes, and HDBSCAN on 5-D points takes a fraction of a second where the
layout takes most of a fit. A retune is refused (one line saying why) when the saved points are
not those of the videos a fit would cluster now, or were laid out with other UMAP options.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vindex.clustering.assign import MODELS_FOLDER, load_models
from vindex.clustering.decisions import Decisions, apply_to_fit, replay
from vindex.clustering.stable_ids import carry_ids, handed_out, stored_ids
from vindex.errors import VindexError
from vindex.locations import is_remote
from vindex.results import Result, StatusHook
from vindex.store.curation import CurationLog

EMBEDDING_FILE = "embedding.npz"
# The options that shape the saved points: a retune must ask for the same.
LAYOUT_OPTIONS = ("neighbors", "components", "metric", "seed", "channel", "model", "weights")


@dataclass
class RetunePreview(Result):
    """What HDBSCAN would make of the saved points at these options (nothing written)."""

    min_size: int
    min_samples: int | None
    videos: int
    num_clusters: int
    noise: int
    sizes: dict[int, int] = field(default_factory=dict)  # cluster id → videos, largest first
    seconds: float = 0.0


def save_embedding(uri: str, run_key: str, run_ids: list[str], embedding: np.ndarray, xy: np.ndarray) -> None:
    folder = Path(uri) / MODELS_FOLDER / run_key
    partial = folder / (EMBEDDING_FILE + ".partial.npz")
    np.savez(partial, ids=np.array(run_ids, dtype=object).astype(str), embedding=embedding.astype(np.float32),
             xy=xy.astype(np.float32))
    partial.replace(folder / EMBEDDING_FILE)


def load_embedding(store) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """The latest fit's video ids, clustered points and map positions, or None when not saved."""
    run = store.meta.clustering or {}
    if not run.get("models") or is_remote(store.uri):
        return None
    path = Path(store.uri) / MODELS_FOLDER / run["models"] / EMBEDDING_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as saved:
        return saved["ids"].tolist(), saved["embedding"], saved["xy"]


def embedding_for(store, ids: list[str]) -> np.ndarray | None:
    """The saved points of these videos, or None when any of them has none."""
    saved = load_embedding(store)
    if saved is None:
        return None
    position = {video: i for i, video in enumerate(saved[0])}
    if any(video not in position for video in ids):
        return None
    return saved[1][[position[video] for video in ids]]


def regroup(points: np.ndarray, params) -> tuple[np.ndarray, np.ndarray, object]:
    """HDBSCAN on saved points, each distinct point once (as the fit did): labels by size, probabilities, model."""
    from vindex.clustering.grouping import _unique_rows, run_hdbscan

    unique, inverse = _unique_rows(np.ascontiguousarray(points, dtype=np.float32))
    if len(unique) <= params.min_size:
        raise VindexError(f"only {len(unique)} distinct videos: --min-size {params.min_size} leaves no cluster")
    labels, probabilities, model = run_hdbscan(unique, params)
    return labels[inverse], probabilities[inverse], model


def saved_points_for(store, params) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The saved points, checked against the videos and options of a fit now; refused with the reason."""
    run = store.meta.clustering
    if not run:
        raise VindexError("no clusters yet: run `vindex cluster` first")
    saved = load_embedding(store)
    if saved is None:
        raise VindexError("the latest fit saved no points to retune: run `vindex cluster` without --retune")
    wanted = dict(params.to_dict(), model=store.meta.model, weights=store.meta.weights)
    changed = [name for name in LAYOUT_OPTIONS if run.get(name) != wanted.get(name)]
    if changed:
        raise VindexError(f"--retune changes only --min-size and --min-samples; {', '.join(changed)} differ from "
                          "the latest fit: run `vindex cluster` without --retune")
    catalog = store.catalog(["id", "channel"])
    now = {video for video, channel in zip(catalog.column("id").to_pylist(), catalog.column("channel").to_pylist())
           if params.channel is None or channel == params.channel}
    if now != set(saved[0]):
        added, gone = len(now - set(saved[0])), len(set(saved[0]) - now)
        raise VindexError(f"the index changed since the latest fit ({added} videos added, {gone} removed): "
                          "run `vindex cluster` without --retune to lay them out")
    return saved


def preview(store, params) -> RetunePreview:
    """How many clusters and how much noise these HDBSCAN options give, without writing anything."""
    started = time.perf_counter()
    run_ids, points, _ = saved_points_for(store, params)
    labels, probabilities, _ = regroup(points, params)
    ids, _ = carry_labels(store, run_ids, labels, probabilities, replay(CurationLog(store).rows()))
    found, sizes = np.unique(ids[ids >= 0], return_counts=True)
    order = np.argsort(-sizes, kind="stable")
    return RetunePreview(params.min_size, params.min_samples, len(run_ids), len(found), int(np.sum(ids < 0)),
                         {int(found[i]): int(sizes[i]) for i in order}, round(time.perf_counter() - started, 3))


def carry_labels(store, run_ids: list[str], labels: np.ndarray, probabilities: np.ndarray,
                 decisions: Decisions) -> tuple[np.ndarray, np.ndarray]:
    """New labels with the previous ids carried over and the user's decisions applied."""
    import pyarrow as pa

    stored = store.videos_by_id(run_ids, ["id", "cluster"])
    previous = dict(zip(stored.column("id").to_pylist(), stored.column("cluster").to_pylist()))
    column = pa.array([previous.get(video) for video in run_ids], pa.int32())
    retired = set(store.cluster_names()) | decisions.ids_used | handed_out(store.meta.clustering)
    ids = carry_ids(labels, stored_ids(column), retired)
    ids, probabilities, _ = apply_to_fit(decisions, ids, probabilities, run_ids, stored_ids(column))
    return ids, probabilities


def retuned_grouping(store, run_ids: list[str], params, say: StatusHook):
    """A `Grouping` of `run_ids` (in that order) from the saved points: HDBSCAN at the new options,
    the saved map positions, and the saved UMAP models with the new HDBSCAN (for `add`)."""
    from vindex.clustering.grouping import FittedModels, Grouping

    started = time.perf_counter()
    saved_ids, points, xy = saved_points_for(store, params)
    position = {video: i for i, video in enumerate(saved_ids)}
    order = np.array([position[video] for video in run_ids], dtype=np.int64)
    points, xy = points[order], xy[order]
    say(f"HDBSCAN on the saved {points.shape[1]}-D points (UMAP skipped): min cluster size {params.min_size}, "
        f"min samples {params.min_samples or params.min_size}")
    labels, probabilities, model = regroup(points, params)
    seconds = {"hdbscan": time.perf_counter() - started}
    notes, models = [], None
    run = store.meta.clustering
    try:
        content = load_models(store.uri, run["models"])
        picture = content["umap"] if content.get("picture_is_umap") else content["picture"]
        models = FittedModels(content["umap"], picture, model, np.asarray(model.labels_, np.int32)[_inverse(points)])
    except Exception as error:  # the labels stand; only `add`'s placing of later videos waits for a fit
        notes.append(f"saved models not reusable ({error}): videos added later wait for `vindex cluster`")
    seconds["models"] = time.perf_counter() - started - seconds["hdbscan"]
    return Grouping(labels, probabilities, xy, "retune", notes, seconds, run.get("epochs"), models, points)


def _inverse(points: np.ndarray) -> np.ndarray:
    from vindex.clustering.grouping import _unique_rows

    return _unique_rows(np.ascontiguousarray(points, dtype=np.float32))[1]

"""Videos added after a `vindex cluster` join its clusters without a re-fit.

`cluster` saves the run's fitted models (UMAP to --components dims, UMAP to 2 dims for the map,
HDBSCAN) and each cluster's spread (`joining.spreads`) in a folder inside the index, named after the
run. `add` then places every video outside the fit: the cluster its nearest fitted videos vote for
(`joining.join`: status `assigned`, or noise with status `assigned-far` or `noise`), and the 2-D
UMAP `transform` for its map position. The next `cluster` re-fits everything and marks them
`clustered`.

Saved models are a convenience: one that is missing, damaged or written by other versions of
UMAP/HDBSCAN costs one warning, and the videos stay unassigned until the next `vindex cluster`.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np

from vindex.clustering import joining
from vindex.locations import is_remote
from vindex.norms import unit_rows
from vindex.results import StatusHook

MODELS_FOLDER = "cluster-models"  # inside a local index folder; one sub-folder per run
MODELS_FILE = "models.pkl"
FORMAT = 2  # 2: each cluster's spread and the space new videos join in
CLUSTERED = "clustered"
# New videos go through UMAP's transform this many at a time: its distance matrix to the fitted
# videos is batch x fitted videos.
TRANSFORM_BATCH = 256


def library_versions() -> dict[str, str]:
    """The versions a pickled model depends on: another version may read it wrongly, so it is refused."""
    from importlib.metadata import version

    found = {"python": f"{sys.version_info[0]}.{sys.version_info[1]}"}
    for package in ("umap-learn", "hdbscan", "scikit-learn", "numpy"):
        try:
            found[package] = version(package)
        except Exception:
            found[package] = "unknown"
    return found


def models_content(models, label_ids: dict[int, int], metric: str, space: str = joining.JOIN_SPACE,
                   k: int = joining.JOIN_NEIGHBOURS, percentile: float = joining.JOIN_PERCENTILE,
                   margin: float = joining.JOIN_MARGIN) -> dict:
    """What `place` needs of a run: its models, the map from HDBSCAN's labels to the stored ids, and
    each cluster's spread in the space new videos join in."""
    model = models.hdbscan
    content = dict(format=FORMAT, versions=library_versions(), umap=models.umap,
                   picture=models.picture if models.picture is not models.umap else None,
                   picture_is_umap=models.picture is models.umap and models.umap is not None,
                   # HDBSCAN itself is not kept: its labels and, when UMAP was skipped, its points are all
                   # a new video needs (each distinct vector once, as the fit saw them).
                   labels=np.array([label_ids.get(int(label), -1) for label in model.labels_], dtype=np.int32),
                   points=model._raw_data if models.umap is None else None,
                   metric=metric, space=space, neighbours=k)
    points, labels, space_metric = fitted_points(content)
    content["spreads"] = joining.spreads(points, labels, space_metric, k, percentile, margin)
    return content


def save_models(uri: str, run_key: str, models, label_ids: dict[int, int], params: dict) -> str | None:
    """Write a run's models into the index folder (and remove older runs'); the folder's name, or
    None when there is nowhere to put them (an object-store index)."""
    if is_remote(uri):
        return None
    content = models_content(models, label_ids, params.get("metric"))
    base = Path(uri) / MODELS_FOLDER
    folder = base / run_key
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / (MODELS_FILE + ".partial")
    with open(partial, "wb") as out:
        pickle.dump(content, out, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, folder / MODELS_FILE)
    for older in base.iterdir():
        if older.name != run_key:
            shutil.rmtree(older, ignore_errors=True)
    return run_key


def fitted_points(content: dict) -> tuple[np.ndarray, np.ndarray, str]:
    """The fitted videos in the space new videos join in (each distinct vector once, as the fit
    saw them), their stored cluster ids (-1 noise) and that space's metric."""
    reducer, labels = content["umap"], content["labels"]
    if reducer is None:  # HDBSCAN ran on the vectors themselves
        return content["points"], labels, content["metric"]
    if content["space"] == "umap":
        return reducer.embedding_, labels, "euclidean"
    return reducer._raw_data, labels, content["metric"]


def load_models(uri: str, run_key: str) -> dict:
    """The saved models of run `run_key`; raises ValueError (with the reason) when they cannot be used."""
    path = Path(uri) / MODELS_FOLDER / run_key / MODELS_FILE
    if not path.is_file():
        raise ValueError(f"{path} is missing")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with open(path, "rb") as source:
            content = pickle.load(source)
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise ValueError(f"{path} is not a models file this vindex writes")
    saved, installed = content.get("versions", {}), library_versions()
    changed = [f"{name} {saved.get(name)} → {installed[name]}" for name in installed if saved.get(name) != installed[name]]
    if changed:
        raise ValueError(f"written by other library versions ({', '.join(changed)})")
    return content


def pending(store, run: dict):
    """Ids of the videos outside the latest fit that it can place: no cluster yet (within the run's
    channel when the run clustered one)."""
    import pyarrow.compute as pc

    catalog = store.catalog(["id", "channel", "cluster"])
    outside = pc.is_null(catalog.column("cluster"))
    if run.get("channel") is not None:
        outside = pc.and_(outside, pc.equal(catalog.column("channel"), run["channel"]))
    return catalog.filter(outside).column("id").to_pylist()


def assign_new(store, status: StatusHook | None = None) -> tuple[int, int]:
    """Place the videos added since the latest `cluster` into its clusters: how many were placed, and
    how many of them went to the noise.

    Never raises for models that cannot be used: one warning, and the videos stay unassigned.
    """
    from vindex.store import vectors_of

    meta = store.meta
    run = meta.clustering or {}
    if not run.get("models") or (run.get("model"), run.get("weights")) != (meta.model, meta.weights):
        return 0, 0  # no saved models, or they were fitted on another model's vectors
    from vindex.clustering.decisions import pins_of

    pins = pins_of(store)
    ids = [video for video in pending(store, run) if video not in pins]  # a pinned video is never reassigned
    if not ids:
        return 0, 0
    say = status or (lambda message: None)
    try:
        content = load_models(store.uri, run["models"])
        say(f"placing {len(ids)} new videos among the clusters of the latest `vindex cluster`")
        rows = store.videos_by_id(ids, ["id", "vector"])
        labels, probabilities, xy, statuses = place(content, vectors_of(rows.column("vector")), say)
    except Exception as error:  # never fail an add over a convenience: say it once and go on
        from vindex.errors import first_line

        logging.getLogger("vindex").warning(
            "new videos not placed in clusters (saved cluster models unusable: %s); run `vindex cluster` to re-fit",
            first_line(error, 200))
        return 0, 0
    store.write_cluster_labels(labels_table(rows.column("id"), labels, probabilities, xy, statuses))
    return len(labels), int((labels < 0).sum())


def place(content: dict, vectors: np.ndarray, say: StatusHook
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Cluster ids (-1 noise), probabilities, map positions (NaN when the run has no 2-D UMAP) and
    statuses (`joining`: assigned, assigned-far, noise)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if content.get("metric") == "cosine":
        vectors = unit_rows(vectors)
    reducer, picture = content["umap"], content["picture"]
    if content.get("picture_is_umap"):
        picture = reducer
    umap = None
    if reducer is not None and (picture is not None or content["space"] == "umap"):
        from vindex.clustering import jit

        umap = jit.prepare_umap(say, vectors.shape[1])
    points, labels, metric = fitted_points(content)
    embedded = transform(reducer, vectors) if reducer is not None and content["space"] == "umap" else None
    new = embedded if embedded is not None else vectors
    ids, probabilities, statuses = joining.join(new, points, labels, content["spreads"], metric, content["neighbours"])
    if picture is None or umap is None:
        xy = np.full((len(vectors), 2), np.nan, np.float32)
    elif picture is reducer:
        xy = embedded if embedded is not None else transform(reducer, vectors)
    else:
        xy = transform(picture, vectors)
    return ids, probabilities, np.asarray(xy, np.float32), statuses


def transform(model, vectors: np.ndarray) -> np.ndarray:
    """UMAP's transform against the fitted videos themselves (exact distances), in batches.

    Above 4,096 videos UMAP was fitted on neighbours computed by vindex, so it holds no search
    index; its own small-data path (distances to every fitted video) needs none.
    """
    if getattr(model, "_knn_search_index", True) is None:
        del model._knn_search_index
        model._small_data = True
    if model.metric in ("cosine", "euclidean"):
        # The unpickled model's numba distance is a fresh dispatcher without numba's cache (it would
        # compile in every process), and scikit-learn calls it once per pair; by name, scikit-learn
        # computes the same distances as one matrix product.
        model._input_distance_func = model.metric
    parts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for start in range(0, len(vectors), TRANSFORM_BATCH):
            parts.append(model.transform(vectors[start:start + TRANSFORM_BATCH]))
    return np.concatenate(parts).astype(np.float32)


def labels_table(ids, labels: np.ndarray, probabilities: np.ndarray, xy: np.ndarray, status: str | list[str],
                 present: np.ndarray | None = None):
    """The label columns of these videos, as `Store.write_cluster_labels` takes them; all null
    where `present` is False, x/y null where NaN. `status`: one for all, or one per video."""
    import pyarrow as pa

    absent = np.zeros(len(labels), bool) if present is None else ~present
    unplaced = absent[:, None] | ~np.isfinite(xy)
    xy = np.nan_to_num(xy)
    return pa.table({
        "id": ids,
        "cluster": pa.array(labels, pa.int32(), mask=absent),
        "cluster_probability": pa.array(probabilities, pa.float32(), mask=absent),
        "x": pa.array(np.ascontiguousarray(xy[:, 0]), pa.float32(), mask=unplaced[:, 0]),
        "y": pa.array(np.ascontiguousarray(xy[:, 1]), pa.float32(), mask=unplaced[:, 1]),
        "cluster_status": pa.array(np.full(len(labels), status, object) if isinstance(status, str)
                                   else np.array(status, object), pa.string(), mask=absent),
    })

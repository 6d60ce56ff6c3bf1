"""Group videos by their vectors: UMAP (512 → 5 dims, cosine) then HDBSCAN, plus a 2-D UMAP for the
picture.

The choices below were measured on a 2-core CPU box (docs/clustering.md, scripts/bench_cluster.py):

- Nearest neighbours are computed once and shared by both UMAP layouts (see `layout`).
- The UMAP layouts (the bulk of the time) are seeded, hence single-threaded and reproducible; the
  5-D and the 2-D layouts run side by side in two threads, which needs the layout kernel compiled
  with `nogil` (see `jit`).
- HDBSCAN is the `hdbscan` package (Cython: no JIT, and less CPU than fast_hdbscan at 100,000 points)
  with `core_dist_n_jobs=1`: its default spawns worker processes, which cost more than they save in 5-D.
- numba's on-disk cache is switched on for UMAP's kernels, so only the first run on a machine compiles.
"""

from __future__ import annotations

import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from vindex.clustering import jit, layout
from vindex.defaults import COMPONENTS, METRIC, METRICS, MIN_CLUSTER_SIZE, NEIGHBORS, SEED
from vindex.errors import VindexError, first_line
from vindex.norms import unit_rows
from vindex.results import Result, StatusHook, count

# The 5-D and 2-D layouts run side by side (each single-threaded and seeded, so reproducible).
LAYOUT_THREADS = 2


@dataclass(frozen=True)
class ClusterParams(Result):
    """The options of one clustering run (the CLI's flags)."""

    min_size: int = MIN_CLUSTER_SIZE
    min_samples: int | None = None
    neighbors: int = NEIGHBORS
    components: int = COMPONENTS
    metric: str = METRIC
    seed: int = SEED
    channel: str | None = None

    def check(self, dim: int) -> None:
        if self.min_size < 2:
            raise VindexError("--min-size must be at least 2")
        if self.min_samples is not None and self.min_samples < 1:
            raise VindexError("--min-samples must be at least 1")
        if self.neighbors < 2:
            raise VindexError("--neighbors must be at least 2")
        if not 1 <= self.components <= dim:
            raise VindexError(f"--components must be between 1 and the vector size ({dim})")
        if self.metric not in METRICS:
            raise VindexError(f"unknown --metric {self.metric!r}: use one of {', '.join(METRICS)}")


@dataclass
class FittedModels:
    """The fitted models of one run, kept so that `add` can place later videos among its clusters."""

    umap: object | None  # UMAP to --components dims (None: HDBSCAN ran on the vectors themselves)
    picture: object | None  # UMAP to 2 dims for the map (None: no 2-D layout to place videos on)
    hdbscan: object  # its labels (and its points when UMAP was skipped) are what later videos join
    raw_labels: np.ndarray  # HDBSCAN's own label of every video (-1 noise), before `by_size`


@dataclass
class Grouping(Result):
    """What clustering found for n vectors: labels 0..k-1 by decreasing size, -1 for noise."""

    labels: np.ndarray  # (n,) int32
    probabilities: np.ndarray  # (n,) float32, HDBSCAN's membership strength; 0 for noise
    xy: np.ndarray  # (n, 2) float32, the picture's coordinates
    method: str  # "umap+hdbscan", "hdbscan" (UMAP skipped), "identical" or "too-few"
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    epochs: int | None = None  # UMAP optimisation epochs, when UMAP ran
    # What `add` needs to place later videos (`assign`): None where the method fitted no HDBSCAN.
    models: FittedModels | None = field(default=None, repr=False)
    # The points HDBSCAN ran on (the --components-D UMAP layout, or the vectors when UMAP was
    # skipped), kept so that a new --min-size re-labels without UMAP (`retune`).
    embedding: np.ndarray | None = field(default=None, repr=False)

    @property
    def num_clusters(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0


def group_vectors(vectors: np.ndarray, params: ClusterParams, status: StatusHook | None = None) -> Grouping:
    """Cluster (n, dim) vectors. Identical vectors are clustered once and share the result.

    Rows are clustered in a canonical order (sorted by content), so the result does not depend
    on the order the index returns them in.
    """
    say = status or (lambda message: None)
    if len(vectors) == 0:
        raise VindexError("there are no videos to cluster")
    params.check(vectors.shape[1])
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if params.metric == "cosine":
        vectors = unit_rows(vectors)
    unique, inverse = _unique_rows(vectors)
    copies = len(vectors) - len(unique)
    shares = "shares its" if copies == 1 else "share their"
    copies_note = (f"{count(copies, 'video')} {shares} vector with another (identical copies): "
                   "each vector is clustered once")
    if copies:
        say(copies_note)
    if len(unique) == 1:
        grouping = _identical(len(vectors), params, say)
    else:
        grouping = _group_unique(unique, params, say)
    if copies:
        grouping.notes.insert(0, copies_note)
    grouping.labels = grouping.labels[inverse]
    grouping.probabilities = grouping.probabilities[inverse]
    grouping.xy = grouping.xy[inverse]
    if grouping.models is not None:
        grouping.models.raw_labels = grouping.models.raw_labels[inverse]
    if grouping.embedding is not None:
        grouping.embedding = grouping.embedding[inverse]
    return grouping


def _unique_rows(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.ascontiguousarray(vectors).view(np.dtype((np.void, vectors.dtype.itemsize * vectors.shape[1])))
    _, first, inverse = np.unique(rows.ravel(), return_index=True, return_inverse=True)
    return vectors[first], inverse.ravel()


def _group_unique(points: np.ndarray, params: ClusterParams, say: StatusHook) -> Grouping:
    count = len(points)
    if count < params.min_size:
        note = (f"only {count} distinct vectors, fewer than --min-size {params.min_size}: "
                "every video is noise (lower --min-size to find groups)")
        say(note)
        zeros = np.zeros(count, np.float32)
        return Grouping(np.full(count, -1, np.int32), zeros, _pca_2d(points), "too-few", [note])
    if count <= params.neighbors:
        note = (f"{count} distinct vectors, not more than --neighbors {params.neighbors}: "
                "UMAP skipped, HDBSCAN runs on the vectors themselves")
        say(note)
        return _direct(points, params, [note])
    try:
        return _umap_hdbscan(points, params, say)
    except VindexError:
        raise
    except Exception as error:  # numba/UMAP failures on odd inputs: fall back rather than crash
        note = f"UMAP failed ({first_line(error, 120)}): HDBSCAN runs on the vectors themselves"
        say(note)
        return _direct(points, params, [note])


def _identical(videos: int, params: ClusterParams, say: StatusHook) -> Grouping:
    """Every video has the same vector (a single video included): one group, or noise if too small."""
    if videos >= params.min_size:
        note = f"all {videos} videos have the same vector: UMAP skipped, they form one cluster"
        label, probability = 0, 1.0
    else:
        note = (f"{'the only video' if videos == 1 else f'all {videos} videos have the same vector'}: "
                f"UMAP skipped, fewer than --min-size {params.min_size}, so noise")
        label, probability = -1, 0.0
    say(note)
    return Grouping(np.full(1, label, np.int32), np.full(1, probability, np.float32),
                    np.zeros((1, 2), np.float32), "identical", [note])


def _direct(points: np.ndarray, params: ClusterParams, notes: list[str]) -> Grouping:
    started = time.perf_counter()
    labels, probabilities, model = run_hdbscan(points, params)
    seconds = {"hdbscan": time.perf_counter() - started}
    models = FittedModels(None, None, model, model.labels_.astype(np.int32)) if model is not None else None
    return Grouping(labels, probabilities, _pca_2d(points), "hdbscan", notes, seconds, models=models,
                    embedding=points.astype(np.float32))


def _umap_hdbscan(points: np.ndarray, params: ClusterParams, say: StatusHook) -> Grouping:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    umap = jit.prepare_umap(say, points.shape[1], needs_pynndescent=len(points) > layout.EXACT_NEIGHBOURS_MAX)
    seconds["jit"] = time.perf_counter() - started

    started = time.perf_counter()
    exact = len(points) <= layout.EXACT_NEIGHBOURS_MAX
    say(f"nearest neighbours: {params.neighbors} per video, {params.metric}, "
        f"{'exact' if exact else 'approximate (pynndescent)'}")
    neighbours = layout.nearest_neighbours(points, params.neighbors, params.metric, params.seed)
    seconds["neighbours"] = time.perf_counter() - started

    started = time.perf_counter()
    say(f"UMAP {points.shape[1]} → {params.components} dims for clustering"
        + (", and → 2 for the picture" if params.components != 2 else "")
        + f" ({len(points)} vectors, {layout.layout_epochs(len(points))} epochs, seed {params.seed})")
    with ThreadPoolExecutor(max_workers=LAYOUT_THREADS, thread_name_prefix="vindex-umap") as pool:
        # Clustering wants tight clumps (min_dist 0); the picture reads better with some spread.
        embedding_job = pool.submit(layout.fit_umap, umap, points, neighbours, params.components, 0.0,
                                    params.metric, params.seed)
        picture_job = pool.submit(layout.fit_umap, umap, points, neighbours, 2, 0.1, params.metric, params.seed) \
            if params.components != 2 else None
        reducer = embedding_job.result()
        picture = picture_job.result() if picture_job else reducer
    embedding, xy = reducer.embedding_, picture.embedding_
    seconds["umap"] = time.perf_counter() - started

    started = time.perf_counter()
    say(f"HDBSCAN on {params.components} dims: min cluster size {params.min_size}, "
        f"min samples {params.min_samples or params.min_size}")
    labels, probabilities, model = run_hdbscan(embedding, params)
    seconds["hdbscan"] = time.perf_counter() - started
    models = FittedModels(reducer, picture, model, model.labels_.astype(np.int32)) if model is not None else None
    return Grouping(labels, probabilities, xy.astype(np.float32), "umap+hdbscan", [], seconds,
                    layout.layout_epochs(len(points)), models, embedding.astype(np.float32))


def run_hdbscan(points: np.ndarray, params: ClusterParams) -> tuple[np.ndarray, np.ndarray, object]:
    """HDBSCAN labels (renumbered by decreasing cluster size, -1 noise), probabilities, and the
    fitted model (its `labels_`, `probabilities_` and `_raw_data` in the order of `points`).

    HDBSCAN's answer depends on the order of its points: mutual reachability distances tie often
    (many equal a point's core distance), and tied edges fall out of the tree in input order. The
    points are fitted in one canonical order (sorted by their coordinates), so the same points give
    the same clusters whatever order they come in: a fit and a `--retune` at its settings agree."""
    import hdbscan

    points = np.asarray(points, dtype=np.float64)
    order = np.lexsort(points.T[::-1])
    min_samples = min(params.min_samples or params.min_size, len(points) - 1)
    model = hdbscan.HDBSCAN(
        min_cluster_size=params.min_size, min_samples=max(1, min_samples), core_dist_n_jobs=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(points[order])
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    model.labels_, model.probabilities_, model._raw_data = model.labels_[back], model.probabilities_[back], points
    return by_size(model.labels_.astype(np.int32)), model.probabilities_.astype(np.float32), model


def by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber labels so cluster 0 is the largest (ties: the lower old label first)."""
    found = labels >= 0
    if not found.any():
        return labels.astype(np.int32)
    sizes = np.bincount(labels[found])
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    result = labels.astype(np.int32).copy()
    result[found] = rank[labels[found]]
    return result


def _pca_2d(points: np.ndarray) -> np.ndarray:
    """A 2-D projection for the picture when UMAP is skipped (deterministic signs)."""
    centred = points.astype(np.float64) - points.mean(axis=0)
    if len(points) < 2 or not np.any(centred):
        return np.zeros((len(points), 2), np.float32)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    axes = axes[:2]
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    xy = centred @ axes.T
    if xy.shape[1] < 2:
        xy = np.hstack([xy, np.zeros((len(xy), 1))])
    return xy.astype(np.float32)

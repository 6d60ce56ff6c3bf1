"""Group videos by their vectors: UMAP (512 → 5 dims, cosine) then HDBSCAN, plus a 2-D UMAP for the
picture, and cluster ids that survive a re-run.

The choices below were measured on a 2-core CPU box (docs/clustering.md, scripts/bench_cluster.py):

- Nearest neighbours are computed once and shared by both UMAP layouts. Up to EXACT_NEIGHBOURS_MAX
  vectors an exact search (one matrix product per block, in torch) is cheaper than pynndescent, whose
  kernels take a dist function as an argument and so recompile in every process (about 10 s).
- The UMAP layouts (the bulk of the time) are seeded, hence single-threaded and reproducible; the
  5-D and the 2-D layouts run side by side in two threads, which needs the layout kernel compiled
  with `nogil` (see `_prepare_umap`).
- HDBSCAN is the `hdbscan` package (Cython: no JIT, and less CPU than fast_hdbscan at 100,000 points)
  with `core_dist_n_jobs=1`: its default spawns worker processes, which cost more than they save in 5-D.
- numba's on-disk cache is switched on for UMAP's kernels, so only the first run on a machine compiles.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from vindex.errors import VindexError

DEFAULT_MIN_SIZE = 10
DEFAULT_NEIGHBORS = 15
DEFAULT_COMPONENTS = 5
DEFAULT_SEED = 42
METRICS = ("cosine", "euclidean")
# UMAP's own default is 500 epochs up to 10,000 points and 200 above. 200 gave the same clusters
# (ARI against planted labels, scripts/bench_cluster.py --compare) at 40 % of the time; past
# EPOCHS_FULL_UNTIL vectors the epochs shrink with 1/sqrt(n), down to 100 at 100,000, which keeps
# the layouts (80 % of the time) within the 100k target at the same ARI.
EPOCHS = 200
MIN_EPOCHS = 100
EPOCHS_FULL_UNTIL = 25_000
# Below this many vectors the exact neighbour search costs less than compiling pynndescent.
EXACT_NEIGHBOURS_MAX = 20_000
# A new cluster keeps an old cluster's id when their members (among videos in both runs) have a
# Jaccard overlap of at least this: most of each is the other.
KEEP_ID_OVERLAP = 0.5
# The 5-D and 2-D layouts run side by side (each single-threaded and seeded, so reproducible).
LAYOUT_THREADS = 2
# How many member ids the clusters table keeps as exemplars (closest to the centroid first).
EXEMPLARS = 12

Status = Callable[[str], None]


def layout_epochs(count: int) -> int:
    """UMAP optimisation epochs for `count` vectors (see EPOCHS)."""
    return int(np.clip(round(EPOCHS * np.sqrt(EPOCHS_FULL_UNTIL / max(count, 1))), MIN_EPOCHS, EPOCHS))


@dataclass(frozen=True)
class ClusterParams:
    """The options of one clustering run (the CLI's flags)."""

    min_size: int = DEFAULT_MIN_SIZE
    min_samples: int | None = None
    neighbors: int = DEFAULT_NEIGHBORS
    components: int = DEFAULT_COMPONENTS
    metric: str = "cosine"
    seed: int = DEFAULT_SEED
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

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Grouping:
    """What clustering found for n vectors: labels 0..k-1 by decreasing size, -1 for noise."""

    labels: np.ndarray  # (n,) int32
    probabilities: np.ndarray  # (n,) float32, HDBSCAN's membership strength; 0 for noise
    xy: np.ndarray  # (n, 2) float32, the picture's coordinates
    method: str  # "umap+hdbscan", "hdbscan" (UMAP skipped), "identical" or "too-few"
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    epochs: int | None = None  # UMAP optimisation epochs, when UMAP ran

    @property
    def num_clusters(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0


def group_vectors(vectors: np.ndarray, params: ClusterParams, status: Status | None = None) -> Grouping:
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
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    unique, inverse = _unique_rows(vectors)
    copies = len(vectors) - len(unique)
    copies_note = f"{copies} videos share their vector with another (identical copies): each vector is clustered once"
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
    return grouping


def _unique_rows(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.ascontiguousarray(vectors).view(np.dtype((np.void, vectors.dtype.itemsize * vectors.shape[1])))
    _, first, inverse = np.unique(rows.ravel(), return_index=True, return_inverse=True)
    return vectors[first], inverse.ravel()


def _group_unique(points: np.ndarray, params: ClusterParams, say: Status) -> Grouping:
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
        reason = str(error).strip().splitlines()[0][:120] if str(error).strip() else type(error).__name__
        note = f"UMAP failed ({reason}): HDBSCAN runs on the vectors themselves"
        say(note)
        return _direct(points, params, [note])


def _identical(videos: int, params: ClusterParams, say: Status) -> Grouping:
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
    labels, probabilities = run_hdbscan(points, params)
    seconds = {"hdbscan": time.perf_counter() - started}
    return Grouping(labels, probabilities, _pca_2d(points), "hdbscan", notes, seconds)


def _umap_hdbscan(points: np.ndarray, params: ClusterParams, say: Status) -> Grouping:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    umap = _prepare_umap(say, points.shape[1], needs_pynndescent=len(points) > EXACT_NEIGHBOURS_MAX)
    seconds["jit"] = time.perf_counter() - started

    started = time.perf_counter()
    exact = len(points) <= EXACT_NEIGHBOURS_MAX
    say(f"nearest neighbours: {params.neighbors} per video, {params.metric}, "
        f"{'exact' if exact else 'approximate (pynndescent)'}")
    neighbours = nearest_neighbours(points, params.neighbors, params.metric, params.seed)
    seconds["neighbours"] = time.perf_counter() - started

    started = time.perf_counter()
    say(f"UMAP {points.shape[1]} → {params.components} dims for clustering"
        + (", and → 2 for the picture" if params.components != 2 else "")
        + f" ({len(points)} vectors, {layout_epochs(len(points))} epochs, seed {params.seed})")
    with ThreadPoolExecutor(max_workers=LAYOUT_THREADS, thread_name_prefix="vindex-umap") as pool:
        # Clustering wants tight clumps (min_dist 0); the picture reads better with some spread.
        embedding_job = pool.submit(_umap_layout, umap, points, neighbours, params, params.components, 0.0)
        picture_job = pool.submit(_umap_layout, umap, points, neighbours, params, 2, 0.1) \
            if params.components != 2 else None
        embedding = embedding_job.result()
        xy = picture_job.result() if picture_job else embedding
    seconds["umap"] = time.perf_counter() - started

    started = time.perf_counter()
    say(f"HDBSCAN on {params.components} dims: min cluster size {params.min_size}, "
        f"min samples {params.min_samples or params.min_size}")
    labels, probabilities = run_hdbscan(embedding, params)
    seconds["hdbscan"] = time.perf_counter() - started
    return Grouping(labels, probabilities, xy.astype(np.float32), "umap+hdbscan", [], seconds,
                    layout_epochs(len(points)))


def run_hdbscan(points: np.ndarray, params: ClusterParams) -> tuple[np.ndarray, np.ndarray]:
    """HDBSCAN labels (renumbered by decreasing cluster size, -1 noise) and probabilities."""
    import hdbscan

    min_samples = min(params.min_samples or params.min_size, len(points) - 1)
    model = hdbscan.HDBSCAN(
        min_cluster_size=params.min_size, min_samples=max(1, min_samples), core_dist_n_jobs=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(points.astype(np.float64))
    return by_size(model.labels_.astype(np.int32)), model.probabilities_.astype(np.float32)


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


# -- nearest neighbours and UMAP -------------------------------------------------------------------
def nearest_neighbours(points: np.ndarray, k: int, metric: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances) of each point's k nearest points, itself first."""
    k = min(k, len(points))
    if len(points) <= EXACT_NEIGHBOURS_MAX:
        return _exact_neighbours(points, k, metric)
    from umap.umap_ import nearest_neighbors

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        indices, distances, _ = nearest_neighbors(
            points, k, metric, {}, False, np.random.RandomState(seed), low_memory=True, n_jobs=1,
        )
    return indices, distances


def _exact_neighbours(points: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    import torch

    data = torch.from_numpy(points)
    squared = (data * data).sum(dim=1)
    indices = np.empty((len(points), k), np.int64)
    distances = np.empty((len(points), k), np.float32)
    block = max(1, (1 << 25) // len(points))  # about 128 MB of scores at a time
    with torch.inference_mode():
        for start in range(0, len(points), block):
            stop = min(start + block, len(points))
            similarity = data[start:stop] @ data.T
            if metric == "cosine":
                # Ties (and rounding) must not push a point out of its own neighbour list.
                similarity[torch.arange(stop - start), torch.arange(start, stop)] = 2.0
                values, found = torch.topk(similarity, k, dim=1)
                block_distances = (1.0 - values).clamp_(min=0.0)
            else:
                squared_distance = squared[start:stop, None] + squared[None, :] - 2.0 * similarity
                squared_distance[torch.arange(stop - start), torch.arange(start, stop)] = -1.0
                values, found = torch.topk(squared_distance, k, dim=1, largest=False)
                block_distances = values.clamp_(min=0.0).sqrt_()
            indices[start:stop] = found.numpy()
            distances[start:stop] = block_distances.numpy()
    return indices, distances


def _umap_layout(umap, points, neighbours, params: ClusterParams, dims: int, min_dist: float) -> np.ndarray:
    indices, distances = neighbours
    model = umap.UMAP(
        n_neighbors=indices.shape[1], n_components=dims, metric=params.metric, min_dist=min_dist,
        n_epochs=layout_epochs(len(points)), random_state=params.seed, n_jobs=1, low_memory=True,
        precomputed_knn=(indices, distances),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_jobs overridden by random_state, no search index, etc.
        return model.fit_transform(points)


# -- numba ----------------------------------------------------------------------------------------
_PREPARED: dict[str, object] = {}


def _prepare_umap(say: Status, dim: int, needs_pynndescent: bool = False):
    """Import UMAP with numba's on-disk cache on for its kernels, compiling them once if needed.

    UMAP marks few of its numba functions `cache=True`, so by default every new process spends
    7-25 s compiling them. Switching the cache on makes that a one-off per machine: numba writes
    beside the package's sources, or under the user's cache folder (or NUMBA_CACHE_DIR) when the
    package folder is read-only. A tiny warm-up run compiles everything now, so the user is told
    why the first run pauses and the JIT time is measured apart from the clustering.
    """
    if "umap" in _PREPARED and (not needs_pynndescent or "pynndescent" in _PREPARED):
        return _PREPARED["umap"]
    first_time = not _compiled_marker().exists()
    if first_time:
        say("compiling UMAP's numba kernels: first run on this machine only, about 20-60 s (cached afterwards)")
    elif needs_pynndescent:
        say("compiling pynndescent's neighbour search (about 10 s, once per process)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import umap
        import umap.layouts

        if "umap" not in _PREPARED:
            _layouts_without_gil(umap.layouts)
            _enable_numba_cache(("umap", "pynndescent"))
        _warm_up(umap, dim, needs_pynndescent)
    if first_time:
        _remember_compiled()
    _PREPARED["umap"] = umap
    if needs_pynndescent:
        _PREPARED["pynndescent"] = True
    return umap


def _layouts_without_gil(layouts) -> None:
    """Compile UMAP's single-threaded layout epoch with `nogil`, so two layouts run in parallel.

    A copy of the function under its own name keeps numba's cache for it apart from UMAP's own.
    Left as it is when UMAP's internals differ from the version this was written against.
    """
    import types

    import numba

    if not hasattr(layouts, "_nb_optimize_layout_euclidean_single_epoch"):
        return
    original = getattr(layouts, "_optimize_layout_euclidean_single_epoch", None)
    if not isinstance(original, types.FunctionType):
        return
    copy = types.FunctionType(original.__code__, original.__globals__, original.__name__,
                              original.__defaults__, original.__closure__)
    copy.__qualname__ = "vindex_nogil_" + original.__qualname__
    compiled = numba.njit(copy, fastmath=True, parallel=False, nogil=True)
    try:
        compiled.enable_caching()
    except Exception:  # no writable cache location: it still works, compiled once per process
        pass
    layouts._nb_optimize_layout_euclidean_single_epoch = compiled


def _enable_numba_cache(packages: tuple[str, ...]) -> None:
    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(packages):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, CPUDispatcher) and isinstance(getattr(value, "_cache", None), NullCache):
                try:
                    value.enable_caching()
                except Exception:  # a function numba cannot cache still works, just uncached
                    pass


def _warm_up(umap, dim: int, needs_pynndescent: bool) -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(64, dim)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    params = ClusterParams(min_size=5, neighbors=8, components=2)
    neighbours = _exact_neighbours(points, params.neighbors, "cosine")
    _umap_layout(umap, points, neighbours, params, 2, 0.0)
    if needs_pynndescent:
        from umap.umap_ import nearest_neighbors

        many = rng.normal(size=(300, dim)).astype(np.float32)
        nearest_neighbors(many, 8, "cosine", {}, False, np.random.RandomState(0), low_memory=True, n_jobs=1)


def _compiled_marker() -> Path:
    import numba

    try:
        from importlib.metadata import version

        umap_version = version("umap-learn")
    except Exception:
        umap_version = "unknown"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vindex"
    tag = f"numba{numba.__version__}-umap{umap_version}-py{sys.version_info[0]}{sys.version_info[1]}"
    return base / f"compiled-{tag}"


def _remember_compiled() -> None:
    try:
        marker = _compiled_marker()
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass


# -- ids and summaries ------------------------------------------------------------------------------
def carry_ids(labels: np.ndarray, previous: np.ndarray, retired: set[int] | None = None) -> np.ndarray:
    """Give this run's clusters the ids of the previous run's clusters they match.

    `labels`: this run's labels (0..k-1, -1 noise); `previous`: the stored id of each same video
    (-1 noise, -2 when it had none). A pair matches when, among videos in both runs, their Jaccard
    overlap is at least KEEP_ID_OVERLAP (pairs chosen by an optimal one-to-one assignment). Other
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
        common = previous != -2
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


@dataclass
class ClusterSummary:
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
        closeness = vectors[members] @ centroid
        order = members[np.argsort(-closeness, kind="stable")[:EXEMPLARS]]
        summaries.append(ClusterSummary(
            int(cluster), len(members), centroid.astype(np.float32), [int(i) for i in order],
            float(probabilities[members].mean()),
        ))
    summaries.sort(key=lambda s: (-s.size, s.id))
    return summaries


# -- a run over the index -------------------------------------------------------------------------
@dataclass
class ClusterInfo:
    id: int
    name: str
    size: int
    mean_probability: float
    channels: dict[str, int]


@dataclass
class ClusterRun:
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
        data = asdict(self)
        data["num_clusters"] = len(self.clusters)
        return data


def cluster_index(store, load_embedder: Callable, params: ClusterParams, vocabulary: str | Path | None = None,
                  status: Status | None = None) -> ClusterRun:
    """Cluster the index's videos, name the clusters and write everything back into the index."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from vindex.naming import load_vocabulary
    from vindex.store import vectors_of

    say = status or (lambda message: None)
    started = time.perf_counter()
    store.require_videos()
    terms = load_vocabulary(vocabulary)
    catalog = store.catalog(["id", "channel", "cluster", "vector"])
    run = catalog
    if params.channel is not None:
        run = catalog.filter(pc.equal(catalog.column("channel"), params.channel))
        if run.num_rows == 0:
            known = sorted({c for c in catalog.column("channel").to_pylist() if c is not None})
            raise VindexError(f"no channel named {params.channel!r}; the index has: {', '.join(known)}")
    vectors = vectors_of(run.column("vector"))
    where = f", channel {params.channel}" if params.channel is not None else ""
    say(f"clustering {len(vectors)} videos ({vectors.shape[1]}-d vectors{where})")
    grouping = group_vectors(vectors, params, say)

    previous = pc.fill_null(run.column("cluster"), -2).to_numpy().astype(np.int32)
    ids = carry_ids(grouping.labels, previous, set(store.cluster_names()))
    summaries = summarise(vectors, ids, grouping.probabilities)
    run_ids = run.column("id").to_pylist()

    naming_started = time.perf_counter()
    names = _names(store, load_embedder, terms, summaries, ids, run_ids, say, grouping.notes)
    grouping.seconds["naming"] = time.perf_counter() - naming_started

    meta = store.meta
    run_params = dict(params.to_dict(), model=meta.get("model"), weights=meta.get("weights"),
                      method=grouping.method, epochs=grouping.epochs)
    now = _utc_now()
    position = {video: i for i, video in enumerate(run_ids)}
    rows = len(catalog)
    in_run = np.array([position.get(video, -1) for video in catalog.column("id").to_pylist()], dtype=np.int64)
    member = in_run >= 0

    def spread(values: np.ndarray, kind) -> pa.Array:
        full = np.zeros(rows, dtype=values.dtype)
        full[member] = values[in_run[member]]
        return pa.array(full, kind, mask=~member)

    labels = pa.table({
        "id": catalog.column("id"),
        "cluster": spread(ids, pa.int32()),
        "cluster_probability": spread(grouping.probabilities, pa.float32()),
        "x": spread(np.ascontiguousarray(grouping.xy[:, 0]), pa.float32()),
        "y": spread(np.ascontiguousarray(grouping.xy[:, 1]), pa.float32()),
    })
    store.write_cluster_labels(labels)
    store.write_clusters([
        dict(id=s.id, name=names[s.id], size=s.size, centroid=s.centroid, exemplars=[run_ids[i] for i in s.exemplars],
             mean_probability=s.mean_probability, params=_json(run_params), created_at=now)
        for s in summaries
    ])
    store.set_meta(clustering=dict(run_params, videos=len(run_ids), noise=int(np.sum(ids < 0)),
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
    return ClusterRun(
        videos=len(run_ids), clusters=infos, noise=int(np.sum(ids < 0)), unassigned=rows - len(run_ids),
        method=grouping.method, params=run_params, model=str(meta.get("model")), notes=grouping.notes,
        seconds={k: round(v, 3) for k, v in grouping.seconds.items()},
    )


def _names(store, load_embedder: Callable, terms: list[str], summaries: list[ClusterSummary], ids: np.ndarray,
           run_ids: list[str], say: Status, notes: list[str]) -> dict[int, str]:
    """Names from the vocabulary; "cluster N" when the model cannot be loaded (the run still counts)."""
    from vindex import naming

    fallback = {s.id: f"cluster {s.id}" for s in summaries}
    if not summaries:
        return fallback
    meta = store.meta
    key = naming.vocabulary_key(f"{meta.get('model')}:{meta.get('weights')}", terms)
    cached = store.cached_terms(key)
    if cached is not None:
        _, term_vectors, scale = cached
    else:
        say(f"embedding {len(terms)} vocabulary terms with {meta.get('model')} (once per index and vocabulary)")
        try:
            embedder = load_embedder()
        except VindexError as error:
            note = f"clusters left unnamed: could not load the model ({error})"
            notes.append(note)
            say(note)
            return fallback
        term_vectors, scale = naming.embed_terms(embedder, terms), naming.logit_scale(embedder)
        store.cache_terms(key, terms, term_vectors, scale)
    say(f"naming {len(summaries)} clusters from {len(terms)} vocabulary terms")
    slot = {s.id: i for i, s in enumerate(summaries)}
    positions_of = {video: slot.get(int(cluster), -1) for video, cluster in zip(run_ids, ids)}
    batches = store.frames.search().select(["video_id", "vector"]).limit(None).to_batches(1 << 15)
    names = naming.contrast_names(terms, term_vectors, naming.frame_batches(batches, positions_of),
                                  len(summaries), scale)
    return {s.id: names[slot[s.id]] or fallback[s.id] for s in summaries}


def _utc_now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def _json(data: dict) -> str:
    import json

    return json.dumps(data, sort_keys=True, default=str)

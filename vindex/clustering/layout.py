"""Nearest neighbours and UMAP layouts: the part of clustering that takes most of the time.

Nearest neighbours are computed once and shared by both UMAP layouts (the 5-D one to cluster in,
the 2-D one for the picture). Up to EXACT_NEIGHBOURS_MAX vectors an exact search (one matrix
product per block: numpy for small runs, torch above) is cheaper than pynndescent, whose kernels
take a dist function as an argument and so recompile in every process (about 10 s). Layouts are
seeded, hence single-threaded and reproducible.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np

# UMAP's own default is 500 epochs up to 10,000 points and 200 above. 200 gave the same clusters
# (ARI against planted labels, scripts/bench_cluster.py --compare) at 40 % of the time; past
# EPOCHS_FULL_UNTIL vectors the epochs shrink with 1/sqrt(n), down to 100 at 100,000, which keeps
# the layouts (80 % of the time) within the 100k target at the same ARI.
EPOCHS = 200
MIN_EPOCHS = 100
EPOCHS_FULL_UNTIL = 25_000
# Below this many vectors the exact neighbour search costs less than compiling pynndescent.
EXACT_NEIGHBOURS_MAX = 20_000
# Up to this many vectors numpy searches them in well under a second, less than torch's import
# (1.2-1.9 s) that a small `vindex cluster` would otherwise pay (scripts/bench_cluster.py --cold).
NUMPY_NEIGHBOURS_MAX = 2_000

Neighbours = tuple[np.ndarray, np.ndarray]  # (indices, distances), each (n, k), a point itself first


def layout_epochs(count: int) -> int:
    """UMAP optimisation epochs for `count` vectors (see EPOCHS)."""
    return int(np.clip(round(EPOCHS * np.sqrt(EPOCHS_FULL_UNTIL / max(count, 1))), MIN_EPOCHS, EPOCHS))


def nearest_neighbours(points: np.ndarray, k: int, metric: str, seed: int) -> Neighbours:
    """(indices, distances) of each point's k nearest points, itself first."""
    k = min(k, len(points))
    if len(points) <= EXACT_NEIGHBOURS_MAX:
        return exact_neighbours(points, k, metric)
    return approximate_neighbours(points, k, metric, seed)


def approximate_neighbours(points: np.ndarray, k: int, metric: str, seed: int) -> Neighbours:
    """pynndescent's neighbour search, as UMAP runs it (one thread, low memory)."""
    from umap.umap_ import nearest_neighbors

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        indices, distances, _ = nearest_neighbors(
            points, k, metric, {}, False, np.random.RandomState(seed), low_memory=True, n_jobs=1,
        )
    return indices, distances


def exact_neighbours(points: np.ndarray, k: int, metric: str) -> Neighbours:
    """Every point's k nearest, one matrix product per block: in numpy up to NUMPY_NEIGHBOURS_MAX
    points (importing torch costs more than such a search), in torch above (3x faster products)
    where it is installed."""
    if len(points) <= NUMPY_NEIGHBOURS_MAX or importlib.util.find_spec("torch") is None:
        def top(block: np.ndarray, largest: bool) -> tuple[np.ndarray, np.ndarray]:
            keyed = -block if largest else block
            found = np.argpartition(keyed, k - 1, axis=1)[:, :k]
            order = np.argsort(np.take_along_axis(keyed, found, axis=1), axis=1, kind="stable")
            found = np.take_along_axis(found, order, axis=1)
            return np.take_along_axis(block, found, axis=1), found

        return _blocked_neighbours(points, k, metric, lambda rows: rows @ points.T, top)
    import torch

    data = torch.from_numpy(points)

    def torch_top(block, largest: bool) -> tuple[np.ndarray, np.ndarray]:
        values, found = torch.topk(block, k, dim=1, largest=largest)
        return values.numpy(), found.numpy()

    with torch.inference_mode():
        return _blocked_neighbours(data, k, metric, lambda rows: rows @ data.T, torch_top)


def _blocked_neighbours(data, k: int, metric: str, scores, top) -> Neighbours:
    """The search in blocks of rows, for numpy arrays or torch tensors alike (`scores`: a block's
    products with every point; `top`: the k largest or smallest of each row, sorted)."""
    count = len(data)
    squared = (data * data).sum(1)
    indices = np.empty((count, k), np.int64)
    distances = np.empty((count, k), np.float32)
    block = max(1, (1 << 25) // count)  # about 128 MB of scores at a time
    for start in range(0, count, block):
        stop = min(start + block, count)
        similarity = scores(data[start:stop])
        rows, own = np.arange(stop - start), np.arange(start, stop)
        if metric == "cosine":
            # Ties (and rounding) must not push a point out of its own neighbour list.
            similarity[rows, own] = 2.0
            values, found = top(similarity, True)
            block_distances = np.maximum(1.0 - values, 0.0)
        else:
            squared_distance = squared[start:stop, None] + squared[None, :] - 2.0 * similarity
            squared_distance[rows, own] = -1.0
            values, found = top(squared_distance, False)
            block_distances = np.sqrt(np.maximum(values, 0.0))
        indices[start:stop] = found
        distances[start:stop] = block_distances
    return indices, distances


def umap_layout(umap, points: np.ndarray, neighbours: Neighbours, dims: int, min_dist: float, metric: str,
                seed: int) -> np.ndarray:
    """`points` laid out in `dims` dimensions by UMAP (the module `umap`, prepared by `jit`)."""
    return fit_umap(umap, points, neighbours, dims, min_dist, metric, seed).embedding_


def fit_umap(umap, points: np.ndarray, neighbours: Neighbours, dims: int, min_dist: float, metric: str, seed: int):
    """The fitted UMAP model (its layout is `.embedding_`); it can `transform` videos added later."""
    indices, distances = neighbours
    model = umap.UMAP(
        n_neighbors=indices.shape[1], n_components=dims, metric=metric, min_dist=min_dist,
        n_epochs=layout_epochs(len(points)), random_state=seed, n_jobs=1, low_memory=True,
        precomputed_knn=(indices, distances),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_jobs overridden by random_state, no search index, etc.
        return model.fit(points)

"""Nearest neighbours and UMAP layouts: the part of clustering that takes most of the time.

Nearest neighbours are computed once and shared by both UMAP layouts (the 5-D one to cluster in,
the 2-D one for the picture). Up to EXACT_NEIGHBOURS_MAX vectors an exact search (one matrix
product per block, in torch) is cheaper than pynndescent, whose kernels take a dist function as an
argument and so recompile in every process (about 10 s). Layouts are seeded, hence single-threaded
and reproducible.
"""

from __future__ import annotations

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


def umap_layout(umap, points: np.ndarray, neighbours: Neighbours, dims: int, min_dist: float, metric: str,
                seed: int) -> np.ndarray:
    """`points` laid out in `dims` dimensions by UMAP (the module `umap`, prepared by `jit`)."""
    indices, distances = neighbours
    model = umap.UMAP(
        n_neighbors=indices.shape[1], n_components=dims, metric=metric, min_dist=min_dist,
        n_epochs=layout_epochs(len(points)), random_state=seed, n_jobs=1, low_memory=True,
        precomputed_knn=(indices, distances),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_jobs overridden by random_state, no search index, etc.
        return model.fit_transform(points)

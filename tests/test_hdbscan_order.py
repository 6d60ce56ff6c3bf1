"""HDBSCAN's clusters do not depend on the order its points come in, so a `--retune` at the fit's
own settings gives the fit's clusters (the fit sees its points in the order of their 512-d
vectors, a retune in the order of their saved 5-d positions)."""

import numpy as np
import pytest

from vindex.clustering.grouping import ClusterParams, by_size, run_hdbscan
from vindex.store import Store


def partition(labels: np.ndarray) -> set[frozenset[int]]:
    """The groups of positions (the noise as one group), whatever their numbers."""
    return {frozenset(np.flatnonzero(labels == label).tolist()) for label in set(labels.tolist())}


@pytest.mark.parametrize("seed", range(12))
def test_hdbscan_gives_the_same_clusters_whatever_the_order_of_its_points(seed):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(26, 5)).astype(np.float32)
    points[:9] += 2
    points[9:16] -= 2
    shuffle = rng.permutation(len(points))
    labels, probabilities, model = run_hdbscan(points, ClusterParams(min_size=3))
    shuffled, shuffled_probabilities, _ = run_hdbscan(points[shuffle], ClusterParams(min_size=3))
    back = np.empty_like(shuffle)
    back[shuffle] = np.arange(len(shuffle))
    assert partition(shuffled[back]) == partition(labels)
    assert np.allclose(shuffled_probabilities[back], probabilities)
    # The model's own labels and points stay in the order of the points given (`add` places by them).
    assert np.array_equal(by_size(model.labels_.astype(np.int32)), labels)
    assert np.array_equal(model._raw_data, points.astype(np.float64))


def test_retune_at_the_fit_settings_keeps_the_fit_clusters(indexed_copy, run):
    def labels() -> dict[str, int]:
        table = Store(str(indexed_copy)).catalog(["path", "cluster"])
        return dict(zip(table.column("path").to_pylist(), table.column("cluster").to_pylist()))

    settings = ["--min-size", "3", "--neighbors", "8", "--no-report", "-q"]
    run("cluster", *settings)
    fitted = labels()
    run("cluster", *settings, "--retune")
    assert labels() == fitted

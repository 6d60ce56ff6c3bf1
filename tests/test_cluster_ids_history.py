"""Cluster ids are never handed out twice: not by a later fit or retune, not by a split, even for a
cluster that an earlier fit dropped; and a cluster that only grew keeps its id."""

import json
import shutil
from pathlib import Path

import pytest

import numpy as np

from vindex.clustering import ClusterParams, carry_ids
from vindex.index import Index
from vindex.store import Store

RETUNE = ["--neighbors", "8", "--retune", "--no-report", "-q"]


@pytest.fixture
def clustered(indexed_copy) -> Path:
    """The session corpus (4 channels x 6 videos), clustered: one cluster per channel, ids 0-3."""
    Index(str(indexed_copy)).cluster(ClusterParams(min_size=4, neighbors=8))
    return indexed_copy


def cluster_ids(db) -> set[int]:
    return {row["id"] for row in Store(str(db)).cluster_rows()}


def channel_clusters(db) -> dict[str, int]:
    table = Store(str(db)).catalog(["path", "cluster"])
    return {path.split("/")[0]: cluster for path, cluster in zip(table.column("path").to_pylist(),
                                                                  table.column("cluster").to_pylist())}


def test_ids_an_earlier_fit_dropped_are_never_handed_out_again(clustered, run):
    first = cluster_ids(clustered)
    assert first == {0, 1, 2, 3}
    run("cluster", "--min-size", "13", *RETUNE)  # all noise at 13 (24 videos, 4 groups of 6)
    assert cluster_ids(clustered) == set()
    run("cluster", "--min-size", "4", *RETUNE)  # the same groups again, but the fit before had none
    second = cluster_ids(clustered)
    assert len(second) == 4 and not second & first

    channels = channel_clusters(clustered)
    kept, other = channels["00_stripes"], channels["02_rings"]
    run("cluster", "merge", kept, other)
    split = json.loads(run("cluster", "split", kept, "--min-size", "3", "--json").stdout)
    [made] = set(split["clusters"]) - {kept}
    assert made not in first | second  # neither the dropped ids nor the merged-away one


def test_an_id_emptied_by_moving_its_videos_is_not_handed_to_a_split(clustered, run):
    channels = channel_clusters(clustered)
    emptied = channels["03_gradient"]
    table = Store(str(clustered)).catalog(["path", "cluster"])
    members = [path for path, cluster in zip(table.column("path").to_pylist(), table.column("cluster").to_pylist())
               if cluster == emptied]
    run("cluster", "move", *members, "--to", "noise")
    assert emptied not in cluster_ids(clustered)
    run("cluster", "merge", channels["00_stripes"], channels["02_rings"])
    split = json.loads(run("cluster", "split", channels["00_stripes"], "--min-size", "3", "--json").stdout)
    assert emptied not in split["clusters"]
    run("cluster", "undo")
    run("cluster", "undo")
    run("cluster", "undo")  # the emptied cluster's videos come back to their own id, shared with no one
    assert channel_clusters(clustered) == channels
    assert len(cluster_ids(clustered)) == 4


def test_a_cluster_that_takes_in_the_previous_noise_keeps_its_id():
    # 10 members before, and 12 videos the previous run called noise: the re-fit's cluster holds all 22.
    previous = np.array([4] * 10 + [-1] * 12)
    assert carry_ids(np.zeros(22, np.int32), previous).tolist() == [4] * 22
    # It still has to hold most of the old cluster's members: 4 of 10 (and 12 former noise) is another cluster.
    assert 4 not in carry_ids(np.array([0] * 4 + [1] * 6 + [0] * 12), previous).tolist()[:4]

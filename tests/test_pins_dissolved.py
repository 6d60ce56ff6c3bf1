"""A video moved by hand into a cluster that a later fit or retune dissolves follows that cluster's
videos (to the cluster or the noise most of them went to), with a note; it is never left alone
under an id no fit has."""

import json

import numpy as np
import pytest

from vindex.clustering import ClusterParams
from vindex.clustering.decisions import Decisions, pin_targets
from vindex.index import Index
from vindex.store import Store


@pytest.fixture
def clustered(indexed_copy):
    """The session corpus (4 channels x 6 videos), clustered: one cluster per channel."""
    Index(str(indexed_copy)).cluster(ClusterParams(min_size=4, neighbors=8))
    return indexed_copy


def labelled(db) -> dict[str, int]:
    table = Store(str(db)).catalog(["path", "cluster"])
    return dict(zip(table.column("path").to_pylist(), table.column("cluster").to_pylist()))


def test_a_pin_follows_its_cluster_into_the_noise_when_a_retune_dissolves_it(clustered, run):
    before = labelled(clustered)
    rings = next(cluster for path, cluster in before.items() if path.startswith("02_rings/"))
    pinned = sorted(path for path in before if path.startswith("00_stripes/"))[0]
    run("cluster", "move", pinned, "--to", rings)
    result = json.loads(run("cluster", "--min-size", "13", "--neighbors", "8", "--retune", "--no-report",
                            "--json").stdout)  # all noise at 13 (24 videos, 4 groups of 6)
    after = labelled(clustered)
    assert after[pinned] == -1 and set(after.values()) == {-1}
    assert Store(str(clustered)).cluster_rows() == []  # not a cluster of one pinned video
    assert any(f"cluster {rings}" in note and "follow its videos to the noise" in note for note in result["notes"])


def test_pin_targets_follow_the_dissolved_clusters_videos_then_the_videos_own_cluster():
    run_ids = ["pinned", "a", "b", "c", "d", "e"]
    decisions = Decisions(pins={"pinned": 3, "elsewhere": 1})
    # Cluster 3 (a, b, c and the pinned video) is gone: a re-fit put most of its videos in cluster 5.
    previous = np.array([3, 3, 3, 3, 4, 4])
    targets, notes = pin_targets(decisions, np.array([4, 5, 5, -1, 4, 4]), previous, run_ids)
    assert targets == {"pinned": 5}
    assert notes == ["cluster 3, where 1 video was moved by hand, is gone in this fit: "
                     "they follow its videos to cluster 5"]
    # The next fit: no video is in cluster 3 any more; the pinned video stays in the cluster it followed,
    # and the note says so (not that it followed cluster 3's videos there).
    targets, notes = pin_targets(decisions, np.array([4, 5, 5, 5, 4, 4]), np.array([5, 5, 5, -1, 4, 4]), run_ids)
    assert targets == {"pinned": 5}
    assert notes == ["cluster 3, where 1 video was moved by hand, is gone in this fit: "
                     "they stay in cluster 5, where they were"]
    # ... and where that one is gone too, where the fit puts it.
    targets, notes = pin_targets(decisions, np.array([4, 6, 6, 6, 4, 4]), np.array([5, 5, 5, -1, 4, 4]), run_ids)
    assert targets == {} and "stay where this fit puts them" in notes[0]
    # A pinned cluster the fit kept, and the noise, are honoured as they are.
    targets, notes = pin_targets(Decisions(pins={"pinned": 4, "a": -1}), np.array([5, 5, 5, 5, 4, 4]),
                                 previous, run_ids)
    assert targets == {"pinned": 4, "a": -1} and notes == []

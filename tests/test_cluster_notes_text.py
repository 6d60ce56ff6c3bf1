import numpy as np

from vindex.clustering.grouping import ClusterParams, group_vectors


def test_one_identical_copy_is_counted_in_the_singular():
    vectors = np.random.default_rng(0).normal(size=(12, 8)).astype(np.float32)
    vectors[1] = vectors[0]
    notes = group_vectors(vectors, ClusterParams(min_size=3, neighbors=4)).notes
    assert any(note.startswith("1 video shares its vector with another") for note in notes), notes

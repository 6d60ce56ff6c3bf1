"""Clusters of videos: grouping, stable ids, names, and what the latest run left in the index.

- `grouping`: UMAP + HDBSCAN over vectors (`group_vectors`, `ClusterParams`, `Grouping`)
- `layout`: nearest neighbours and the UMAP layouts
- `jit`: numba's on-disk cache and the GIL-free layout kernel, compiled once per machine
- `stable_ids`: ids carried over from the previous run by membership (`carry_ids`)
- `naming`: names from a vocabulary, scored with CLIP itself
- `run`: one run over the index, written back (`cluster_index` → `ClusterResult`)
- `decisions`: the user's curation decisions replayed (names, merges, pins) and kept by a re-fit
- `curation`: rename, merge, move, split and undo on the stored clusters (`CurationResult`)
- `retune`: HDBSCAN again on the fit's saved points for a new --min-size (`RetunePreview`)
- `state`: the stored result and the questions asked of it (`load_clustering`, `cluster_overview`,
  `members`, `exemplar_frames`), for `vindex show`, the report and the web app

Heavy libraries (umap, hdbscan, numba, torch) are imported only when a run needs them.
"""

from vindex.clustering.grouping import ClusterParams, Grouping, by_size, group_vectors
from vindex.clustering.run import ClusterResult, ClusterSummary, cluster_index
from vindex.clustering.stable_ids import carry_ids
from vindex.clustering.state import (
    NOISE, ClusterInfo, ClusterMembers, Clustering, Member, cluster_overview, exemplar_frames, load_clustering,
    members,
)

__all__ = [
    "NOISE", "by_size", "carry_ids", "cluster_index", "cluster_overview", "ClusterInfo", "Clustering",
    "ClusterMembers", "ClusterParams", "ClusterResult", "ClusterSummary", "exemplar_frames", "group_vectors",
    "Grouping", "load_clustering", "Member", "members",
]

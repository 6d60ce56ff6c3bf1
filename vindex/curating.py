"""`Index`'s curation methods: the user's corrections to the latest clustering, each one call that
takes the index's writer lock, changes the clusters at once and is recorded in the audit trail
(`vindex.clustering.curation`). `Index` inherits them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vindex.results import Result

if TYPE_CHECKING:
    from vindex.clustering import ClusterParams
    from vindex.clustering.curation import CurationResult
    from vindex.clustering.retune import RetunePreview
    from vindex.store import Store


@dataclass
class CurationHistory(Result):
    """Every curation decision, oldest first (who, what, when, its arguments, whether undone)."""

    decisions: int  # in force (not undone)
    rows: list[dict] = field(default_factory=list)


class Curating:
    """Mixed into `Index`, which gives `store`."""

    store: "Store"

    def rename_cluster(self, cluster: int, name: str, wait: bool = False) -> "CurationResult":
        """Give cluster `cluster` the user's `name` (kept by re-fits while the cluster keeps its id)."""
        from vindex.clustering.curation import rename

        with self.writing(wait) as store:
            return rename(store, cluster, name)

    def merge_clusters(self, cluster: int, others: list[int], wait: bool = False) -> "CurationResult":
        """Put the videos of `others` into `cluster`, which keeps its id and name; re-fits keep them together."""
        from vindex.clustering.curation import merge

        with self.writing(wait) as store:
            return merge(store, cluster, list(others))

    def move_videos(self, videos: list[str], to: int, wait: bool = False) -> "CurationResult":
        """Move videos (ids, paths relative to the root, or real paths) to cluster `to` (-1: the noise)
        and pin them there: re-fits and `add` leave them where the user put them."""
        from vindex.clustering.curation import move

        with self.writing(wait) as store:
            return move(store, [str(video) for video in videos], to)

    def split_cluster(self, cluster: int, min_size: int | None = None, wait: bool = False) -> "CurationResult":
        """Re-cluster `cluster`'s members alone (HDBSCAN at `min_size`); the largest part keeps the id."""
        from vindex.clustering.curation import split

        with self.writing(wait) as store:
            return split(store, cluster, min_size)

    def undo_curation(self, wait: bool = False) -> "CurationResult":
        """Undo the latest curation decision in force (made since the latest fit)."""
        from vindex.clustering.curation import undo_last

        with self.writing(wait) as store:
            return undo_last(store)

    def curation_history(self) -> CurationHistory:
        from vindex.clustering.decisions import in_force
        from vindex.store.curation import CurationLog

        rows = CurationLog(self.store).rows()
        gone = {row["args"]["undoes"] for row in rows if row["action"] == "undo"}
        shown = [dict(row, undone=row["seq"] in gone, at=row["at"].isoformat()) for row in rows]
        for row in shown:
            row.pop("undo")
        return CurationHistory(len(in_force(rows)), shown)

    def retune_preview(self, params: "ClusterParams") -> "RetunePreview":
        """The clusters HDBSCAN would find at `params`' --min-size/--min-samples on the latest fit's
        saved points, without UMAP and without writing anything."""
        from vindex.clustering.retune import preview

        return preview(self.store, params)

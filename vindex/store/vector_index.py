"""Vector search over the store's tables, and the ANN and scalar indexes that keep it fast.

docs/search.md has the measurements behind these numbers. Vectors are unit length, so LanceDB's
"dot" distance is 1 - cosine.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vindex.schema import FRAMES, VIDEOS
from vindex.store.sound import UNIT_TOLERANCE

if TYPE_CHECKING:  # the store mixes this class in and holds the metadata
    from vindex.store.meta import IndexMeta

DISTANCE = "dot"
# LanceDB's exhaustive search costs a microsecond or more a row, so past this many rows a table
# gets an IVF_FLAT index: it keeps full vectors (exact scores, no refine step) and trains in
# seconds, where IVF_PQ needed refining to reach the recall target and HNSW took minutes to build.
ANN_MIN_ROWS = 20_000
# Partitions read per query, as a share of the sqrt(rows) partitions (never fewer than hold
# ANN_MIN_ROWS rows, cheap to read as above). Vectors of a video are like the indexed ones and
# find their neighbours in the nearest partitions; a text vector lies apart from every image
# vector (CLIP's modality gap), so its nearest partitions are a poorer guide and it reads more.
ANN_PROBE_SHARE = 0.1
ANN_TEXT_PROBE_SHARE = 0.7
# An index trained on a table that has since grown this much is retrained, so partitions stay even.
ANN_RETRAIN_GROWTH = 2.0


class VectorSearch:
    """Nearest-neighbour queries and index upkeep; mixed into `Store`, whose tables it reads."""

    videos: object
    frames: object
    meta: IndexMeta

    def nearest(
        self,
        table_name: str,
        vectors: np.ndarray,
        limit: int,
        columns: list[str],
        where: str | None = None,
        min_score: float | None = None,
        exact: bool = False,
        kept_rows: int | None = None,
        probe_share: float = ANN_PROBE_SHARE,
    ) -> pa.Table:
        """The `limit` rows of `table_name` nearest to each of `vectors` ((n, dim), unit length).

        Returns `columns` plus `query_index` (which vector a row answers) and `score` (cosine),
        best first per query. `where` is applied before the search (a prefilter) and `min_score`
        becomes a distance range, so both narrow what LanceDB reads instead of trimming its
        answer. `kept_rows` says how many rows a selective prefilter (a channel) keeps: few
        enough are searched exhaustively, more with more partitions. `probe_share` is the share
        of partitions read (ANN_TEXT_PROBE_SHARE for text). `exact` bypasses any vector index
        (the ground truth for recall measurements).
        """
        table = {VIDEOS: self.videos, FRAMES: self.frames}[table_name]
        query = table.search(vectors[0] if len(vectors) == 1 else list(vectors), vector_column_name="vector")
        query = query.distance_type(DISTANCE)
        if where:
            query = query.where(where, prefilter=True)
        if min_score is not None:
            # The bound is exclusive; the epsilon keeps a score equal to min_score in.
            query = query.distance_range(upper_bound=1.0 - min_score + 1e-6)
        if exact or (kept_rows is not None and kept_rows <= ANN_MIN_ROWS):
            # Exhaustive over the rows the prefilter keeps: exact, and cheap below the threshold.
            query = query.bypass_vector_index()
        else:
            query = query.nprobes(self.nprobes(table_name, probe_share, kept_rows))
        found = query.limit(limit).select([*columns, "_distance"]).to_arrow()
        if "query_index" not in found.column_names:
            found = found.append_column("query_index", pa.array(np.zeros(found.num_rows, np.int32)))
        score = pc.subtract(pa.scalar(1.0, pa.float32()), found.column("_distance"))
        found = found.append_column("score", score).drop_columns(["_distance"])
        # A damaged stored vector scores NaN, or past 1: such a row is no answer (`vindex check` names it).
        sound = pc.and_(pc.is_finite(score), pc.less_equal(pc.abs(score), 1.0 + UNIT_TOLERANCE))
        return found.filter(pc.fill_null(sound, False))

    def nprobes(self, table_name: str, share: float = ANN_PROBE_SHARE, kept_rows: int | None = None) -> int:
        """How many IVF partitions a query reads: `share` of them, at least ANN_MIN_ROWS rows'
        worth, and more in proportion when a prefilter keeps only `kept_rows` rows, so that as
        many rows passing it are compared as there would be without a filter."""
        trained = self.meta.ann.get(table_name, {})
        partitions, rows = trained.get("partitions") or 1, trained.get("rows") or 1
        share = max(share, ANN_MIN_ROWS / rows) * rows / min(kept_rows or rows, rows)
        return max(1, min(partitions, math.ceil(partitions * share)))

    def vector_indexes(self) -> dict[str, dict]:
        """Table name → facts about its vector index (type, indexed and unindexed rows)."""
        facts = {}
        for name, table in ((VIDEOS, self.videos), (FRAMES, self.frames)):
            for index in table.list_indices() if table is not None else []:
                if index.columns == ["vector"]:
                    facts[name] = {
                        "type": index.index_type, "indexed_rows": index.num_indexed_rows,
                        "unindexed_rows": index.num_unindexed_rows,
                        "trained_rows": self.meta.ann.get(name, {}).get("rows"),
                    }
        return facts

    def ensure_search_indexes(self, rebuild: bool = False, min_rows: int | None = None) -> list[dict]:
        """Give each vector table past `min_rows` an IVF_FLAT index (retrained when the table has
        grown ANN_RETRAIN_GROWTH times since, or when `rebuild`), plus the scalar indexes that make
        prefilters cheap. Returns what was built, one dict per vector index.

        Rows added after training are folded into the index by `optimize()` (LanceDB searches
        not-yet-indexed rows exhaustively, so results stay complete either way).
        """
        from lancedb.index import BTree, Bitmap, IvfFlat

        min_rows = ANN_MIN_ROWS if min_rows is None else min_rows
        self._ensure_scalar_index(self.frames, "video_id", BTree)
        self._ensure_scalar_index(self.frames, "input_digest", BTree)  # `vectors_of_inputs`, once per batch of `add`
        self._ensure_scalar_index(self.videos, "channel", Bitmap)
        existing = self.vector_indexes()
        trained = dict(self.meta.ann)
        built = []
        for name, table in ((VIDEOS, self.videos), (FRAMES, self.frames)):
            rows = table.count_rows() if table is not None else 0
            if rows < min_rows and name not in existing:
                continue
            at = trained.get(name, {}).get("rows") or 0
            if name in existing and not rebuild and rows < at * ANN_RETRAIN_GROWTH:
                continue
            partitions = max(1, round(math.sqrt(rows)))
            started = time.perf_counter()
            table.create_index(
                "vector", config=IvfFlat(distance_type=DISTANCE, num_partitions=partitions), replace=True
            )
            trained[name] = {"type": "IVF_FLAT", "rows": rows, "partitions": partitions}
            built.append(dict(table=name, **trained[name], seconds=round(time.perf_counter() - started, 3)))
        if built:
            self.set_meta(ann=trained)
        return built

    @staticmethod
    def _ensure_scalar_index(table, column: str, kind) -> None:
        if table is not None and not any(index.columns == [column] for index in table.list_indices()):
            table.create_index(column, config=kind())


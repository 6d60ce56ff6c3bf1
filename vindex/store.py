"""The LanceDB tables that hold the index.

`videos`: one row per file (path relative to the indexed root, stat fingerprint, content hash,
media metadata, the mean-pooled vector, cluster columns). `frames`: one row per embedded frame.
`meta`: key → JSON value (schema version, model, weights, vector size, frames per video, root).
"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vindex.errors import VindexError

SCHEMA_VERSION = 1
INDEX_FOLDER = ".vindex"
VIDEOS, FRAMES, META, CLUSTERS = "videos", "frames", "meta", "clusters"
TERMS = "terms"  # the cluster-naming vocabulary's text vectors, cached per model and vocabulary
# Ids go into SQL `IN (...)` lists; this keeps each statement a reasonable size.
ID_CHUNK = 1000
OLD_VERSION_GRACE = timedelta(minutes=1)
CATALOG_COLUMNS = ["id", "path", "size", "mtime_ns", "content_hash", "num_frames"]
# Vector search: docs/search.md has the measurements behind these numbers. Vectors are unit
# length, so LanceDB's "dot" distance is 1 - cosine.
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


def video_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("path", pa.string(), nullable=False),
            pa.field("channel", pa.string()),
            pa.field("size", pa.int64()),
            pa.field("mtime_ns", pa.int64()),
            pa.field("content_hash", pa.string()),
            pa.field("duration", pa.float64()),
            pa.field("fps", pa.float64()),
            pa.field("width", pa.int32()),
            pa.field("height", pa.int32()),
            pa.field("frame_count", pa.int64()),
            pa.field("num_frames", pa.int32()),
            pa.field("vector", pa.list_(pa.float32(), dim)),
            pa.field("indexed_at", pa.timestamp("us", tz="UTC")),
            pa.field("cluster", pa.int32()),
            pa.field("cluster_probability", pa.float32()),
            pa.field("x", pa.float32()),
            pa.field("y", pa.float32()),
        ]
    )


def frame_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("video_id", pa.string(), nullable=False),
            pa.field("frame_index", pa.int32()),
            pa.field("timestamp", pa.float64()),
            pa.field("vector", pa.list_(pa.float32(), dim)),
        ]
    )


def cluster_schema(dim: int) -> pa.Schema:
    """One row per cluster of the latest `vindex cluster` run (noise is not a cluster)."""
    return pa.schema(
        [
            pa.field("id", pa.int32(), nullable=False),
            pa.field("name", pa.string()),
            pa.field("size", pa.int32()),
            pa.field("centroid", pa.list_(pa.float32(), dim)),
            pa.field("exemplars", pa.list_(pa.string())),  # video ids, closest to the centroid first
            pa.field("mean_probability", pa.float32()),
            pa.field("params", pa.string()),  # JSON: the options and model of the run
            pa.field("created_at", pa.timestamp("us", tz="UTC")),
        ]
    )


def vectors_of(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A fixed-size-list vector column as an (n, dim) float32 array, without a Python loop."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    dim = column.type.list_size
    return column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, dim)


def resolve_db(db: str | None, root: Path | None = None) -> str:
    """Where the index lives: `--db`, else $VINDEX_DB, else a `.vindex` folder found from the
    working directory upward, else (when adding) a new `.vindex` beside the scanned folder."""
    if db:
        return _expand(db)
    if os.environ.get("VINDEX_DB"):
        return _expand(os.environ["VINDEX_DB"])
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / INDEX_FOLDER).is_dir():
            return str(folder / INDEX_FOLDER)
    if root is not None:
        return str(root.resolve().parent / INDEX_FOLDER)
    raise VindexError("no index found here: run `vindex add FOLDER` first, or pass --db PATH (or set VINDEX_DB)")


def _expand(uri: str) -> str:
    return uri if "://" in uri else str(Path(uri).expanduser().absolute())


def storage_reason(error: BaseException) -> str:
    """The part of a LanceDB/object-store error a user can act on, not the Rust debug dump around it.

    S3-style servers explain themselves in an XML body (<Code>NoSuchBucket</Code>); connection
    failures end in `message: "Connection refused"`.
    """
    text = str(error)
    code, message = re.search(r"<Code>(.*?)</Code>", text), re.search(r"<Message>(.*?)</Message>", text)
    if code or message:
        return ": ".join(m.group(1) for m in (code, message) if m)
    found = re.findall(r'message: "([^"]+)"', text)
    if found:
        return found[-1]
    return (text.splitlines()[0] if text.strip() else type(error).__name__)[:160]


def sql_list(values: Iterable[str]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def chunked(items: list, size: int = ID_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Store:
    """The index's tables at one LanceDB URI (a local folder or any URI LanceDB accepts)."""

    def __init__(self, uri: str, create: bool = False):
        # Lance's Rust logger otherwise prints WARN lines (e.g. "No existing dataset") on stderr.
        os.environ.setdefault("LANCE_LOG", "error")
        os.environ.setdefault("LANCEDB_LOG", "error")
        import lancedb

        self.uri = uri
        local = "://" not in uri
        if local and Path(uri).exists() and not Path(uri).is_dir():
            raise VindexError(f"{uri} is not an index folder (it is a file)")
        if local and not create and not Path(uri).is_dir():
            raise VindexError(f"no index at {uri}: run `vindex add FOLDER` first, or pass --db PATH")
        try:
            if local:
                Path(uri).mkdir(parents=True, exist_ok=True)
            # Always read the latest version: another Index (or process) may have written since.
            self.db = lancedb.connect(uri, read_consistency_interval=timedelta(0))
            names = set(self.db.list_tables().tables)
        except VindexError:
            raise
        except Exception as error:
            raise VindexError(f"cannot open the index at {uri}: {storage_reason(error)}") from None
        self._meta = self._read_meta() if META in names else {}
        self.videos = self.db.open_table(VIDEOS) if VIDEOS in names else None
        self.frames = self.db.open_table(FRAMES) if FRAMES in names else None
        self.clusters = self.db.open_table(CLUSTERS) if CLUSTERS in names else None

    # -- metadata -----------------------------------------------------------------------------
    def _read_meta(self) -> dict:
        table = self.db.open_table(META).to_arrow().to_pylist()
        return {row["key"]: json.loads(row["value"]) for row in table}

    @property
    def meta(self) -> dict:
        return dict(self._meta)

    def set_meta(self, **items) -> None:
        self._meta.update(items)
        rows = pa.table({"key": list(self._meta), "value": [json.dumps(v) for v in self._meta.values()]})
        self.db.create_table(META, data=rows, mode="overwrite")

    @property
    def is_empty(self) -> bool:
        return self.videos is None or self.videos.count_rows() == 0

    def initialise(self, dim: int, **meta) -> None:
        """Create empty tables for vectors of size `dim` and record what made them."""
        if self._meta.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise VindexError(
                f"index schema version {self._meta['schema_version']} is not {SCHEMA_VERSION}: "
                "re-create it with a new --db"
            )
        self.videos = self.db.create_table(VIDEOS, schema=video_schema(dim), exist_ok=True)
        self.frames = self.db.create_table(FRAMES, schema=frame_schema(dim), exist_ok=True)
        self.set_meta(schema_version=SCHEMA_VERSION, dim=dim, **meta)

    def drop_vectors(self) -> None:
        """Forget every video, frame and what made them (for --reembed with another model)."""
        for name in (VIDEOS, FRAMES, META, CLUSTERS):
            if name in self.db.list_tables().tables:
                self.db.drop_table(name)
        self.videos = self.frames = self.clusters = None
        self._meta = {}

    # -- reading ------------------------------------------------------------------------------
    def require_videos(self):
        if self.is_empty:
            raise VindexError(f"the index at {self.uri} holds no videos: run `vindex add FOLDER` first")
        return self.videos

    def catalog(self, columns: list[str] = CATALOG_COLUMNS) -> pa.Table:
        """Every video row without its vector: cheap enough to hold for 100,000s of videos."""
        if self.videos is None:
            return video_schema(self._meta.get("dim", 1)).empty_table().select(columns)
        return self.videos.search().select(columns).limit(None).to_arrow()

    def videos_by_id(self, ids: list[str], columns: list[str] | None = None) -> pa.Table:
        parts = []
        for chunk in chunked(ids):
            query = self.videos.search().where(f"id IN ({sql_list(chunk)})")
            if columns:
                query = query.select(columns)
            parts.append(query.limit(None).to_arrow())
        return pa.concat_tables(parts) if parts else self.videos.schema.empty_table()

    def frames_by_video(self, ids: list[str]) -> pa.Table:
        parts = [
            self.frames.search().where(f"video_id IN ({sql_list(chunk)})").limit(None).to_arrow()
            for chunk in chunked(ids)
        ]
        return pa.concat_tables(parts) if parts else self.frames.schema.empty_table()

    # -- writing ------------------------------------------------------------------------------
    def write(self, videos: pa.Table, frames: pa.Table | None) -> None:
        """Replace the frames of these videos, then upsert the video rows.

        Frames go first: a video row is only written once its frames are, so a run killed in
        between leaves frames without a row, which the next run overwrites (ids are
        deterministic) or `sweep_orphan_frames` removes.
        """
        if frames is not None:
            ids = videos.column("id").to_pylist()
            for chunk in chunked(ids):
                self.frames.delete(f"video_id IN ({sql_list(chunk)})")
            if frames.num_rows:
                self.frames.add(frames.cast(self.frames.schema))
        self.upsert_videos(videos)

    def upsert_videos(self, videos: pa.Table) -> None:
        if not videos.num_rows:
            return
        result = (
            self.videos.merge_insert("id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(videos.select(self.videos.schema.names).cast(self.videos.schema))
        )
        # LanceDB has reported merges that silently touch nothing; never let that pass quietly.
        if result.num_updated_rows + result.num_inserted_rows != videos.num_rows:
            raise VindexError(
                f"index write incomplete: {videos.num_rows} rows sent, "
                f"{result.num_updated_rows} updated, {result.num_inserted_rows} inserted"
            )

    def update_rows(self, changes: dict[str, dict], batch: int = 256) -> int:
        """Set some columns (a new path and stat, say) of existing video rows, keeping their vectors.

        `changes` maps a video id to {column: value}. LanceDB updates by merging whole rows, so
        each row is read and written back with its vector as stored: nothing is re-embedded.
        Ids no longer in the index are ignored; returns how many rows were updated.
        """
        updated = 0
        for chunk in chunked(list(changes), batch):
            rows = self.videos_by_id(chunk).to_pylist()
            for row in rows:
                row.update(changes[row["id"]])
            self.upsert_videos(pa.Table.from_pylist(rows, self.videos.schema))
            updated += len(rows)
        return updated

    def delete_videos(self, ids: list[str]) -> None:
        for chunk in chunked(ids):
            self.frames.delete(f"video_id IN ({sql_list(chunk)})")
            self.videos.delete(f"id IN ({sql_list(chunk)})")

    def sweep_orphan_frames(self) -> int:
        """Remove frames whose video row was never written (a run killed between the two writes)."""
        expected = pc.sum(self.catalog(["num_frames"]).column("num_frames")).as_py() or 0
        if self.frames.count_rows() == expected:
            return 0
        known = set(self.catalog(["id"]).column("id").to_pylist())
        stored = set(self.frames.search().select(["video_id"]).limit(None).to_arrow().column("video_id").to_pylist())
        orphans = sorted(stored - known)
        for chunk in chunked(orphans):
            self.frames.delete(f"video_id IN ({sql_list(chunk)})")
        return len(orphans)

    def optimize(self) -> None:
        """Compact the many small fragments and versions that batched writes leave behind."""
        for table in (self.videos, self.frames):
            if table is not None:
                # Versions younger than this may still be read by another process (a query running
                # during an add); older ones are dropped.
                table.optimize(cleanup_older_than=OLD_VERSION_GRACE)

    # -- facts --------------------------------------------------------------------------------
    def size_on_disk(self) -> int | None:
        if "://" in self.uri:
            return None
        return sum(f.stat().st_size for f in Path(self.uri).rglob("*") if f.is_file())

    def cluster_names(self) -> dict[int, str]:
        """Cluster id → name from the latest clustering run (empty before any)."""
        if self.clusters is None:
            return {}
        rows = self.clusters.search().select(["id", "name"]).limit(None).to_arrow().to_pylist()
        return {row["id"]: row["name"] for row in rows}

    def count_frames(self) -> int:
        return 0 if self.frames is None else self.frames.count_rows()

    # -- clusters -----------------------------------------------------------------------------
    def write_cluster_labels(self, labels: pa.Table) -> None:
        """Set `cluster`, `cluster_probability`, `x`, `y` of the rows named by `labels["id"]`.

        Only those four columns are sent, so vectors and file facts are never rewritten.
        """
        columns = ["id", "cluster", "cluster_probability", "x", "y"]
        schema = pa.schema([self.videos.schema.field(name) for name in columns])
        result = self.videos.merge_insert("id").when_matched_update_all().execute(labels.select(columns).cast(schema))
        if result.num_updated_rows != labels.num_rows:
            raise VindexError(
                f"cluster labels incompletely written: {labels.num_rows} rows sent, {result.num_updated_rows} updated "
                "(was the index changed meanwhile? run `vindex cluster` again)"
            )

    def write_clusters(self, rows: list[dict]) -> None:
        """Replace the clusters table with the latest run's clusters."""
        schema = cluster_schema(self._meta["dim"])
        self.clusters = self.db.create_table(CLUSTERS, data=pa.Table.from_pylist(rows, schema), mode="overwrite")

    def cluster_rows(self) -> list[dict]:
        """The latest run's clusters (without centroids), largest first."""
        if self.clusters is None:
            return []
        columns = [name for name in self.clusters.schema.names if name != "centroid"]
        rows = self.clusters.search().select(columns).limit(None).to_arrow().to_pylist()
        return sorted(rows, key=lambda row: (-row["size"], row["id"]))

    def cached_terms(self, key: str) -> tuple[list[str], np.ndarray, float] | None:
        """The vocabulary's terms, text vectors and the model's logit scale stored under `key`
        (a digest of model and vocabulary), if any."""
        if self._meta.get("terms_key") != key or TERMS not in self.db.list_tables().tables:
            return None
        table = self.db.open_table(TERMS).to_arrow()
        return table.column("term").to_pylist(), vectors_of(table.column("vector")), float(self._meta["terms_scale"])

    def cache_terms(self, key: str, terms: list[str], vectors: np.ndarray, scale: float) -> None:
        dim = vectors.shape[1]
        table = pa.table({
            "term": pa.array(terms, pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), dim),
        })
        self.db.create_table(TERMS, data=table, mode="overwrite")
        self.set_meta(terms_key=key, terms_scale=scale)

    # -- search -------------------------------------------------------------------------------
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
        return found.append_column("score", score).drop_columns(["_distance"])

    def nprobes(self, table_name: str, share: float = ANN_PROBE_SHARE, kept_rows: int | None = None) -> int:
        """How many IVF partitions a query reads: `share` of them, at least ANN_MIN_ROWS rows'
        worth, and more in proportion when a prefilter keeps only `kept_rows` rows, so that as
        many rows passing it are compared as there would be without a filter."""
        trained = self._meta.get("ann", {}).get(table_name, {})
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
                        "trained_rows": self._meta.get("ann", {}).get(name, {}).get("rows"),
                    }
        return facts

    def ensure_search_indexes(self, rebuild: bool = False, min_rows: int | None = None) -> list[dict]:
        """Give each vector table past `min_rows` an IVF_FLAT index (retrained when the table has
        grown ANN_RETRAIN_GROWTH times since, or when `rebuild`), plus the scalar indexes that make
        prefilters cheap. Returns what was built, one dict per vector index.

        Rows added after training are folded into the index by `optimize()` (LanceDB searches
        not-yet-indexed rows exhaustively, so results stay complete either way).
        """
        import time

        from lancedb.index import BTree, Bitmap, IvfFlat

        min_rows = ANN_MIN_ROWS if min_rows is None else min_rows
        self._ensure_scalar_index(self.frames, "video_id", BTree)
        self._ensure_scalar_index(self.videos, "channel", Bitmap)
        existing = self.vector_indexes()
        trained = dict(self._meta.get("ann", {}))
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

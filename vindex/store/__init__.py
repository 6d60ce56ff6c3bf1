"""The LanceDB tables that hold the index.

`videos`: one row per file (path relative to the indexed root, stat fingerprint, content hash,
media metadata, the mean-pooled vector, cluster columns). `frames`: one row per embedded frame.
`meta`: key → JSON value (schema version, model, weights, vector size, frames per video, root),
read once per open into `Store.meta`, an `IndexMeta` (`vindex.store.meta`).
Their schemas are in `vindex.schema`, their migrations in `vindex.store.migrations`; vector search
in `vindex.store.vector_index`, the named queries of the layers above in `vindex.store.queries`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vindex.errors import VindexError
from vindex.locations import is_remote, resolve_db  # noqa: F401  (where an index is, named here too)
from vindex.locking import WriterLock
from vindex.schema import (
    CLUSTERS,
    FRAMES,
    META,
    SCHEMA_VERSION,
    TERMS,
    VIDEOS,
    cluster_schema,
    frame_schema,
    vectors_of,
    video_schema,
)
from vindex.store.duplicate_rows import DuplicateCandidate, DuplicateRows, FrameVectors  # noqa: F401
from vindex.store.failures import reads, storage_error, storage_reason, writes
from vindex.store.meta import IndexMeta, followed_root
from vindex.store.queries import ChannelMember, StoredVideo, VideoQueries, chunked, sql_list  # noqa: F401
from vindex.store.migrations import check_version, migrate
from vindex.store.vector_index import ANN_PROBE_SHARE, ANN_TEXT_PROBE_SHARE, VectorSearch  # noqa: F401
from vindex.store.versions import published

OLD_VERSION_GRACE = timedelta(minutes=1)
PINNED_ATTEMPTS, PINNED_RETRY_SECONDS = 10, 0.1  # reads of a version set a writer replaces (a re-embed)
CATALOG_COLUMNS = ["id", "path", "size", "mtime_ns", "content_hash", "num_frames"]


@contextmanager
def writer_lock(uri: str, wait: bool = False) -> Iterator[None]:
    """Hold the index's writer lock (`vindex.locking`); nothing to hold for an object-store index."""
    if is_remote(uri):
        yield
        return
    try:
        Path(uri).mkdir(parents=True, exist_ok=True)
        lock = WriterLock(Path(uri)).acquire(wait)
    except OSError as error:
        raise storage_error(uri, error, writing=True) or VindexError(
            f"cannot lock {uri} for writing: {storage_reason(error)}") from None
    try:
        yield
    finally:
        lock.release()



class Store(VectorSearch, VideoQueries, DuplicateRows):
    """The index's tables at one LanceDB URI (a local folder or any URI LanceDB accepts)."""

    def __init__(self, uri: str, create: bool = False):
        # Lance's Rust logger otherwise prints WARN lines (e.g. "No existing dataset") on stderr.
        os.environ.setdefault("LANCE_LOG", "error")
        os.environ.setdefault("LANCEDB_LOG", "error")
        from vindex.store.lazy_import import import_lancedb

        lancedb = import_lancedb()

        self.uri = uri
        local = not is_remote(uri)
        if local and Path(uri).exists() and not Path(uri).is_dir():
            raise VindexError(f"{uri} is not an index folder (it is a file)")
        if local and not create and not Path(uri).is_dir():
            raise VindexError(f"no index at {uri}: run `vindex add FOLDER` first, or pass --db PATH")
        try:
            if local:
                Path(uri).mkdir(parents=True, exist_ok=True)
            # Always read the latest version: another Index (or process) may have written since.
            self.db = lancedb.connect(uri, read_consistency_interval=timedelta(0))
            self.db.list_tables()
        except VindexError:
            raise
        except Exception as error:
            explained = storage_error(uri, error, writing=create)
            raise explained or VindexError(f"cannot open the index at {uri}: {storage_reason(error)}") from None
        self.reload()
        version = check_version(self.meta.schema_version, uri)
        # An index made by an older vindex is brought up to date once, on its first open.
        self.migrated = migrate(self, version) if not self.meta.is_empty else []

    def reload(self) -> None:
        """Open the tables and read the metadata again, as another writer may have left them:
        while one writes, at the versions it last published together (`store.versions`)."""
        for attempt in range(PINNED_ATTEMPTS):
            pinned = None if is_remote(self.uri) else published(self.uri)
            names = set(self.db.list_tables().tables) if pinned is None else set(pinned)
            try:
                self._pinned = pinned
                self.meta = followed_root(IndexMeta.parse(self._read_meta(pinned) if META in names else {}), self.uri)
                self.videos, self.frames, self.clusters = (
                    self._open(name, pinned) if name in names else None for name in (VIDEOS, FRAMES, CLUSTERS)
                )
                return
            except Exception:  # a writer dropping a table we were to read: read the set it publishes next
                if pinned is None or attempt == PINNED_ATTEMPTS - 1 or published(self.uri) is None:
                    raise
                time.sleep(PINNED_RETRY_SECONDS)

    def _open(self, name: str, pinned: dict[str, int] | None = None):
        """A table at its latest (or pinned) version, or one line saying it is damaged (or unreadable)."""
        try:
            table = self.db.open_table(name)
            if pinned is not None and name in pinned:
                table.checkout(pinned[name])  # even at the latest: a checked-out table stays there
            return table
        except Exception as error:
            explained = storage_error(self.uri, error, writing=False, table=name)
            if explained is None:
                raise
            raise explained from None

    @contextmanager
    def writing(self, wait: bool = False) -> Iterator[Store]:
        """Hold the writer lock for the block, with the tables as the previous writer left them
        (`Index.writing` is the one way the library's writing commands get here)."""
        with writer_lock(self.uri, wait):
            self.reload()
            yield self

    # -- metadata -----------------------------------------------------------------------------
    def _read_meta(self, pinned: dict[str, int] | None = None) -> dict:
        table = self._open(META, pinned)
        try:
            rows = table.to_arrow().to_pylist()
        except Exception as error:
            raise storage_error(self.uri, error, writing=False, table=META) or error from None
        return {row["key"]: json.loads(row["value"]) for row in rows}

    @writes
    def set_meta(self, **items) -> None:
        """Record `items` (IndexMeta's field names) in the meta table; `self.meta` follows."""
        stored = {**self.meta.stored, **items}
        rows = pa.table({"key": list(stored), "value": [json.dumps(v) for v in stored.values()]})
        self.db.create_table(META, data=rows, mode="overwrite")
        self.meta = followed_root(IndexMeta.parse(stored), self.uri)

    @property
    @reads
    def is_empty(self) -> bool:
        return self.videos is None or self.videos.count_rows() == 0

    @writes
    def initialise(self, dim: int, **meta) -> None:
        """Create empty tables for vectors of size `dim` and record what made them."""
        self.videos = self.db.create_table(VIDEOS, schema=video_schema(dim), exist_ok=True)
        self.frames = self.db.create_table(FRAMES, schema=frame_schema(dim), exist_ok=True)
        self.set_meta(schema_version=SCHEMA_VERSION, dim=dim, **meta)

    @writes
    def drop_vectors(self) -> None:
        """Forget every video, frame and what made them (for --reembed with another model)."""
        for name in (VIDEOS, FRAMES, META, CLUSTERS):
            if name in self.db.list_tables().tables:
                self.db.drop_table(name)
        self.videos = self.frames = self.clusters = None
        self.meta = IndexMeta()

    # -- reading ------------------------------------------------------------------------------
    def require_videos(self):
        if self.is_empty:
            raise VindexError(f"the index at {self.uri} holds no videos: run `vindex add FOLDER` first")
        return self.videos

    @reads
    def catalog(self, columns: list[str] = CATALOG_COLUMNS, where: str | None = None) -> pa.Table:
        """Every video row (or those passing `where`) without its vector: cheap enough to hold for
        100,000s of videos."""
        if self.videos is None:
            return video_schema(self.meta.dim or 1).empty_table().select(columns)
        query = self.videos.search()
        return (query.where(where) if where else query).select(columns).limit(None).to_arrow()

    @reads
    def videos_by_id(self, ids: list[str], columns: list[str] | None = None) -> pa.Table:
        parts = []
        for chunk in chunked(ids):
            query = self.videos.search().where(f"id IN ({sql_list(chunk)})")
            if columns:
                query = query.select(columns)
            parts.append(query.limit(None).to_arrow())
        return pa.concat_tables(parts) if parts else self.videos.schema.empty_table()

    @reads
    def fingerprinted_before(self, rules_version: int) -> pa.Table:
        """id, path and num_frames of the video rows whose fingerprints were never computed (an index
        made before schema version 2) or were made by rules older than `rules_version`."""
        if self.videos is None:
            return pa.table({"id": [], "path": [], "num_frames": []})
        stale = f"fingerprints IS NULL OR fingerprint_rules IS NULL OR fingerprint_rules < {int(rules_version)}"
        query = self.videos.search().where(stale).select(["id", "path", "num_frames"])
        return query.limit(None).to_arrow()

    @reads
    def frames_by_video(self, ids: list[str]) -> pa.Table:
        parts = [
            self.frames.search().where(f"video_id IN ({sql_list(chunk)})").limit(None).to_arrow()
            for chunk in chunked(ids)
        ]
        return pa.concat_tables(parts) if parts else self.frames.schema.empty_table()

    # -- writing ------------------------------------------------------------------------------
    @writes
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

    @writes
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

    @writes
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

    @writes
    def delete_videos(self, ids: list[str]) -> None:
        for chunk in chunked(ids):
            self.frames.delete(f"video_id IN ({sql_list(chunk)})")
            self.videos.delete(f"id IN ({sql_list(chunk)})")

    @writes
    def delete_rows(self, name: str, column: str, values: list[str]) -> None:
        """Delete the rows of table `name` (videos or frames) whose `column` is one of `values`."""
        table = {VIDEOS: self.videos, FRAMES: self.frames}[name]
        for chunk in chunked(values):
            table.delete(f"{column} IN ({sql_list(chunk)})")

    @writes
    def append(self, name: str, rows: pa.Table) -> None:
        """Add rows to table `name` (videos or frames) as they are: a repair puts back rows it kept."""
        table = {VIDEOS: self.videos, FRAMES: self.frames}[name]
        table.add(rows.cast(table.schema))

    @writes
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

    @writes
    def optimize(self) -> None:
        """Compact the many small fragments and versions that batched writes leave behind."""
        for table in (self.videos, self.frames):
            if table is not None:
                # Versions younger than this may still be read by another process (a query running
                # during an add); older ones are dropped.
                table.optimize(cleanup_older_than=OLD_VERSION_GRACE)

    # Vector search and its index upkeep read and write the tables too.
    nearest = reads(VectorSearch.nearest)
    vector_indexes = reads(VectorSearch.vector_indexes)
    ensure_search_indexes = writes(VectorSearch.ensure_search_indexes)

    # -- facts --------------------------------------------------------------------------------
    def size_on_disk(self) -> int | None:
        """Bytes under the index folder; files a writer removes while this walks (a re-embed drops
        whole tables) are not counted, never an error."""
        if is_remote(self.uri):
            return None
        total = 0
        for folder, _, files in os.walk(self.uri):  # os.walk skips folders that vanish mid-walk
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.stat(os.path.join(folder, name)).st_size
        return total

    @reads
    def cluster_names(self) -> dict[int, str]:
        """Cluster id → name from the latest clustering run (empty before any)."""
        if self.clusters is None:
            return {}
        rows = self.clusters.search().select(["id", "name"]).limit(None).to_arrow().to_pylist()
        return {row["id"]: row["name"] for row in rows}

    @reads
    def count_frames(self) -> int:
        return 0 if self.frames is None else self.frames.count_rows()

    # -- clusters -----------------------------------------------------------------------------
    @writes
    def write_cluster_labels(self, labels: pa.Table) -> None:
        """Set `cluster`, `cluster_probability`, `x`, `y` (and `cluster_status` when given) of the rows
        named by `labels["id"]`.

        Only those columns are sent, so vectors and file facts are never rewritten.
        """
        columns = [name for name in ("id", "cluster", "cluster_probability", "x", "y", "cluster_status")
                   if name in labels.column_names]
        schema = pa.schema([self.videos.schema.field(name) for name in columns])
        result = self.videos.merge_insert("id").when_matched_update_all().execute(labels.select(columns).cast(schema))
        if result.num_updated_rows != labels.num_rows:
            raise VindexError(
                f"cluster labels incompletely written: {labels.num_rows} rows sent, {result.num_updated_rows} updated "
                "(was the index changed meanwhile? run `vindex cluster` again)"
            )

    @writes
    def write_clusters(self, rows: list[dict]) -> None:
        """Replace the clusters table with the latest run's clusters."""
        schema = cluster_schema(self.meta.dim)
        self.clusters = self.db.create_table(CLUSTERS, data=pa.Table.from_pylist(rows, schema), mode="overwrite")

    @reads
    def cluster_rows(self, centroids: bool = False) -> list[dict]:
        """The latest run's clusters (with their centroids when asked), largest first."""
        if self.clusters is None:
            return []
        columns = [name for name in self.clusters.schema.names if centroids or name != "centroid"]
        rows = self.clusters.search().select(columns).limit(None).to_arrow().to_pylist()
        return sorted(rows, key=lambda row: (-row["size"], row["id"]))

    @reads
    def cached_terms(self, key: str) -> tuple[list[str], np.ndarray, float] | None:
        """The vocabulary's terms, text vectors and the model's logit scale stored under `key`
        (a digest of model and vocabulary), if any."""
        if self.meta.terms_key != key or TERMS not in self.db.list_tables().tables:
            return None
        table = self.db.open_table(TERMS).to_arrow()
        return table.column("term").to_pylist(), vectors_of(table.column("vector")), float(self.meta.terms_scale)

    @writes
    def cache_terms(self, key: str, terms: list[str], vectors: np.ndarray, scale: float) -> None:
        dim = vectors.shape[1]
        table = pa.table({
            "term": pa.array(terms, pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), dim),
        })
        self.db.create_table(TERMS, data=table, mode="overwrite")
        self.set_meta(terms_key=key, terms_scale=scale)

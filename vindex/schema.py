"""The shape of an index: its tables' Arrow schemas, the schema version, and the numbered
migrations that bring an older index up to date when it is opened.

A change to a table's columns bumps SCHEMA_VERSION and adds `MIGRATIONS[old_version]`, a function
that takes the store at `old_version` and leaves it at `old_version + 1`; tests/test_schema.py runs
each one on an index written by the previous version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import pyarrow as pa

from vindex.errors import VindexError

if TYPE_CHECKING:
    from vindex.store import Store

SCHEMA_VERSION = 3
VIDEOS, FRAMES, META, CLUSTERS = "videos", "frames", "meta", "clusters"
TERMS = "terms"  # the cluster-naming vocabulary's text vectors, cached per model and vocabulary

# from-version -> the function that migrates an index from that version to the next.
MIGRATIONS: dict[int, Callable[["Store"], None]] = {}


# Version 2: perceptual fingerprints for duplicate finding, and how a video got its cluster.
VIDEO_COLUMNS_V2 = [
    # 64-bit DCT hashes of frames sampled densely (every 0.5 s; keyframes past 30 s), time order, blank frames
    # left out; null until computed (an index from version 1 gets them on its next add).
    pa.field("fingerprints", pa.list_(pa.int64())),
    pa.field("fingerprint_times", pa.list_(pa.float32())),  # seconds from the start, one per fingerprint
    # "clustered" (placed by the latest `vindex cluster` fit) or "assigned" (placed later by `add`
    # with the saved models); null when in no cluster run.
    pa.field("cluster_status", pa.string()),
]
FRAME_COLUMNS_V2 = [
    pa.field("phash", pa.int64()),  # the frame's 64-bit DCT hash (bars cropped first)
    pa.field("blank", pa.bool_()),  # black, white, one colour or a fade: never a match
]


def _add_fingerprint_columns(store: "Store") -> None:
    """Version 1 → 2: the new columns, null; `add` fills fingerprints in without re-embedding."""
    if store.videos is not None:
        store.videos.add_columns(VIDEO_COLUMNS_V2)
    if store.frames is not None:
        store.frames.add_columns(FRAME_COLUMNS_V2)


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
            *VIDEO_COLUMNS_V2,
        ]
    )


def frame_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("video_id", pa.string(), nullable=False),
            pa.field("frame_index", pa.int32()),
            pa.field("timestamp", pa.float64()),
            pa.field("vector", pa.list_(pa.float32(), dim)),
            *FRAME_COLUMNS_V2,
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


MIGRATIONS[1] = _add_fingerprint_columns


def _record_fixed_frame_policy(store: "Store") -> None:
    """Version 2 → 3: the index's frame policy in `meta` (`vindex.sampling`). An index made before
    frames followed the shots took a fixed count per video: that is recorded, and the next `add`
    says once how to move to the per-shot policy (`frame_upgrade_pending`)."""
    meta = store.meta
    if "model" not in meta or meta.get("frame_policy"):
        return
    frames = int(meta.get("frames_per_video") or 5)
    store.set_meta(frame_policy=dict(kind="fixed", frames=frames), frame_upgrade_pending=True)


MIGRATIONS[2] = _record_fixed_frame_policy


def check_version(found: int | None, uri: str) -> int:
    """The index's schema version, refused when it is newer than this vindex knows."""
    version = SCHEMA_VERSION if found is None else int(found)
    if version > SCHEMA_VERSION:
        raise VindexError(
            f"the index at {uri} has schema version {version}, newer than this vindex understands "
            f"(version {SCHEMA_VERSION}): upgrade vindex (pip install -U vindex)"
        )
    return version


def migrate(store: "Store", version: int) -> list[int]:
    """Run the migrations from `version` up to SCHEMA_VERSION, recording each step; returns the
    versions migrated from."""
    done = []
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise VindexError(
                f"the index at {store.uri} has schema version {version}, which this vindex cannot migrate: "
                "rebuild it with `vindex add FOLDER --reembed`"
            )
        step(store)
        version += 1
        store.set_meta(schema_version=version)
        done.append(version - 1)
    return done

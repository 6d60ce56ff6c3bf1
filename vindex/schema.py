"""The shape of an index: its tables' Arrow schemas and the schema version.

A change to a table's columns bumps SCHEMA_VERSION and adds a numbered migration in
`vindex.store.migrations`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

SCHEMA_VERSION = 10
VIDEOS, FRAMES, META, CLUSTERS = "videos", "frames", "meta", "clusters"
TERMS = "terms"  # the cluster-naming vocabulary's text vectors, cached per model and vocabulary
CURATION = "curation"  # the user's cluster decisions (rename, merge, move, split, undo), one row each


# Version 2: perceptual fingerprints for duplicate finding, and how a video got its cluster.
VIDEO_COLUMNS_V2 = [
    # 64-bit DCT hashes of frames sampled densely (every 0.2 s; every second past 30 s, since version 4), time
    # order, blank frames (and, since version 4, title cards and frozen ends) left out; null until computed
    # (an index from an older version gets them on its next add).
    pa.field("fingerprints", pa.list_(pa.int64())),
    pa.field("fingerprint_times", pa.list_(pa.float32())),  # seconds from the start, one per fingerprint
    # "clustered" (placed by the latest `vindex cluster` fit); placed later by `add` with the saved
    # models: "assigned" (joined a cluster), "assigned-far" or "noise" (noise, and why: see
    # clustering/joining.py); null when in no cluster run.
    pa.field("cluster_status", pa.string()),
]
FRAME_COLUMNS_V2 = [
    pa.field("phash", pa.int64()),  # the frame's 64-bit DCT hash (bars cropped first)
    pa.field("blank", pa.bool_()),  # black, white, one colour or a fade: never a match
]


# Version 4: fingerprints five a second (one a second past 30 s, from every reference frame rather than
# keyframes), title cards and frozen ends left out of them, and what makes the best copy of duplicates.
VIDEO_COLUMNS_V4 = [
    pa.field("content_seconds", pa.float64()),  # seconds of footage: not blank, no title card or frozen end
    pa.field("picture_width", pa.int32()),  # the picture without its bars (letterbox, pillarbox)
    pa.field("picture_height", pa.int32()),
]


# Version 6: each frame's model-input digest (`vindex.indexing.distinct`), so that a frame bit-identical
# to one the index holds takes its vector instead of a forward pass; null for frames from before.
FRAME_COLUMNS_V6 = [pa.field("input_digest", pa.string())]

# Version 7: a colour signature per fingerprint, since grey hashes alone group one pattern in two palettes.
VIDEO_COLUMNS_V7 = [
    # Per fingerprint, the mean grey level of each quarter of its picture and the mean U and V of its top and
    # bottom halves (vindex.fingerprints.colour_signatures): eight signed bytes as one int64; null until computed.
    pa.field("fingerprint_colours", pa.list_(pa.int64())),
]

# Version 8: a finer hash per fingerprint, since the 64-bit hash alone groups checkerboards of other checker
# sizes and one board with a few tiles moved.
VIDEO_COLUMNS_V8 = [
    # Per fingerprint, the signs of the 16x16 lowest DCT frequencies of its picture (vindex.fingerprints.
    # fine_hashes): 256 bits as four int64, one fingerprint after another; null until computed.
    pa.field("fingerprint_fine", pa.list_(pa.int64())),
]

# Version 9: the version of the rules each row's fingerprints were made by, since a change to which samples
# count as footage (blank, held) leaves the fingerprints made before it behind without changing a column.
VIDEO_COLUMNS_V9 = [
    # vindex.fingerprints.RULES_VERSION when the row was fingerprinted; null: before version 9 (refreshed
    # by the next add, by decoding, like an older version).
    pa.field("fingerprint_rules", pa.int32()),
]

# Version 10: the footage a user would miss were the video deleted, which decides the best copy of duplicates:
# the fingerprints leave out a picture held at the start that a trimmed copy holds less of, so an original
# measured less footage than its trimmed copy, or looked padded by a title card, and was not kept.
VIDEO_COLUMNS_V10 = [
    # Seconds of footage (`vindex.footage.footage`: no blank, no held picture that cuts to others, a still
    # opening the footage grows out of counted), and where it starts (`vindex.footage.footage_start`).
    pa.field("footage_seconds", pa.float64()),
    pa.field("footage_start", pa.float64()),
    # The first picture that is not blank (its 64-bit hash) and its seconds from the start: a copy that opens
    # on the same picture shows what the video's held opening shows, so that opening is no title card.
    pa.field("first_picture_time", pa.float64()),
    pa.field("first_picture", pa.int64()),
]  # all null until the row is fingerprinted again


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
            *VIDEO_COLUMNS_V4,
            *VIDEO_COLUMNS_V7,
            *VIDEO_COLUMNS_V8,
            *VIDEO_COLUMNS_V9,
            *VIDEO_COLUMNS_V10,
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
            *FRAME_COLUMNS_V6,
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


def curation_schema() -> pa.Schema:
    """Version 3: one row per curation decision, never rewritten (the audit trail); the clusters as
    the user sees them are the fit with the decisions not undone applied in `seq` order."""
    return pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),  # 1, 2, 3… in the order the decisions were made
            pa.field("action", pa.string(), nullable=False),  # rename, merge, move, split, retune or undo
            pa.field("cluster", pa.int32()),  # the cluster acted on (the one that stays, for a merge)
            pa.field("args", pa.string()),  # JSON: what the action needs to be replayed after a re-fit
            pa.field("undo", pa.string()),  # JSON: the labels and names before it, to undo it
            pa.field("user", pa.string()),  # the OS user who made it
            pa.field("at", pa.timestamp("us", tz="UTC")),
        ]
    )


def vectors_of(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A fixed-size-list vector column as an (n, dim) float32 array, without a Python loop."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    dim = column.type.list_size
    return column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, dim)

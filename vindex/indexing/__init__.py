"""`add`: bring the index in line with a folder of videos, doing as little work as possible.

Unchanged files cost a `stat`; new or changed files are hashed; a hash already in the index
means a rename (the row follows the file) or a copy (vectors are reused); only content never
seen before is decoded and embedded, by a runner, and its rows are written in batches.

    plan        what is unchanged, touched, renamed, copied, new or changed, deleted
    rows        row building: new rows from vectors, copied rows, moved rows, batched writes
    pipeline    decode-ahead threads feeding a batched model (the local runner's stages)
    runners     `JobRunner`, `RunSettings`, `LocalRunner`, `make_runner`
    ray_runner  `RayRunner`: the same stages on Ray Data (optional extra)
    backfill    fingerprints for rows indexed before they existed: decoded again, not re-embedded
    summary     `AddSummary` and `Failure`, what one `add` did
    sync        `add_folder`: the steps above in an order that keeps the index usable
"""

from vindex.indexing.pipeline import decode_ahead
from vindex.indexing.plan import EmbedJob, SyncPlan, plan_sync
from vindex.indexing.rows import apply_copies, mean_vector, video_id
from vindex.indexing.runners import JobRunner, LocalRunner, ModelLoader, RunSettings, make_runner
from vindex.indexing.summary import AddSummary, Failure
from vindex.indexing.sync import add_folder, check_folder, ensure_root

__all__ = [
    "AddSummary", "EmbedJob", "Failure", "JobRunner", "LocalRunner", "ModelLoader", "RunSettings", "SyncPlan",
    "add_folder", "apply_copies", "check_folder", "decode_ahead", "ensure_root", "make_runner", "mean_vector",
    "plan_sync", "video_id",
]

"""`add`: bring the index in line with a folder of videos, doing as little work as possible.

Unchanged files cost a `stat`; new or changed files are hashed; a hash already in the index
means a rename (the row follows the file) or a copy (vectors are reused); only content never
seen before is decoded and embedded, by a runner, and its rows are written in batches.

    jobs        `EmbedJob`, `SyncPlan`, `Failure`: what the plan says to do, and what failed
    plan        what is unchanged, touched, renamed, copied, new or changed, deleted
    rows        row building: new rows from vectors, copied rows, moved rows, batched writes
    pipeline    decode-ahead threads feeding a batched model (the local runner's stages)
    runners     `JobRunner`, `RunSettings`, `LocalRunner`
    ray_runner  `RayRunner`: the same stages on Ray Data (optional extra)
    engines     `make_runner`: the runner class for an engine's name (`RUNNERS`)
    backfill    fingerprints for rows from before they existed or before their rules changed: decoded
                again, not re-embedded
    summary     `AddSummary`, what one `add` did
    sync        `add_folder`: the steps above in an order that keeps the index usable
"""

from vindex.indexing.engines import RUNNERS, make_runner
from vindex.indexing.jobs import EmbedJob, Failure, SyncPlan
from vindex.indexing.pipeline import decode_ahead
from vindex.indexing.plan import plan_sync
from vindex.indexing.rows import apply_copies, mean_vector, video_id
from vindex.indexing.runners import JobRunner, LocalRunner, ModelLoader, RunSettings
from vindex.indexing.summary import AddSummary
from vindex.indexing.sync import add_folder, check_folder, check_rebuild, ensure_root

__all__ = [
    "RUNNERS", "AddSummary", "EmbedJob", "Failure", "JobRunner", "LocalRunner", "ModelLoader", "RunSettings",
    "SyncPlan", "add_folder", "apply_copies", "check_folder", "check_rebuild", "decode_ahead", "ensure_root",
    "make_runner", "mean_vector", "plan_sync", "video_id",
]

"""Moving an index to another frame policy without re-embedding everything: only the videos whose
frames would change are embedded again; the others keep their frames and get their video vector
weighted again from them (`vindex.sampling.time_weights`)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from vindex.indexing.rows import mean_vector
from vindex.sampling import FramePolicy, time_weights
from vindex.store import Store


def videos_to_reembed(store: Store, old: FramePolicy, new: FramePolicy) -> list[str]:
    """Ids of the videos whose frames `new` would choose otherwise than `old` did."""
    catalog = store.catalog(["id", "duration", "num_frames"])
    return [row["id"] for row in catalog.to_pylist() if row["num_frames"] and new.changes(old, row["duration"])]


def upgrade_policy(store: Store, old: FramePolicy, new: FramePolicy) -> int:
    """Record `new` as the index's policy and mark the videos it changes for the next embedding
    pass (their `num_frames` is set to 0, which the sync plan re-embeds as changed content); the
    others get their video vector weighted again from their stored frames. Returns how many are
    marked. Safe to stop at any point: a marked video is re-embedded by whichever add comes next."""
    marked = videos_to_reembed(store, old, new)
    if marked:
        store.update_rows({video: dict(num_frames=0) for video in marked})
    kept = [row["id"] for row in store.catalog(["id", "num_frames"]).to_pylist() if row["num_frames"]]
    if kept:
        durations = {r["id"]: r["duration"] for r in store.videos_by_id(kept, ["id", "duration"]).to_pylist()}
        frames = defaultdict(list)
        for frame in store.frames_by_video(kept).sort_by("frame_index").to_pylist():
            frames[frame["video_id"]].append(frame)
        vectors = {}
        for video, rows in frames.items():
            stacked = np.asarray([row["vector"] for row in rows], np.float32)
            weights = time_weights([row["timestamp"] for row in rows], durations[video])
            vectors[video] = dict(vector=mean_vector(stacked, weights).tolist())
        store.update_rows(vectors)
    store.set_meta(frame_policy=new.to_meta(), frames_per_video=new.frames,
                   frame_upgrade_pending=False)
    return len(marked)


def policy_to_add(meta, spec, frames: int | FramePolicy | None, sampling: str | None, upgrade_frames: bool,
                  reembed: bool) -> tuple[FramePolicy, str, FramePolicy | None]:
    """(policy, sampling, the index's recorded policy) for an `add` into an index with `meta`
    (its `IndexMeta`) of `spec`'s vectors; refused when they differ from what the index was built
    with, unless it is being rebuilt (`reembed`) or moved to the default policy (`upgrade_frames`)."""
    from vindex import defaults
    from vindex.errors import VindexError
    from vindex.sampling import FIXED

    if isinstance(frames, int) and frames < 1:
        raise VindexError("--frames must be at least 1")
    recorded_policy = FramePolicy.from_meta(meta) if meta.has_model else None
    if isinstance(frames, FramePolicy):
        policy = frames
    elif frames:
        policy = FramePolicy.fixed(frames)
    elif upgrade_frames or reembed or recorded_policy is None:
        policy = FramePolicy()
    else:
        policy = recorded_policy
    sampling = sampling or (meta.sampling if meta.has_model and not upgrade_frames else defaults.SAMPLING)
    if sampling not in defaults.SAMPLINGS:
        raise VindexError(f"unknown sampling {sampling!r}: use {' or '.join(defaults.SAMPLINGS)}")
    if sampling != "shots" and policy.kind != FIXED:  # only shots tell where the frames go
        policy = FramePolicy.fixed(policy.frames)
    if meta.has_model and not reembed:
        recorded = (meta.model, meta.weights, recorded_policy, meta.sampling)
        wanted = (spec.name, spec.weights, recorded_policy if upgrade_frames else policy, sampling)
        if upgrade_frames and meta.sampling != sampling:
            recorded = recorded[:3] + ("uniform (re-embed it all with --reembed)",)
        if recorded != wanted:
            raise VindexError(
                f"the index was built with {recorded[0]} ({recorded[1]}, {recorded[2].describe()}, "
                f"{recorded[3]} sampling), not {wanted[0]} ({wanted[1]}, {wanted[2].describe()}, {wanted[3]}): "
                "add --reembed to rebuild it, or use a new --db"
            )
    return policy, sampling, recorded_policy

"""Rows of the `videos` and `frames` tables: built from embedded frames, copied from indexed
content, or moved to a new path, and written in batches so memory stays flat."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import xxhash

from vindex.defaults import COMMIT_EVERY
from vindex.fingerprints import RULES_VERSION, to_stored
from vindex.footage import content_seconds, footage, footage_start
from vindex.frames import DecodedVideo
from vindex.sampling import time_weights
from vindex.scanning import VideoFile
from vindex.store import Store

if TYPE_CHECKING:
    from vindex.indexing.jobs import EmbedJob

# A new row belongs to no cluster until the next `vindex cluster`.
NO_CLUSTER = dict(cluster=None, cluster_probability=None, x=None, y=None, cluster_status=None)


def video_id(path: str, content_hash: str, taken: set[str]) -> str:
    """Deterministic, so a run killed after writing frames reuses the same id next time."""
    salt = 0
    while True:
        candidate = xxhash.xxh3_64_hexdigest(f"{path}\0{content_hash}\0{salt}".encode())
        if candidate not in taken:
            taken.add(candidate)
            return candidate
        salt += 1


def file_columns(file: VideoFile) -> dict:
    """The columns of a video row that describe the file on disk rather than its content."""
    return dict(path=file.path, channel=file.channel, size=file.size, mtime_ns=file.mtime_ns)


def mean_vector(frame_vectors: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Mean of the (unit) frame vectors, each weighted by `weights` (the seconds it stands for,
    `vindex.sampling.time_weights`) when given, normalised again: the video's single vector."""
    mean = np.average(frame_vectors, axis=0, weights=weights)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def fingerprint_columns(decoded: DecodedVideo) -> dict:
    """The video row's dense fingerprints of its footage and their colour signatures (blank samples,
    title cards and frozen ends left out: they never match anything; samples whose hash says little
    of the picture too, though they count as footage), how many seconds of footage it has (fingerprinted,
    and as a user counts it: `vindex.footage`) and where that starts, its first picture (not blank) and
    when it shows, and its picture's size without bars."""
    kept, shown = footage(decoded.fingerprints, decoded.fingerprint_times, decoded.fingerprint_blank)
    pictures = np.flatnonzero(~np.asarray(decoded.fingerprint_blank, bool))
    first = pictures[0] if len(pictures) else None
    weak = decoded.fingerprint_weak if len(decoded.fingerprint_weak) == len(kept) else np.zeros(len(kept), bool)
    stored = kept & ~weak
    width_share, height_share = decoded.picture_share
    coloured = len(decoded.fingerprint_colours) == len(kept)
    fine = len(decoded.fingerprint_fine) == len(kept)
    return dict(fingerprints=to_stored(decoded.fingerprints[stored]).tolist(),
                fingerprint_times=decoded.fingerprint_times[stored].tolist(),
                fingerprint_colours=to_stored(decoded.fingerprint_colours[stored]).tolist() if coloured else None,
                fingerprint_fine=to_stored(decoded.fingerprint_fine[stored]).ravel().tolist() if fine else None,
                content_seconds=round(content_seconds(decoded.fingerprint_times, kept, decoded.duration), 3),
                picture_width=round(decoded.width * width_share), picture_height=round(decoded.height * height_share),
                footage_seconds=round(content_seconds(decoded.fingerprint_times, shown, decoded.duration), 3),
                footage_start=footage_start(decoded.fingerprints, decoded.fingerprint_times, shown),
                first_picture_time=None if first is None else float(decoded.fingerprint_times[first]),
                first_picture=None if first is None else int(to_stored(decoded.fingerprints[first : first + 1])[0]),
                fingerprint_rules=RULES_VERSION)


def frame_fingerprints(decoded: DecodedVideo) -> list[dict]:
    """Per frame of `decoded`, its stored hash and blank flag (None where the decode made none)."""
    if len(decoded.phashes) != len(decoded.timestamps):
        return [dict(phash=None, blank=None)] * len(decoded.timestamps)
    return [dict(phash=int(h), blank=bool(b)) for h, b in zip(to_stored(decoded.phashes), decoded.blanks)]


def rows_for(job: EmbedJob, decoded: DecodedVideo, vectors: np.ndarray,
             digests: list[str] | None = None) -> tuple[list[dict], list[dict]]:
    """The video rows (one per file holding the job's content) and their frame rows, with each
    frame's model-input digest (`vindex.indexing.distinct`) when given."""
    video_vector = mean_vector(vectors, time_weights(decoded.timestamps, decoded.duration))
    now = _now()
    hashes = frame_fingerprints(decoded)
    inputs = digests if digests is not None else [None] * len(vectors)
    fingerprints = fingerprint_columns(decoded)
    videos, frames = [], []
    for video, file in zip(job.ids, job.files):
        videos.append(
            dict(
                id=video, **file_columns(file), content_hash=job.content_hash,
                duration=decoded.duration, fps=decoded.fps, width=decoded.width, height=decoded.height,
                frame_count=decoded.frame_count, num_frames=len(vectors), vector=video_vector, indexed_at=now,
                **fingerprints, **NO_CLUSTER,
            )
        )
        frames.extend(
            dict(video_id=video, frame_index=i, timestamp=t, vector=v, input_digest=d, **h)
            for i, (t, v, d, h) in enumerate(zip(decoded.timestamps, vectors, inputs, hashes))
        )
    return videos, frames


def apply_moves(store: Store, moves: list[tuple[str, VideoFile]]) -> None:
    """Point existing rows at a new path/stat without touching their vectors."""
    changes = {video: file_columns(file) for video, file in moves}
    store.update_rows(changes, COMMIT_EVERY)


def apply_copies(store: Store, copies: list[tuple[str, str, VideoFile, bool]]) -> None:
    """Give files whose content is already indexed their own rows, with the stored vectors.

    `copies` holds (source id, new id, file, changed) tuples, as the sync plan lists them.
    """
    for start in range(0, len(copies), COMMIT_EVERY):
        batch = copies[start : start + COMMIT_EVERY]
        sources = {r["id"]: r for r in store.videos_by_id(sorted({c[0] for c in batch})).to_pylist()}
        source_frames = defaultdict(list)
        for frame in store.frames_by_video(list(sources)).to_pylist():
            source_frames[frame["video_id"]].append(frame)
        videos, frames = [], []
        for source, new_id, file, _ in batch:
            videos.append(dict(sources[source], **file_columns(file), id=new_id, indexed_at=_now(), **NO_CLUSTER))
            frames.extend(dict(f, video_id=new_id) for f in source_frames[source])
        store.write(pa.Table.from_pylist(videos, store.videos.schema), pa.Table.from_pylist(frames, store.frames.schema))


class BatchWriter:
    """Collects rows and writes them every `commit_every` videos, and once more at the end."""

    def __init__(self, store: Store, commit_every: int = COMMIT_EVERY):
        self.store = store
        self.commit_every = commit_every
        self.videos: list[dict] = []
        self.frames: list[dict] = []

    def add(self, videos: list[dict], frames: list[dict]) -> None:
        self.videos.extend(videos)
        self.frames.extend(frames)
        if len(self.videos) >= self.commit_every:
            self.flush()

    def flush(self) -> None:
        if self.videos:
            self.store.write(
                pa.Table.from_pylist(self.videos, self.store.videos.schema),
                pa.Table.from_pylist(self.frames, self.store.frames.schema),
            )
        self.videos, self.frames = [], []

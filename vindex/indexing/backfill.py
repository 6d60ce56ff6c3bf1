"""Fingerprints for rows indexed before they existed (schema version 1) or made by older rules
(`vindex.fingerprints.RULES_VERSION`): decoded again, never re-embedded. Their vectors and frames stay
as stored; only the fingerprint columns change."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from vindex.defaults import COMMIT_EVERY
from vindex.errors import DecodeError
from vindex.fingerprints import RULES_VERSION
from vindex.frames import DecodedVideo, read_fingerprints
from vindex.indexing.rows import fingerprint_columns, frame_fingerprints
from vindex.locations import join_root
from vindex.results import ProgressHook
from vindex.store import Store


def backfill_fingerprints(store: Store, prefix: str, workers: int, progress: ProgressHook | None = None,
                          commit_every: int = COMMIT_EVERY) -> int:
    """Fill in the fingerprints of the rows under `prefix` that have none or older ones; returns how
    many were filled. A file that cannot be decoded now keeps what it has (tried again next add)."""
    missing = [row for row in store.fingerprinted_before(RULES_VERSION).to_pylist()
               if row["path"].startswith(prefix) and row["num_frames"]]
    if not missing:
        return 0
    root = store.meta.root
    filled = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vindex-fingerprint") as pool:
        for start in range(0, len(missing), commit_every):
            batch = [row["id"] for row in missing[start : start + commit_every]]
            videos = {row["id"]: row for row in store.videos_by_id(batch).to_pylist()}
            frames = defaultdict(list)
            for frame in store.frames_by_video(list(videos)).to_pylist():
                frames[frame["video_id"]].append(frame)
            for stored in frames.values():
                stored.sort(key=lambda frame: frame["frame_index"])
            # A row without frames (a damaged index: `vindex check`) has no moments to hash again.
            ids = [video for video in videos if frames[video]]
            paths = [join_root(root, videos[video]["path"]) for video in ids]
            moments = [[frame["timestamp"] for frame in frames[video]] for video in ids]
            done_videos, done_frames = [], []
            for number, (video, decoded) in enumerate(zip(ids, pool.map(_read, paths, moments)), start + 1):
                if decoded is not None:
                    done_videos.append(dict(videos[video], **fingerprint_columns(decoded)))
                    hashes = frame_fingerprints(decoded)
                    if len(hashes) != len(frames[video]):  # the stored frames were not all found again
                        hashes = [{}] * len(frames[video])
                    done_frames.extend(dict(frame, **more) for frame, more in zip(frames[video], hashes))
                if progress:
                    progress("fingerprinting", number, len(missing))
            if progress:  # rows skipped above count as done
                progress("fingerprinting", start + len(batch), len(missing))
            if done_videos:
                store.write(pa.Table.from_pylist(done_videos, store.videos.schema),
                            pa.Table.from_pylist(done_frames, store.frames.schema))
                filled += len(done_videos)
    return filled


def _read(path: str, timestamps: list[float]) -> DecodedVideo | None:
    try:
        return read_fingerprints(path, timestamps)
    except DecodeError:
        return None

"""The stretch of a video that matches: a hit's segment around its best frame, and every such
stretch of the video (`--moments`).

A stored frame stands for the time from halfway to the frame before it to halfway to the frame
after it (`vindex.sampling.time_weights`); with frames that follow the shots, that is about its
shot. A frame matches when its score (its cosine to the query; for a query of several frames, to
the closest of them) is within `MOMENT_SHARE` of the way from the video's best frame down to its
worst: relative, because cosines of one model to one query bunch up in ranges that differ from
model to model and query to query. A segment is a run of adjacent matching frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from vindex.hits import Moment
from vindex.moment_pictures import picture_time, video_fingerprints
from vindex.store import Store, vectors_of
from vindex.store.sound import sound_rows

# A frame belongs to a moment when its score is at least best - MOMENT_SHARE * (best - worst) of
# its video: a quarter keeps the frames of a matching scene and leaves out the rest (docs/search.md).
MOMENT_SHARE = 0.25


@dataclass
class VideoMoments:
    """One video's matching moments (best first), its length, and each stored frame's
    [seconds, score] in time order: the score along the video that the web app draws."""

    moments: list[Moment]
    duration: float | None
    curve: list[list[float]]
    frame_at: dict[float, int] = field(default_factory=dict)  # stored frame index by its timestamp


def frame_scores(queries: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Per stored frame, its cosine to the closest query frame."""
    return (queries @ frames.T).max(axis=0)


def moments_of(timestamps: np.ndarray, scores: np.ndarray, duration: float | None) -> list[Moment]:
    """Every run of adjacent matching frames (time order), best first."""
    order = np.argsort(timestamps)
    times, scores = np.asarray(timestamps, np.float64)[order], np.asarray(scores, np.float64)[order]
    if not len(times):
        return []
    end_of_video = max(float(duration or 0.0), float(times[-1]))
    bounds = np.concatenate([[0.0], (times[1:] + times[:-1]) / 2, [end_of_video]])
    best, worst = float(scores.max()), float(scores.min())
    matching = scores >= best - MOMENT_SHARE * (best - worst) - 1e-9
    found, index = [], 0
    while index < len(times):
        if not matching[index]:
            index += 1
            continue
        first = index
        while index + 1 < len(times) and matching[index + 1]:
            index += 1
        peak = first + int(scores[first : index + 1].argmax())
        found.append(Moment(round(float(bounds[first]), 3), round(float(bounds[index + 1]), 3),
                            float(times[peak]), round(float(scores[peak]), 6)))
        index += 1
    return sorted(found, key=lambda moment: -moment.score)


def segment_around(moments: list[Moment], timestamp: float | None) -> Moment | None:
    """The moment holding `timestamp` (the hit's best frame), else the best one."""
    if not moments:
        return None
    if timestamp is not None:
        for moment in moments:
            if moment.start - 1e-6 <= timestamp <= moment.end + 1e-6:
                return moment
    return moments[0]


def video_moments(store: Store, queries: np.ndarray, ids: list[str]) -> dict[str, VideoMoments]:
    """Per video of `ids`: its matching moments for the query frames `queries`, best first, its
    duration, and every stored frame's score in time order (`curve`)."""
    if not ids:
        return {}
    frames = store.frames_by_video(ids)
    durations = {row["id"]: row["duration"] for row in store.videos_by_id(ids, ["id", "duration"]).to_pylist()}
    owner = frames.column("video_id").to_numpy(zero_copy_only=False)
    found = {}
    for video in ids:
        mine = frames.filter(pa.array(owner == video))
        if not mine.num_rows:
            continue
        vectors = vectors_of(mine.column("vector"))
        sound = sound_rows(vectors)  # a damaged vector scores NaN: it is no moment
        if not sound.any():
            continue
        scores = frame_scores(queries, vectors[sound])
        times = np.asarray(mine.column("timestamp").to_pylist(), np.float64)[sound]
        order = np.argsort(times)
        curve = [[round(float(times[i]), 3), round(float(scores[i]), 6)] for i in order]
        indexes = np.asarray(mine.column("frame_index").to_pylist())[sound]
        found[video] = VideoMoments(moments_of(times, scores, durations.get(video)), durations.get(video), curve,
                                    {float(t): int(i) for t, i in zip(times, indexes)})
    return found


def add_segments(store: Store, queries: np.ndarray, hits: list, all_moments: bool = False,
                 query_hashes: np.ndarray | None = None) -> list:
    """Give each hit (`vindex.search.Hit`) its `start` and `end`: the moment around its best frame;
    with `all_moments`, every matching moment of its video too (`moments`, best first) and the
    score of each of its stored frames (`frame_scores`). With the query's picture hashes
    (`query_hashes`), where the query's own picture shows inside a matching moment, that time
    becomes the hit's `timestamp` and the stored frame nearest it its `frame_index`
    (`vindex.moment_pictures`)."""
    found = video_moments(store, queries, [hit.video_id for hit in hits])
    pictures = video_fingerprints(store, list(found)) if query_hashes is not None and len(query_hashes) else {}
    for hit in hits:
        video = found.get(hit.video_id, VideoMoments([], None, []))
        hit.duration = video.duration
        shown = picture_time(video.moments, query_hashes, *pictures[hit.video_id]) if hit.video_id in pictures else None
        if shown is not None and hit.timestamp is not None:
            # The moment is the picture's own (a fingerprint's time), the frame the stored one nearest it.
            hit.frame_index = video.frame_at[min(video.frame_at, key=lambda time: abs(time - shown))]
            hit.timestamp = shown
        segment = segment_around(video.moments, hit.timestamp)
        if segment is not None:
            hit.start, hit.end = segment.start, segment.end
        if all_moments:
            hit.moments, hit.frame_scores = video.moments, video.curve
    return hits

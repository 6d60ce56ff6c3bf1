"""Search the index: text → videos, video → videos (groups of near-duplicates: `vindex.duplicates`).

Every vector in the index has unit length, so a dot product is the cosine similarity, and a
score here is always a cosine (higher is closer). Filters go into the LanceDB query: channels,
folders and file names (`vindex.store.filters`) and excluded videos as a `where` prefilter,
`min_score` as a distance range. The videos they keep are resolved to ids for the frames table
(it holds no channel or path column: see docs/search.md).

Ranking by frame (the default) scores a video by its best-matching frame; for a query video,
by the mean over its frames of each one's best match in the candidate (so one shared black
frame does not make two videos similar). Ranking by video compares mean-pooled video vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa

from vindex.defaults import FRAMES_PER_VIDEO, LIMIT, RANK, RANK_BY
from vindex.errors import DecodeError, VindexError, os_reason
from vindex.embedding.spec import random_weights_warning
from vindex.fingerprints import from_stored, to_stored
from vindex.frames import read_frames
from vindex.indexing.rows import mean_vector
from vindex.locations import is_remote, join_root, shown_path, stored_path
from vindex.hits import Hit, QueryResult  # noqa: F401  (the shapes of an answer, named here too)
from vindex.sampling import FramePolicy, decoder_count, time_weights
from vindex.scanning import hash_file
from vindex.segments import add_segments
from vindex.store import Store, StoredVideo, sql_list, vectors_of
from vindex.store.filters import all_of
from vindex.store.meta import LEGACY_SAMPLING
from vindex.store.sound import sound_rows
from vindex.store.vector_index import ANN_PROBE_SHARE, ANN_TEXT_PROBE_SHARE

# Candidate frames fetched per wanted video, on top of the index's frames per video; grows x4
# while the candidates hold too few distinct videos.
CANDIDATE_GROWTH = 4


@dataclass
class Probe:
    """What a search looks for: one or more frame vectors and one video-level vector."""

    label: str
    frames: np.ndarray  # (n, dim)
    video: np.ndarray  # (dim,)
    source: str
    exclude: list[str] = field(default_factory=list)  # the query video and its identical copies
    hashes: np.ndarray | None = None  # uint64 pHashes of its non-blank pictures (vindex.moment_pictures)


@dataclass
class Scored:
    video_id: str
    score: float
    frame_index: int | None
    timestamp: float | None


# -- what to look for ------------------------------------------------------------------------
def text_probe(embedder, text: str) -> tuple[Probe, list[str]]:
    """Embed `text` with the index's text tower; warns when the tokenizer had to cut it."""
    text = text.strip()
    if not text:
        raise VindexError('the text query is empty: say what to look for, e.g. vindex query "a cat"')
    warnings = []
    if _fills_context(embedder.tokenizer, text):
        warnings.append(
            f"the query is longer than the model's {embedder.context_length}-token context: "
            "only its beginning was used"
        )
    spec = embedder.spec  # a checkpoint is trained weights (and its `weights` would hash the file)
    untrained = None if spec.checkpoint else random_weights_warning(spec.weights, "text matches")
    warnings += [untrained] if untrained else []
    vector = embedder.embed_texts([text])[0]
    return Probe(text, vector[None], vector, "text"), warnings


def _fills_context(tokenizer, text: str) -> bool:
    """open_clip truncates silently; a text whose tokens reach the last slot was (or just fits) cut."""
    padding = tokenizer([""])[0][-1]
    return bool(tokenizer([text])[0][-1] != padding)


def video_probe(
    store: Store, path: str | Path, load_embedder: Callable[[], object], include_self: bool = False,
    at: float | None = None,
) -> Probe:
    """The vectors of a video file: stored ones when the index holds the file (by path, if
    unchanged since indexing, else by content hash), otherwise decoded and embedded now with the
    index's model (and not added). `at` (seconds) makes the query one moment of an indexed video:
    its stored frame nearest that time."""
    file = Path(path).expanduser()
    if not file.exists():
        raise VindexError(f"no such file: {path}")
    if file.is_dir():
        raise VindexError(f"{path} is a folder: pass one video file")
    file = file.resolve()
    same_path, row = _row_at_path(store, file)
    try:
        digest = row.content_hash if row else hash_file(str(file))
    except OSError as error:
        raise VindexError(f"cannot read {path}: {os_reason(error)}") from None
    if row is None:
        row = store.video_with_content(digest)
    exclude = [] if include_self else store.ids_with_content(digest) + ([same_path] if same_path else [])
    if row is not None:
        frames = store.frames_by_video([row.id]).sort_by("frame_index")
        vectors = vectors_of(frames.column("vector"))
        timestamps = np.asarray(frames.column("timestamp").to_pylist(), np.float64)
        sound = sound_rows(vectors)  # a damaged vector would make every score NaN
        vectors, timestamps = vectors[sound], timestamps[sound]
        hashes = picture_hashes(frames.column("phash").to_pylist(), frames.column("blank").to_pylist())[sound]
        if not len(vectors):
            raise VindexError(f"the stored vectors of {path} are damaged: run `vindex check --repair`, then "
                              "`vindex add FOLDER` embeds it again")
        if at is not None:
            nearest = int(np.abs(timestamps - at).argmin())
            return Probe(f"{path} at {at:.1f} s", vectors[nearest:nearest + 1], vectors[nearest], "index",
                         sorted(set(exclude)), _pictures(hashes[nearest:nearest + 1]))
        video = np.asarray(row.vector, np.float32)
        if not sound_rows(video[None])[0]:
            video = mean_vector(vectors)
        return Probe(str(path), vectors, video, "index", sorted(set(exclude)), _pictures(hashes))
    if at is not None:
        raise VindexError(f"{path} is not in the index: a moment (at) can only be taken from an indexed video")
    embedder = load_embedder()
    try:
        decoded = read_frames(str(file), decoder_count(FramePolicy.from_meta(store.meta)),
                              embedder.image_size, threaded=True, sampling=store.meta.sampling or LEGACY_SAMPLING)
    except DecodeError as error:
        raise VindexError(f"cannot read {path} as a video: {error}") from None
    vectors = embedder.embed_images(decoded.images)
    video = mean_vector(vectors, time_weights(decoded.timestamps, decoded.duration))
    hashes = picture_hashes(list(to_stored(decoded.phashes)), list(decoded.blanks))
    return Probe(str(path), vectors, video, "embedded", sorted(set(exclude)), _pictures(hashes))


def picture_hashes(stored: list, blank: list) -> np.ndarray:
    """Per frame, its pHash (uint64) as an object array: None where blank or never computed."""
    return np.array([from_stored([h])[0] if h is not None and not b else None for h, b in zip(stored, blank)], object)


def _pictures(hashes: np.ndarray) -> np.ndarray:
    return np.array([h for h in hashes if h is not None], np.uint64)


def _row_at_path(store: Store, file: Path) -> tuple[str | None, StoredVideo | None]:
    """(id of the row at this file's path, that row if the file is unchanged since indexing)."""
    root = store.meta.root
    if not root or is_remote(root) or not file.is_relative_to(Path(root).resolve()):
        return None, None
    row = store.video_at(stored_path(file.relative_to(Path(root).resolve()).as_posix()))
    if row is None:
        return None, None
    info = file.stat()
    unchanged = row.size == info.st_size and row.mtime_ns == info.st_mtime_ns
    return row.id, row if unchanged else None


# -- searching -------------------------------------------------------------------------------
def search(
    store: Store,
    probe: Probe,
    by: str = RANK,
    limit: int = LIMIT,
    channels: tuple[str, ...] = (),
    min_score: float | None = None,
    exact: bool = False,
    where: str | None = None,
    moments: bool = False,
) -> list[Hit]:
    """The `limit` videos closest to `probe`, best first, with their best-matching moment and the
    segment around it (`moments`: every matching segment of each video too, `vindex.segments`).

    `where` filters the videos table (`vindex.store.filters.video_filter`: --under, --name).
    `exact` bypasses the ANN index (used to measure its recall).
    """
    store.require_videos()
    if by not in RANK_BY:
        raise VindexError(f"--by must be one of {', '.join(RANK_BY)}, not {by!r}")
    if limit < 1:
        raise VindexError("--limit must be at least 1")
    if min_score is not None and not -1.0 <= min_score <= 1.0:
        raise VindexError("--min-score is a cosine similarity: between -1 and 1")
    if channels:
        channel_ids(store, channels)  # an unknown channel is an error
    video_where = all_of(f"channel IN ({sql_list(channels)})" if channels else None, where)
    # The frames table holds no channel or path column: the videos that pass, by id.
    kept = store.ids_where(video_where) if video_where else None
    if kept == []:
        return []
    if by == "video":
        scored = _rank_by_video(store, probe, limit, video_where, kept, min_score, exact)
    else:
        scored = _rank_by_frame(store, probe, limit, kept, min_score, exact)
    return add_segments(store, probe.frames, _hits(store, scored), moments, probe.hashes)


def channel_ids(store: Store, channels: tuple[str, ...]) -> list[str]:
    """Ids of the videos in these channels; an unknown channel is an error, not an empty result."""
    found = store.channel_members(channels)
    unknown = sorted(set(channels) - {member.channel for member in found})
    if unknown:
        known = sorted(set(store.catalog(["channel"]).column("channel").to_pylist()))
        shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        raise VindexError(f"no channel named {', '.join(map(repr, unknown))} in the index (channels: {shown})")
    return [member.id for member in found]


def _rank_by_frame(store: Store, probe: Probe, limit: int, kept: list[str] | None,
                   min_score: float | None, exact: bool) -> list[Scored]:
    where = all_of(
        f"video_id IN ({sql_list(kept)})" if kept is not None else None,
        f"video_id NOT IN ({sql_list(probe.exclude)})" if probe.exclude else None,
    )
    frames_per_video = store.meta.frames_per_video or FRAMES_PER_VIDEO
    wanted = limit * frames_per_video
    kept_rows = None if kept is None else len(kept) * frames_per_video
    while True:
        found = store.nearest("frames", probe.frames, wanted, ["video_id", "frame_index", "timestamp"],
                              where, min_score, exact, kept_rows, _probe_share(probe))
        best = _best_frame_per_video(found)
        answers = np.bincount(found.column("query_index").to_numpy(), minlength=len(probe.frames))
        if len(best) >= limit or answers.max(initial=0) < wanted:
            break
        wanted *= CANDIDATE_GROWTH
    if len(probe.frames) > 1:
        # Several query frames: rescore every candidate exactly from its stored frames.
        best = {s.video_id: s for s in _frame_scores(store, probe.frames, list(best))}
        if min_score is not None:
            best = {video: s for video, s in best.items() if s.score >= min_score}
    return sorted(best.values(), key=lambda s: -s.score)[:limit]


def _probe_share(probe: Probe) -> float:
    return ANN_TEXT_PROBE_SHARE if probe.source == "text" else ANN_PROBE_SHARE


def _best_frame_per_video(found: pa.Table) -> dict[str, Scored]:
    best: dict[str, Scored] = {}
    columns = ("video_id", "frame_index", "timestamp", "score")
    for video, index, time, score in zip(*(found.column(c).to_pylist() for c in columns)):
        if video not in best or score > best[video].score:
            best[video] = Scored(video, score, index, time)
    return best


def _frame_scores(store: Store, queries: np.ndarray, ids: list[str]) -> list[Scored]:
    """Per video: the mean over query frames of each one's best match among the video's frames,
    and the video's frame that matched any query frame best."""
    scores = []
    for video, frames in _frames_of(store, ids).items():
        vectors = vectors_of(frames.column("vector"))
        sound = sound_rows(vectors)  # a damaged frame is passed over, never scored NaN
        if not sound.any():
            continue
        frames = frames.filter(pa.array(sound))
        similarity = queries @ vectors[sound].T
        best = int(similarity.max(axis=0).argmax())
        scores.append(Scored(video, float(similarity.max(axis=1).mean()), frames.column("frame_index")[best].as_py(),
                             frames.column("timestamp")[best].as_py()))
    return scores


def _frames_of(store: Store, ids: list[str]) -> dict[str, pa.Table]:
    frames = store.frames_by_video(ids)
    owner = frames.column("video_id").to_numpy(zero_copy_only=False)
    return {video: frames.filter(pa.array(owner == video)) for video in ids if (owner == video).any()}


def _rank_by_video(store: Store, probe: Probe, limit: int, video_where: str | None, kept: list[str] | None,
                   min_score: float | None, exact: bool) -> list[Scored]:
    where = all_of(video_where, f"id NOT IN ({sql_list(probe.exclude)})" if probe.exclude else None)
    found = store.nearest("videos", probe.video[None], limit, ["id"], where, min_score, exact,
                          None if kept is None else len(kept), _probe_share(probe))
    moments = {s.video_id: s for s in _frame_scores(store, probe.frames, found.column("id").to_pylist())}
    return [
        Scored(video, score, moments[video].frame_index if video in moments else None,
               moments[video].timestamp if video in moments else None)
        for video, score in zip(found.column("id").to_pylist(), found.column("score").to_pylist())
    ]


def _hits(store: Store, scored: list[Scored]) -> list[Hit]:
    rows = {r["id"]: r for r in store.videos_by_id([s.video_id for s in scored], ["id", "path", "channel"]).to_pylist()}
    root = store.meta.root or ""
    return [
        Hit(rank, round(s.score, 6), shown_path(rows[s.video_id]["path"]), rows[s.video_id]["channel"], s.timestamp,
            s.frame_index, s.video_id, join_root(root, rows[s.video_id]["path"]))
        for rank, s in enumerate((s for s in scored if s.video_id in rows), 1)
    ]

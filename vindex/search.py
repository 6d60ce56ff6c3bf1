"""Search the index: text → videos, video → videos, and groups of near-duplicate videos.

Every vector in the index has unit length, so a dot product is the cosine similarity, and a
score here is always a cosine (higher is closer). Filters go into the LanceDB query: channels
and excluded videos as a `where` prefilter, `min_score` as a distance range. Channels are
resolved to video ids for the frames table (it holds no channel column: see docs/search.md).

Ranking by frame (the default) scores a video by its best-matching frame; for a query video,
by the mean over its frames of each one's best match in the candidate (so one shared black
frame does not make two videos similar). Ranking by video compares mean-pooled video vectors.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa

from vindex.errors import DecodeError, VindexError
from vindex.frames import read_frames
from vindex.indexing import mean_vector
from vindex.scanning import hash_file
from vindex.store import ANN_PROBE_SHARE, ANN_TEXT_PROBE_SHARE, Store, sql_list

RANK_BY = ("frame", "video")
DEFAULT_LIMIT = 10
DEFAULT_DUPLICATE_THRESHOLD = 0.95
# Candidate frames fetched per wanted video, on top of the index's frames per video; grows x4
# while the candidates hold too few distinct videos.
CANDIDATE_GROWTH = 4
# Cells of the (frames x frames) similarity matrix computed at once when looking for duplicates
# (512 MiB of float32).
DUPLICATE_BLOCK_CELLS = 1 << 27


@dataclass
class Hit:
    """One video in a search result, with the moment that matched best."""

    rank: int
    score: float
    path: str  # relative to the index root
    channel: str
    timestamp: float | None  # seconds into the video of the best-matching frame
    frame_index: int | None
    video_id: str
    file: str  # the path on disk (root joined with `path`)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SearchResult:
    """The videos that answer a query, best first. Iterating yields the hits."""

    query: str
    by: str
    hits: list[Hit]
    source: str  # "text", "index" (stored vectors of the query video) or "embedded" (decoded now)
    warnings: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def __getitem__(self, position: int) -> Hit:
        return self.hits[position]

    def to_dict(self) -> dict:
        return dict(query=self.query, by=self.by, source=self.source, warnings=self.warnings,
                    hits=[hit.to_dict() for hit in self.hits])


@dataclass
class Duplicate:
    path: str
    file: str
    channel: str
    size: int | None
    duration: float | None
    width: int | None
    height: int | None
    video_id: str
    score: float  # similarity to the first video of its group (1.0 for the first, and for identical copies)


@dataclass
class DuplicateGroup:
    """Videos showing the same footage, the longest (then largest) first."""

    videos: list[Duplicate]

    @property
    def reclaimable_bytes(self) -> int:
        return sum(video.size or 0 for video in self.videos[1:])

    def to_dict(self) -> dict:
        return dict(reclaimable_bytes=self.reclaimable_bytes, videos=[asdict(video) for video in self.videos])


@dataclass
class Probe:
    """What a search looks for: one or more frame vectors and one video-level vector."""

    label: str
    frames: np.ndarray  # (n, dim)
    video: np.ndarray  # (dim,)
    source: str
    exclude: list[str] = field(default_factory=list)  # the query video and its identical copies


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
    vector = embedder.embed_texts([text])[0]
    return Probe(text, vector[None], vector, "text"), warnings


def _fills_context(tokenizer, text: str) -> bool:
    """open_clip truncates silently; a text whose tokens reach the last slot was (or just fits) cut."""
    padding = tokenizer([""])[0][-1]
    return bool(tokenizer([text])[0][-1] != padding)


def video_probe(
    store: Store, path: str | Path, load_embedder: Callable[[], object], include_self: bool = False
) -> Probe:
    """The vectors of a video file: stored ones when the index holds the file (by path, if
    unchanged since indexing, else by content hash), otherwise decoded and embedded now with the
    index's model (and not added)."""
    file = Path(path).expanduser()
    if not file.exists():
        raise VindexError(f"no such file: {path}")
    if file.is_dir():
        raise VindexError(f"{path} is a folder: pass one video file")
    file = file.resolve()
    same_path, row = _row_at_path(store, file)
    try:
        digest = row["content_hash"] if row else hash_file(str(file))
    except OSError as error:
        raise VindexError(f"cannot read {path}: {error.strerror or error}") from None
    if row is None:
        row = _row_with_hash(store, digest)
    exclude = [] if include_self else _ids_with_hash(store, digest) + ([same_path] if same_path else [])
    if row is not None:
        frames = store.frames_by_video([row["id"]]).sort_by("frame_index")
        vectors = _matrix(frames.column("vector"))
        return Probe(str(path), vectors, np.asarray(row["vector"], np.float32), "index", sorted(set(exclude)))
    embedder = load_embedder()
    try:
        decoded = read_frames(str(file), int(store.meta.get("frames_per_video") or 5), embedder.image_size, threaded=True)
    except DecodeError as error:
        raise VindexError(f"cannot read {path} as a video: {error}") from None
    vectors = embedder.embed_images(decoded.images)
    return Probe(str(path), vectors, mean_vector(vectors), "embedded", sorted(set(exclude)))


def _row_at_path(store: Store, file: Path) -> tuple[str | None, dict | None]:
    """(id of the row at this file's path, that row if the file is unchanged since indexing)."""
    root = store.meta.get("root")
    if not root or "://" in root or not file.is_relative_to(Path(root).resolve()):
        return None, None
    relative = file.relative_to(Path(root).resolve()).as_posix()
    rows = _video_rows(store, f"path = {sql_list([relative])}", limit=1)
    if not rows:
        return None, None
    info = file.stat()
    row = rows[0]
    unchanged = row["size"] == info.st_size and row["mtime_ns"] == info.st_mtime_ns
    return row["id"], row if unchanged else None


def _row_with_hash(store: Store, digest: str) -> dict | None:
    rows = _video_rows(store, f"content_hash = {sql_list([digest])}", limit=1)
    return rows[0] if rows else None


def _ids_with_hash(store: Store, digest: str) -> list[str]:
    found = store.videos.search().where(f"content_hash = {sql_list([digest])}").select(["id"]).limit(None).to_arrow()
    return found.column("id").to_pylist()


def _video_rows(store: Store, where: str, limit: int) -> list[dict]:
    columns = ["id", "path", "size", "mtime_ns", "content_hash", "vector"]
    return store.videos.search().where(where).select(columns).limit(limit).to_arrow().to_pylist()


def _matrix(column: pa.ChunkedArray) -> np.ndarray:
    """A fixed-size-list vector column as an (n, dim) float32 matrix, without a Python loop."""
    vectors = column.combine_chunks()
    # flatten() honours an offset into the child values, which .values would not.
    flat = vectors.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return flat.reshape(-1, vectors.type.list_size)


# -- searching -------------------------------------------------------------------------------
def search(
    store: Store,
    probe: Probe,
    by: str = "frame",
    limit: int = DEFAULT_LIMIT,
    channels: tuple[str, ...] = (),
    min_score: float | None = None,
    exact: bool = False,
) -> list[Hit]:
    """The `limit` videos closest to `probe`, best first, with their best-matching moment.

    `exact` bypasses the ANN index (used to measure its recall).
    """
    store.require_videos()
    if by not in RANK_BY:
        raise VindexError(f"--by must be one of {', '.join(RANK_BY)}, not {by!r}")
    if limit < 1:
        raise VindexError("--limit must be at least 1")
    if min_score is not None and not -1.0 <= min_score <= 1.0:
        raise VindexError("--min-score is a cosine similarity: between -1 and 1")
    channel_ids = _channel_ids(store, channels) if channels else None
    if by == "video":
        scored = _rank_by_video(store, probe, limit, channels, channel_ids, min_score, exact)
    else:
        scored = _rank_by_frame(store, probe, limit, channel_ids, min_score, exact)
    return _hits(store, scored)


def _channel_ids(store: Store, channels: tuple[str, ...]) -> list[str]:
    """Ids of the videos in these channels; an unknown channel is an error, not an empty result."""
    found = (
        store.videos.search().where(f"channel IN ({sql_list(channels)})").select(["id", "channel"])
        .limit(None).to_arrow()
    )
    unknown = sorted(set(channels) - set(found.column("channel").to_pylist()))
    if unknown:
        known = sorted(set(store.catalog(["channel"]).column("channel").to_pylist()))
        shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        raise VindexError(f"no channel named {', '.join(map(repr, unknown))} in the index (channels: {shown})")
    return found.column("id").to_pylist()


def _where(*clauses: str | None) -> str | None:
    present = [f"({clause})" for clause in clauses if clause]
    return " AND ".join(present) or None


def _rank_by_frame(store: Store, probe: Probe, limit: int, channel_ids: list[str] | None,
                   min_score: float | None, exact: bool) -> list[Scored]:
    where = _where(
        f"video_id IN ({sql_list(channel_ids)})" if channel_ids is not None else None,
        f"video_id NOT IN ({sql_list(probe.exclude)})" if probe.exclude else None,
    )
    frames_per_video = int(store.meta.get("frames_per_video") or 5)
    wanted = limit * frames_per_video
    kept_rows = None if channel_ids is None else len(channel_ids) * frames_per_video
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
        similarity = queries @ _matrix(frames.column("vector")).T
        best = int(similarity.max(axis=0).argmax())
        scores.append(Scored(video, float(similarity.max(axis=1).mean()), frames.column("frame_index")[best].as_py(),
                             frames.column("timestamp")[best].as_py()))
    return scores


def _frames_of(store: Store, ids: list[str]) -> dict[str, pa.Table]:
    frames = store.frames_by_video(ids)
    owner = frames.column("video_id").to_numpy(zero_copy_only=False)
    return {video: frames.filter(pa.array(owner == video)) for video in ids if (owner == video).any()}


def _rank_by_video(store: Store, probe: Probe, limit: int, channels: tuple[str, ...], channel_ids: list[str] | None,
                   min_score: float | None, exact: bool) -> list[Scored]:
    where = _where(
        f"channel IN ({sql_list(channels)})" if channels else None,
        f"id NOT IN ({sql_list(probe.exclude)})" if probe.exclude else None,
    )
    found = store.nearest("videos", probe.video[None], limit, ["id"], where, min_score, exact,
                          None if channel_ids is None else len(channel_ids), _probe_share(probe))
    moments = {s.video_id: s for s in _frame_scores(store, probe.frames, found.column("id").to_pylist())}
    return [
        Scored(video, score, moments[video].frame_index if video in moments else None,
               moments[video].timestamp if video in moments else None)
        for video, score in zip(found.column("id").to_pylist(), found.column("score").to_pylist())
    ]


def _hits(store: Store, scored: list[Scored]) -> list[Hit]:
    rows = {r["id"]: r for r in store.videos_by_id([s.video_id for s in scored], ["id", "path", "channel"]).to_pylist()}
    root = store.meta.get("root") or ""
    return [
        Hit(rank, round(s.score, 6), rows[s.video_id]["path"], rows[s.video_id]["channel"], s.timestamp,
            s.frame_index, s.video_id, on_disk(root, rows[s.video_id]["path"]))
        for rank, s in enumerate((s for s in scored if s.video_id in rows), 1)
    ]


def on_disk(root: str, path: str) -> str:
    return f"{root.rstrip('/')}/{path}" if "://" in root else str(Path(root) / path)


# -- near-duplicates -------------------------------------------------------------------------
def find_duplicates(store: Store, threshold: float = DEFAULT_DUPLICATE_THRESHOLD,
                    channels: tuple[str, ...] = ()) -> list[DuplicateGroup]:
    """Groups of videos that show the same footage (re-encodes, resizes, crops, trims, copies).

    Two videos are near-duplicates when the frames of one, on average, find a frame of the other
    at least `threshold` similar (taken in the direction that suits a trim: the shorter clip's
    frames all appear in the longer one). Candidate pairs come from an exact blocked frame x frame
    similarity, since any such pair shares at least one frame pair above `threshold`; groups are
    the connected components of the pairs.
    """
    store.require_videos()
    if not 0.0 < threshold <= 1.0:
        raise VindexError("--threshold is a cosine similarity: above 0 and at most 1")
    columns = ["id", "path", "channel", "size", "duration", "width", "height", "content_hash"]
    if channels:
        _channel_ids(store, channels)
        query = store.videos.search().where(f"channel IN ({sql_list(channels)})")
        catalog = query.select(columns).limit(None).to_arrow()
    else:
        catalog = store.catalog(columns)
    videos = {row["id"]: row for row in catalog.to_pylist()}
    by_content: dict[str, list[str]] = defaultdict(list)
    for row in videos.values():
        by_content[row["content_hash"]].append(row["id"])
    # Identical copies share vectors: one video per content takes part in the comparison.
    contents = list(by_content)
    owner, vectors = _all_frames(store, [by_content[content][0] for content in contents], subset=bool(channels))
    frames_of = _split(owner, vectors, len(contents))
    links = [
        (by_content[contents[a]][0], by_content[contents[b]][0])
        for a, b in _near_pairs(owner, vectors, frames_of, threshold)
    ]
    copies = [(ids[0], other) for ids in by_content.values() for other in ids[1:]]
    position = {content: i for i, content in enumerate(contents)}
    root = store.meta.get("root") or ""
    groups = []
    for members in _components(list(videos), links + copies):
        rows = sorted((videos[m] for m in members), key=_keeper_order)
        keeper = frames_of[position[rows[0]["content_hash"]]]
        groups.append(DuplicateGroup([
            Duplicate(r["path"], on_disk(root, r["path"]), r["channel"], r["size"], r["duration"], r["width"],
                      r["height"], r["id"],
                      1.0 if r["content_hash"] == rows[0]["content_hash"]
                      else round(_containment(keeper, frames_of[position[r["content_hash"]]]), 6))
            for r in rows
        ]))
    return sorted(groups, key=lambda g: (-g.reclaimable_bytes, g.videos[0].path))


def _keeper_order(row: dict) -> tuple:
    """Longest first, then most pixels, then biggest file, then path (stable output)."""
    pixels = (row["width"] or 0) * (row["height"] or 0)
    return (-round(row["duration"] or 0.0, 1), -pixels, -(row["size"] or 0), row["path"])


def _all_frames(store: Store, ids: list[str], subset: bool) -> tuple[np.ndarray, np.ndarray]:
    """(index into `ids` per frame, (n, dim) frame vectors) for these videos, ordered by video;
    `subset` reads only their frames instead of scanning the whole table."""
    position = {video: i for i, video in enumerate(ids)}
    if subset:
        frames = store.frames_by_video(ids)
    else:
        frames = store.frames.search().select(["video_id", "vector"]).limit(None).to_arrow()
    owner = np.array([position.get(video, -1) for video in frames.column("video_id").to_pylist()], np.int64)
    order = np.argsort(owner, kind="stable")
    order = order[owner[order] >= 0]
    return owner[order], _matrix(frames.column("vector"))[order]


def _containment(a: np.ndarray, b: np.ndarray) -> float:
    """How well the frames of one video are found in the other, in the direction that is higher."""
    similarity = a @ b.T
    return float(max(similarity.max(axis=1).mean(), similarity.max(axis=0).mean()))


def _split(owner: np.ndarray, vectors: np.ndarray, count: int) -> list[np.ndarray]:
    """The frame vectors of each video, by its index (`owner` is sorted)."""
    bounds = np.searchsorted(owner, np.arange(count + 1))
    return [vectors[bounds[i] : bounds[i + 1]] for i in range(count)]


def _near_pairs(
    owner: np.ndarray, vectors: np.ndarray, frames_of: list[np.ndarray], threshold: float
) -> list[tuple[int, int]]:
    """Pairs (a < b) of video indices whose containment similarity reaches `threshold`.

    Frames are ordered by video, so comparing each block of rows with the columns from the
    block on (half the matrix) still meets every pair of different videos.
    """
    import torch  # its matrix product ran 3x faster than numpy's here (docs/search.md)

    matrix, owners = torch.from_numpy(vectors), torch.from_numpy(owner)
    candidates: set[tuple[int, int]] = set()
    block = max(1, DUPLICATE_BLOCK_CELLS // max(1, len(vectors)))
    for start in range(0, len(vectors), block):
        rows, cols = torch.nonzero(matrix[start : start + block] @ matrix[start:].T >= threshold, as_tuple=True)
        a, b = owners[start + rows], owners[start + cols]
        ahead = a < b
        candidates.update(zip(a[ahead].tolist(), b[ahead].tolist()))
    return [(a, b) for a, b in sorted(candidates) if _containment(frames_of[a], frames_of[b]) >= threshold]


def _components(nodes: list[str], edges: list[tuple[str, str]]) -> list[list[str]]:
    """Connected components with more than one node (union-find)."""
    parent = {node: node for node in nodes}

    def find(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in edges:
        parent[find(a)] = find(b)
    groups: dict[str, list[str]] = defaultdict(list)
    for node in nodes:
        groups[find(node)].append(node)
    return [members for members in groups.values() if len(members) > 1]

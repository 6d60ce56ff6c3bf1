"""Groups of near-duplicate videos: re-encodes, resizes, crops, trims and identical copies.

A run has three steps, each its own function so a new signal or grouping rule replaces one of
them: read every video's frame vectors once (`_all_frames`, identical copies once), find the pairs
whose frames contain each other (`_near_pairs`), and group the pairs (`_components`). In each
group the keeper (`keeper_order`: longest, then most pixels, then largest file) comes first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from vindex.defaults import DUPLICATE_THRESHOLD
from vindex.errors import VindexError
from vindex.locations import join_root, shown_path
from vindex.results import Result
from vindex.search import channel_ids
from vindex.store import Store, sql_list, vectors_of
from vindex.store.filters import all_of

# Cells of the (frames x frames) similarity matrix computed at once when looking for candidate
# pairs (512 MiB of float32).
DUPLICATE_BLOCK_CELLS = 1 << 27


@dataclass
class Duplicate(Result):
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
class DuplicateGroup(Result):
    """Videos showing the same footage, the keeper first."""

    videos: list[Duplicate]

    @property
    def reclaimable_bytes(self) -> int:
        return sum(video.size or 0 for video in self.videos[1:])

    def to_dict(self) -> dict:
        return dict(reclaimable_bytes=self.reclaimable_bytes, **super().to_dict())


def find_duplicates(store: Store, threshold: float = DUPLICATE_THRESHOLD,
                    channels: tuple[str, ...] = (), where: str | None = None) -> list[DuplicateGroup]:
    """Groups of videos that show the same footage, the groups that free the most bytes first.

    Two videos are near-duplicates when the frames of one, on average, find a frame of the other
    at least `threshold` similar (taken in the direction that suits a trim: the shorter clip's
    frames all appear in the longer one). Candidate pairs come from an exact blocked frame x frame
    similarity, since any such pair shares at least one frame pair above `threshold`; groups are
    the connected components of the pairs. `where` (an SQL filter on the videos table, such as
    `vindex.store.filters.video_filter` builds) limits the videos compared, as `channels` does.
    """
    store.require_videos()
    if not 0.0 < threshold <= 1.0:
        raise VindexError("--threshold is a cosine similarity: above 0 and at most 1")
    videos = {row["id"]: row for row in _catalog(store, channels, where).to_pylist()}
    by_content: dict[str, list[str]] = defaultdict(list)
    for row in videos.values():
        by_content[row["content_hash"]].append(row["id"])
    # Identical copies share vectors: one video per content takes part in the comparison.
    contents = list(by_content)
    owner, vectors = _all_frames(store, [by_content[content][0] for content in contents], subset=bool(channels or where))
    frames_of = _split(owner, vectors, len(contents))
    links = [
        (by_content[contents[a]][0], by_content[contents[b]][0])
        for a, b in _near_pairs(owner, vectors, frames_of, threshold)
    ]
    copies = [(ids[0], other) for ids in by_content.values() for other in ids[1:]]
    position = {content: i for i, content in enumerate(contents)}
    root = store.meta.get("root") or ""
    groups = []
    for group in _components(list(videos), links + copies):
        rows = sorted((videos[video] for video in group), key=keeper_order)
        keeper = frames_of[position[rows[0]["content_hash"]]]
        groups.append(DuplicateGroup([
            Duplicate(shown_path(r["path"]), join_root(root, r["path"]), r["channel"], r["size"], r["duration"], r["width"],
                      r["height"], r["id"],
                      1.0 if r["content_hash"] == rows[0]["content_hash"]
                      else round(_containment(keeper, frames_of[position[r["content_hash"]]]), 6))
            for r in rows
        ]))
    return sorted(groups, key=lambda g: (-g.reclaimable_bytes, g.videos[0].path))


def _catalog(store: Store, channels: tuple[str, ...], where: str | None):
    """The file facts of the videos compared: all of them, or those of `channels` (which must
    exist) that pass `where`."""
    columns = ["id", "path", "channel", "size", "duration", "width", "height", "content_hash"]
    if channels:
        channel_ids(store, channels)
    return store.catalog(columns, all_of(f"channel IN ({sql_list(channels)})" if channels else None, where))


def keeper_order(row: dict) -> tuple:
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
    return owner[order], vectors_of(frames.column("vector"))[order]


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

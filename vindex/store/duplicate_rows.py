"""The store's queries for `vindex dupes`: the videos compared, with their fingerprints, and the
CLIP frame vectors of some videos, as typed rows. Mixed into `Store`; every storage error goes
through `store.failures`, a filter LanceDB cannot parse becomes one line naming it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vindex.errors import VindexError
from vindex.fingerprints import FINE_WORDS
from vindex.schema import vectors_of
from vindex.store.failures import reads

FACTS = ["id", "path", "channel", "size", "duration", "width", "height", "content_hash",
         "content_seconds", "picture_width", "picture_height", "footage_seconds", "footage_start",
         "first_picture_time", "first_picture"]
FINGERPRINT_COLUMNS = ["fingerprints", "fingerprint_times", "fingerprint_colours", "fingerprint_fine", "fingerprint_rules"]


@dataclass
class DuplicateCandidate:
    """One video compared by `dupes`: its file facts, what makes the best copy, its fingerprints."""

    id: str
    path: str
    channel: str | None
    size: int | None
    duration: float | None
    width: int | None
    height: int | None
    content_hash: str | None
    content_seconds: float | None  # seconds of footage (no blank, no title card); None before schema 3
    picture_width: int | None  # the picture without bars; None before schema 3
    picture_height: int | None
    footage_seconds: float | None  # seconds a user would miss (a still opening counted); None before schema 10
    footage_start: float | None  # where that footage starts (after a title card); None before schema 10
    first_picture_time: float | None  # seconds to the first picture not blank; None before schema 10
    first_picture: int | None  # that picture's hash, stored (int64) bits; None before schema 10
    fingerprints: np.ndarray | None = None  # uint64 hashes in time order; None when never computed
    fingerprint_times: np.ndarray | None = None  # seconds, one per hash
    fingerprint_colours: np.ndarray | None = None  # uint64 colour signatures, one per hash; None before schema 6
    fingerprint_fine: np.ndarray | None = None  # uint64 finer hashes, (hashes, 4); None before schema 8
    fingerprint_rules: int | None = None  # the fingerprints.RULES_VERSION they were made by; None before schema 9


@dataclass
class FrameVectors:
    """The non-blank CLIP frame vectors of some videos: row i of `vectors` is a frame of `video_ids[i]`."""

    video_ids: list[str]
    vectors: np.ndarray  # (n, dim) float32


class DuplicateRows:
    """Queries mixed into `Store`, whose tables they read."""

    videos: object
    frames: object
    meta: object  # IndexMeta
    frames_by_video: object

    @reads
    def duplicate_candidates(self, where: str | None = None, channels: tuple[str, ...] = (),
                             fingerprints: bool = False) -> list[DuplicateCandidate]:
        """The videos of `channels` (all when empty) passing `where` (an SQL filter on the videos
        table; all when None), with their fingerprints when asked for."""
        clauses = [f"({where})"] if where else []
        if channels:
            clauses.append("(channel IN (" + ", ".join("'" + name.replace("'", "''") + "'" for name in channels) + "))")
        columns = FACTS + (FINGERPRINT_COLUMNS if fingerprints else [])
        if self.videos is None:
            return []
        present = set(self.videos.schema.names)
        query = self.videos.search()
        if clauses:
            query = query.where(" AND ".join(clauses))
        try:
            table = query.select([name for name in columns if name in present]).limit(None).to_arrow()
        except (ValueError, RuntimeError) as error:  # LanceDB's word for a filter it cannot parse
            if not where:
                raise
            raise VindexError(f"bad video filter {where!r}: {str(error).splitlines()[0]}") from None
        rows = [DuplicateCandidate(**{name: row.get(name) for name in FACTS}) for row in table.to_pylist()]
        if fingerprints:
            found = _stored_fingerprints(table.column("fingerprints"), table.column("fingerprint_times"))
            colours, fine = (_stored_lists(table.column(name)) if name in table.column_names else [None] * len(rows)
                             for name in ("fingerprint_colours", "fingerprint_fine"))
            rules = table.column("fingerprint_rules").to_pylist() if "fingerprint_rules" in table.column_names \
                else [None] * len(rows)
            for row, stored, colour, finer, version in zip(rows, found, colours, fine, rules):
                if stored is not None:
                    row.fingerprints, row.fingerprint_times, row.fingerprint_rules = (*stored, version)
                    if colour is not None and len(colour) == len(row.fingerprints):
                        row.fingerprint_colours = colour
                    if finer is not None and len(finer) == FINE_WORDS * len(row.fingerprints):
                        row.fingerprint_fine = finer.reshape(-1, FINE_WORDS)
        return rows

    @reads
    def frame_vectors(self, ids: list[str] | None = None) -> FrameVectors:
        """The non-blank frame vectors of the videos `ids` (of every video when None)."""
        import pyarrow.compute as pc

        if self.frames is None:
            return FrameVectors([], np.zeros((0, self.meta.dim or 1), np.float32))
        frames = (self.frames.search().select(["video_id", "vector", "blank"]).limit(None).to_arrow() if ids is None
                  else self.frames_by_video(ids))
        shown = pc.invert(pc.fill_null(frames.column("blank"), False))
        frames = frames.filter(shown)
        return FrameVectors(frames.column("video_id").to_pylist(), vectors_of(frames.column("vector")))


def _stored_lists(colours) -> list[np.ndarray | None]:
    """Per row, the uint64 values of a list<int64> Arrow column (`fingerprint_colours`,
    `fingerprint_fine`); None where null."""
    import pyarrow as pa

    colours = colours.combine_chunks() if isinstance(colours, pa.ChunkedArray) else colours
    if len(colours) == 0:
        return []
    bounds = colours.offsets.to_numpy()
    values = colours.values.to_numpy(zero_copy_only=False).astype(np.int64, copy=False).view(np.uint64)
    missing = colours.is_null().to_numpy(zero_copy_only=False)
    return [None if missing[row] else values[bounds[row] : bounds[row + 1]] for row in range(len(colours))]


def _stored_fingerprints(hashes, times) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Per row, (uint64 hashes, float64 seconds) from the Arrow columns `fingerprints` (list<int64>,
    the uint64 bit patterns) and `fingerprint_times`; None where not computed yet (null)."""
    import pyarrow as pa

    hashes, times = (c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in (hashes, times))
    if len(hashes) == 0:
        return []
    bounds = hashes.offsets.to_numpy()
    values = hashes.values.to_numpy(zero_copy_only=False).astype(np.int64, copy=False).view(np.uint64)
    seconds = times.values.to_numpy(zero_copy_only=False).astype(np.float64)
    time_bounds = times.offsets.to_numpy()
    missing = hashes.is_null().to_numpy(zero_copy_only=False) | times.is_null().to_numpy(zero_copy_only=False)
    return [None if missing[row] else (values[bounds[row] : bounds[row + 1]],
                                       seconds[time_bounds[row] : time_bounds[row + 1]])
            for row in range(len(hashes))]

"""The named queries that layers above the store ask of the videos, frames and clusters tables,
each returning typed rows; mixed into `Store`, so every LanceDB failure they meet is said through
`vindex.store.failures`. A new question for the tables is a method here (or on `Store`), never a
`.search()` in the module that asks it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from vindex.store.failures import reads, storage_error

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# Ids go into SQL `IN (...)` lists; this keeps each statement a reasonable size.
ID_CHUNK = 1000


def sql_list(values: Iterable[str]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def chunked(items: list, size: int = ID_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class StoredVideo(NamedTuple):
    """A video's row as a lookup by id, path or content returns it."""

    id: str
    path: str  # relative to the index's root, as stored
    size: int
    mtime_ns: int
    content_hash: str
    duration: float | None
    vector: list[float]  # the mean-pooled vector


class ChannelMember(NamedTuple):
    id: str
    channel: str


STORED_VIDEO_COLUMNS = list(StoredVideo._fields)


class VideoQueries:
    """Lookups of single videos and of id sets, by column value."""

    uri: str
    videos: object
    frames: object
    clusters: object

    def _videos_where(self, where: str, columns: list[str], limit: int | None = None) -> pa.Table:
        return self.videos.search().where(where).select(columns).limit(limit).to_arrow()

    def _one_video(self, where: str) -> StoredVideo | None:
        rows = self._videos_where(where, STORED_VIDEO_COLUMNS, limit=1).to_pylist()
        return StoredVideo(**rows[0]) if rows else None

    @reads
    def video_with_id(self, video_id: str) -> StoredVideo | None:
        return self._one_video(f"id = {sql_list([video_id])}")

    @reads
    def video_at(self, path: str) -> StoredVideo | None:
        """The row of the file at `path` (relative to the root, as stored), if indexed."""
        return self._one_video(f"path = {sql_list([path])}")

    @reads
    def video_with_content(self, content_hash: str) -> StoredVideo | None:
        """One row (any) whose file has this content."""
        return self._one_video(f"content_hash = {sql_list([content_hash])}")

    @reads
    def ids_with_content(self, content_hash: str) -> list[str]:
        """Ids of every row whose file has this content (a file and its identical copies)."""
        return self.ids_where(f"content_hash = {sql_list([content_hash])}")

    @reads
    def ids_where(self, where: str) -> list[str]:
        """Ids of the videos that pass `where` (an SQL filter on the videos table)."""
        return self._videos_where(where, ["id"]).column("id").to_pylist()

    @reads
    def channel_members(self, channels: Iterable[str]) -> list[ChannelMember]:
        """(id, channel) of every video in these channels."""
        found = self._videos_where(f"channel IN ({sql_list(channels)})", ["id", "channel"])
        return [ChannelMember(*pair) for pair in zip(found.column("id").to_pylist(),
                                                      found.column("channel").to_pylist())]

    @reads
    def vectors_of_inputs(self, digests: list[str]) -> dict[str, np.ndarray]:
        """digest → the stored vector of a frame with that model-input digest, for the `digests` the
        frames table holds (`vindex.indexing.distinct`); a damaged (not finite) vector is not
        returned, so that frame is embedded again."""
        if self.frames is None or not digests or "input_digest" not in self.frames.schema.names:
            return {}
        import numpy as np

        from vindex.schema import vectors_of

        found: dict[str, np.ndarray] = {}
        for chunk in chunked(sorted(set(digests))):
            rows = (self.frames.search().where(f"input_digest IN ({sql_list(chunk)})")
                    .select(["input_digest", "vector"]).limit(None).to_arrow())
            vectors = vectors_of(rows.column("vector"))
            for digest, vector in zip(rows.column("input_digest").to_pylist(), vectors):
                if digest not in found and np.isfinite(vector).all():
                    found[digest] = vector
        return found

    @reads
    def count_videos(self, where: str | None = None) -> int:
        """How many videos there are (those passing the videos-table filter `where`, when given)."""
        return 0 if self.videos is None else self.videos.count_rows(where)

    def frame_vector_batches(self, rows_per_batch: int) -> Iterator[pa.RecordBatch]:
        """Every frame's video_id and vector, in batches of about `rows_per_batch` rows, so a
        pass over all of them never holds the whole table."""
        try:
            query = self.frames.search().select(["video_id", "vector"]).limit(None)
            yield from query.to_batches(rows_per_batch)
        except Exception as error:
            explained = storage_error(self.uri, error, writing=False)
            if explained is None:
                raise
            raise explained from None

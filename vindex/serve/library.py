"""The server's one view of the index: a single `Index` for the server's lifetime (so the model
is loaded once), reopened when another process (`vindex add`, `vindex cluster`) has changed the
index's tables or metadata, and the few look-ups by video id that the pages need."""

from __future__ import annotations

import math
import re
import threading
import time
from pathlib import Path

from vindex.defaults import PRECISION
from vindex.index import Index
from vindex.locations import is_remote, join_root
from vindex.store.versions import published, state_signature

# An id from the request is only ever looked up, never used as a path; this keeps junk (and
# anything that looks like a path) from reaching the database at all.
VIDEO_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
# How often a request checks whether another process changed the index: a check lists the
# tables and reads the metadata table's version (about a millisecond); within this interval
# requests reuse the last answer.
REFRESH_SECONDS = 1.0
VIDEO_COLUMNS = ["id", "path", "channel", "size", "duration", "width", "height", "content_hash", "cluster", "x", "y"]


class Library:
    """One `Index` shared by every request; `current()` hands it out, fresh."""

    def __init__(self, db: str | None = None, device: str | None = None, precision: str = PRECISION):
        self.index = Index(db, device=device, precision=precision)
        self.uri = self.index.store.uri  # an unknown --db fails here, before the server starts
        self._lock = threading.Lock()
        self._signature = self._read_signature()
        self._checked = time.monotonic()
        self._catalog: dict[str, dict] = {}
        self._catalog_version: tuple | None = None

    def current(self) -> Index:
        """The index, reopened first if its tables or metadata changed since it was opened.

        Rows that `vindex add` writes are seen anyway (the store reads the latest version of a
        table); a new table or new metadata (a first add, a clustering run) needs a reopen.
        """
        now = time.monotonic()
        # While a writer runs, every request reads at the version set it last published.
        writing = published(self.uri) is not None
        if writing or now - self._checked >= REFRESH_SECONDS:
            with self._lock:
                if writing or now - self._checked >= REFRESH_SECONDS:
                    signature = self._read_signature()
                    if signature != self._signature:
                        self.index.refresh()
                        self._signature = signature
                    self._checked = time.monotonic()
        return self.index

    def _read_signature(self) -> tuple:
        # Each write step a writer publishes (store.versions) is a new state to reopen at.
        return state_signature(self.index.store)

    # -- look-ups by id ---------------------------------------------------------------------------
    def catalog(self) -> dict[str, dict]:
        """Video id → row (file facts and map position, no vectors), read again whenever the videos
        table has a new version: a page of 60 thumbnails looks up 60 ids, which one query each
        would make cost more than the decoding."""
        store = self.current().store
        if store.is_empty:
            return {}
        version = (id(store.videos), store.videos.version)
        if version != self._catalog_version:
            with self._lock:
                if version != self._catalog_version:
                    rows = store.catalog(VIDEO_COLUMNS).to_pylist()
                    self._catalog = {row["id"]: row for row in rows}
                    self._catalog_version = version
        return self._catalog

    def video(self, video_id: str) -> dict | None:
        """The row of video `video_id`, or None if the index has none."""
        if not VIDEO_ID.fullmatch(video_id):
            return None
        return self.catalog().get(video_id)

    def file_of(self, row: dict) -> Path | None:
        """Where the video of `row` lies on this machine (None for an index of remote files)."""
        root = self.current().meta.root
        if not root or is_remote(root):
            return None
        return Path(join_root(root, row["path"]))

    def map_points(self) -> list[dict]:
        """Every video of the latest clustering run with its stored 2-D position."""
        points = []
        for row in self.catalog().values():
            x, y = row["x"], row["y"]
            if row["cluster"] is None or x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
                continue
            points.append(dict(id=row["id"], path=row["path"], channel=row["channel"], cluster=row["cluster"],
                               x=round(x, 4), y=round(y, 4)))
        return points

    def channels(self) -> list[str]:
        return sorted({row["channel"] for row in self.catalog().values()}, key=str)

    def thumbnail_folder(self) -> Path | None:
        """The thumbnail cache's folder: beside a local index (`<index>-thumbnails`), None for a remote one."""
        if is_remote(self.uri):
            return None
        folder = Path(self.uri).resolve()
        return folder.with_name(folder.name + "-thumbnails")

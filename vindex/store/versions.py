"""The version set a writer publishes, so that readers see the tables as one state.

A writer commits the tables one after another (a batch's frames, then its video rows; a
re-embed drops every table and makes them again), so a reader opening each table at its latest
version while a writer runs can see frames without their videos, or a table gone for a moment.
After each of its write steps the writer records the version of every table in one small file,
replaced atomically; while a writer holds the lock, readers check out exactly those versions.
With no writer running, the latest versions are the last published ones, and are read as they are.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from vindex.locking import LOCK_FILE, holds_lock

VERSIONS_FILE = "versions.json"
# How long a read that failed while a writer runs waits for the writer's next set before the
# failure is taken for damage: a re-embed drops its four tables in well under this.
SETTLE_POLLS, SETTLE_SECONDS = 20, 0.1


def publish(folder: str, versions: dict[str, int]) -> None:
    """Record `versions` (table → version) as the state readers see, replacing the last at once."""
    path = Path(folder) / VERSIONS_FILE
    temporary = path.with_name(f".{VERSIONS_FILE}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(versions))
    os.replace(temporary, path)


def published(folder: str) -> dict[str, int] | None:
    """The version set to read at, while another process or thread writes; None: read the latest."""
    lock = Path(folder) / LOCK_FILE
    try:
        if holds_lock(lock) or not lock.stat().st_size:  # no writer (an idle lock file is emptied)
            return None
        versions = json.loads((Path(folder) / VERSIONS_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(versions, dict) or not all(isinstance(v, int) for v in versions.values()):
        return None
    return versions


def publish_tables(store) -> None:
    """Publish the versions of all the store's tables: called after each of its write steps
    (`store.failures.writes`), so each published set is a state the writer meant to leave."""
    from vindex.locations import is_remote
    from vindex.schema import CLUSTERS, FRAMES, META, VIDEOS

    if is_remote(store.uri):
        return
    names = set(store.db.list_tables().tables)
    tables = {VIDEOS: store.videos, FRAMES: store.frames, CLUSTERS: store.clusters}
    versions = {name: table.version for name, table in tables.items() if table is not None and name in names}
    if META in names:
        versions[META] = store.db.open_table(META).version
    publish(store.uri, versions)


def reopened_at_newer_set(store) -> bool:
    """After a read failed: whether a writer has published another version set than the one the
    store read at (or it read the latest, before that writer started), as when a re-embed drops
    the table being read; the store is then reopened at the new set."""
    now = published(store.uri)
    for _ in range(SETTLE_POLLS):  # a writer mid-step (dropping tables) publishes when the step ends
        if now is None or now != getattr(store, "_pinned", None):
            break
        time.sleep(SETTLE_SECONDS)
        now = published(store.uri)
    if now is None or now == getattr(store, "_pinned", None):
        return False
    store.reload()
    return True


def state_signature(store) -> tuple:
    """What changes when any writer has written: the tables there are, the metadata's version and
    the version set a running writer last published (a reader holding an older one reopens)."""
    names = tuple(sorted(store.db.list_tables().tables))
    meta = store.db.open_table("meta").version if "meta" in names else None
    return names, meta, published(store.uri)

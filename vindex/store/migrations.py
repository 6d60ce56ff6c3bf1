"""The numbered migrations that bring an index written by an older vindex up to date when it is
opened, and the check that refuses one written by a newer vindex.

A change to a table's columns bumps `vindex.schema.SCHEMA_VERSION` and adds
`MIGRATIONS[old_version]`, a function that takes the store at `old_version` and leaves it at
`old_version + 1`; tests/test_schema.py runs each one on an index written by the previous version.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from vindex import schema
from vindex.errors import VindexError


class Tables(Protocol):
    """What a migration is given: the `Store` being opened (named by its shape, so this module
    needs no import of the store, which imports it)."""

    uri: str
    videos: Any  # the LanceDB tables, None when the index has none yet
    frames: Any
    db: Any  # the LanceDB connection
    meta: Any  # its IndexMeta

    def set_meta(self, **items: Any) -> None: ...


def _add_fingerprint_columns(store: Tables) -> None:
    """Version 1 → 2: the new columns, null; `add` fills fingerprints in without re-embedding."""
    if store.videos is not None:
        store.videos.add_columns(schema.VIDEO_COLUMNS_V2)
    if store.frames is not None:
        store.frames.add_columns(schema.FRAME_COLUMNS_V2)


def _add_curation_table(store: Tables) -> None:
    """Version 2 → 3: an empty `curation` table (an index from before had no decisions)."""
    if schema.CURATION not in store.db.list_tables().tables:
        store.db.create_table(schema.CURATION, schema=schema.curation_schema())

def _denser_fingerprints(store: Tables) -> None:
    """Version 3 → 4: the keeper's columns, null, and the old, sparser fingerprints dropped (set
    null) so that the next `add` fills both in again by decoding, without re-embedding."""
    if store.videos is not None:
        missing = [field for field in schema.VIDEO_COLUMNS_V4 if field.name not in store.videos.schema.names]
        if missing:  # an index from version 1 got them with the current schema's table layout
            store.videos.add_columns(missing)
        store.videos.update(values_sql={"fingerprints": "NULL", "fingerprint_times": "NULL"})



def _record_fixed_frame_policy(store: Tables) -> None:
    """Version 4 → 5: the index's frame policy in `meta` (`vindex.sampling`). An index made before
    frames followed the shots took a fixed count per video: that is recorded, and the next `add`
    says once how to move to the per-shot policy (`frame_upgrade_pending`)."""
    meta = store.meta
    if not meta.has_model or meta.frame_policy:
        return
    store.set_meta(frame_policy=dict(kind="fixed", frames=int(meta.frames_per_video or 5)),
                   frame_upgrade_pending=True)


def _add_input_digests(store: Tables) -> None:
    """Version 5 → 6: the frames' model-input digest column, null (an older frame is never reused:
    its input is unknown; re-embedded or new frames get theirs)."""
    if store.frames is not None and "input_digest" not in store.frames.schema.names:
        store.frames.add_columns(schema.FRAME_COLUMNS_V6)


def _colour_signatures(store: Tables) -> None:
    """Version 6 → 7: the fingerprints' colour signatures, null, and the fingerprints without them
    dropped (set null) so that the next `add` computes both by decoding, without re-embedding."""
    if store.videos is not None:
        missing = [field for field in schema.VIDEO_COLUMNS_V7 if field.name not in store.videos.schema.names]
        if missing:
            store.videos.add_columns(missing)
        store.videos.update(values_sql={"fingerprints": "NULL", "fingerprint_times": "NULL"})


def _fine_hashes(store: Tables) -> None:
    """Version 7 → 8: the fingerprints' finer hashes, null, and the fingerprints without them dropped
    (set null) so that the next `add` computes them all by decoding, without re-embedding."""
    if store.videos is not None:
        missing = [field for field in schema.VIDEO_COLUMNS_V8 if field.name not in store.videos.schema.names]
        if missing:
            store.videos.add_columns(missing)
        store.videos.update(values_sql={"fingerprints": "NULL", "fingerprint_times": "NULL"})


def _fingerprint_rules(store: Tables) -> None:
    """Version 8 → 9: the column of each row's fingerprint rules, null: the next `add` fingerprints
    those rows again by decoding, without re-embedding (`dupes` uses the old ones until then)."""
    if store.videos is not None and "fingerprint_rules" not in store.videos.schema.names:
        store.videos.add_columns(schema.VIDEO_COLUMNS_V9)


def _footage_columns(store: Tables) -> None:
    """Version 9 → 10: the columns of each row's footage, null: the next `add` fingerprints the rows again
    (their rules are older) by decoding, without re-embedding."""
    if store.videos is not None and "footage_seconds" not in store.videos.schema.names:
        store.videos.add_columns(schema.VIDEO_COLUMNS_V10)


# from-version -> the function that migrates an index from that version to the next.
MIGRATIONS: dict[int, Callable[[Tables], None]] = {
    1: _add_fingerprint_columns,
    2: _add_curation_table,
    3: _denser_fingerprints,
    4: _record_fixed_frame_policy,
    5: _add_input_digests,
    6: _colour_signatures,
    7: _fine_hashes,
    8: _fingerprint_rules,
    9: _footage_columns,
}


def check_version(found: int | None, uri: str) -> int:
    """The index's schema version, refused when it is newer than this vindex knows."""
    version = schema.SCHEMA_VERSION if found is None else int(found)
    if version > schema.SCHEMA_VERSION:
        raise VindexError(
            f"the index at {uri} has schema version {version}, newer than this vindex understands "
            f"(version {schema.SCHEMA_VERSION}): upgrade vindex (pip install -U vindex)"
        )
    return version


def migrate(store: Tables, version: int) -> list[int]:
    """Run the migrations from `version` up to SCHEMA_VERSION, recording each step; returns the
    versions migrated from."""
    done = []
    while version < schema.SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise VindexError(
                f"the index at {store.uri} has schema version {version}, which this vindex cannot migrate: "
                "rebuild it with `vindex add FOLDER --reembed`"
            )
        step(store)
        version += 1
        store.set_meta(schema_version=version)
        done.append(version - 1)
    return done

"""The schema version is checked on every open: newer indexes are refused, older ones migrated."""

import json

import pyarrow as pa
import pytest

from vindex import schema
from vindex.errors import VindexError
from vindex.store import Store, migrations


def set_version(db, version: int) -> None:
    store = Store(str(db))
    store.set_meta(schema_version=version)


def test_info_shows_the_schema_version(indexed_copy, run):
    assert f"schema: version {schema.SCHEMA_VERSION} (current)" in " ".join(run("info").stdout.split())
    assert json.loads(run("info", "--json").stdout)["schema_version"] == schema.SCHEMA_VERSION


def test_a_newer_index_is_refused_with_both_versions(indexed_copy, run):
    set_version(indexed_copy, schema.SCHEMA_VERSION + 1)
    result = run("query", "anything", expect=1)
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert f"schema version {schema.SCHEMA_VERSION + 1}" in message
    assert f"version {schema.SCHEMA_VERSION}" in message and "upgrade vindex" in message


def test_an_older_index_is_migrated_once_on_open(indexed_copy, monkeypatch):
    """A v(N) → v(N+1) step that adds a column runs on the first open and is recorded."""
    calls = []

    def add_note_column(store: Store) -> None:
        calls.append(store.uri)
        store.videos.add_columns(pa.field("note", pa.string()))

    current = schema.SCHEMA_VERSION
    monkeypatch.setattr(schema, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(migrations.MIGRATIONS, current, add_note_column)
    store = Store(str(indexed_copy))
    assert store.migrated == [current]
    assert store.meta.schema_version == current + 1
    assert "note" in store.videos.schema.names
    assert store.videos.count_rows() > 0  # rows kept
    again = Store(str(indexed_copy))
    assert again.migrated == [] and calls == [str(indexed_copy)]


def test_an_index_without_a_migration_path_is_refused_with_the_command(indexed_copy, monkeypatch):
    monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    with pytest.raises(VindexError, match="--reembed"):
        Store(str(indexed_copy))


def test_a_version_1_index_gets_the_fingerprint_columns_and_keeps_its_rows(indexed_copy):
    """Version 1 had no fingerprint or cluster-status columns: they arrive null, the rows stay."""
    store = Store(str(indexed_copy))
    videos, frames = store.videos.count_rows(), store.frames.count_rows()
    store.videos.drop_columns([field.name for field in schema.VIDEO_COLUMNS_V2 + schema.VIDEO_COLUMNS_V4])
    store.frames.drop_columns([field.name for field in schema.FRAME_COLUMNS_V2])
    store.set_meta(schema_version=1)
    migrated = Store(str(indexed_copy))
    assert migrated.migrated == list(range(1, schema.SCHEMA_VERSION))  # and every later step
    assert {"fingerprints", "fingerprint_times", "cluster_status"} <= set(migrated.videos.schema.names)
    assert {"phash", "blank"} <= set(migrated.frames.schema.names)
    assert (migrated.videos.count_rows(), migrated.frames.count_rows()) == (videos, frames)
    assert migrated.videos.to_arrow().column("fingerprints").null_count == videos


def test_a_version_3_index_gets_the_keeper_columns_and_its_fingerprints_again_without_reembedding(
        indexed_copy, corpus_template, run):
    """Versions 2 and 3 stored sparser fingerprints (two a second, keyframes past 30 s) and nothing about
    the best copy: the migration adds the columns and drops the old fingerprints; the next add
    decodes them again, denser, and fills the columns in, vectors untouched."""
    from tests.conftest import TINY

    store = Store(str(indexed_copy))
    before = store.videos.to_arrow().sort_by("id")
    store.videos.drop_columns([field.name for field in schema.VIDEO_COLUMNS_V4])
    store.set_meta(schema_version=3)
    migrated = Store(str(indexed_copy))
    assert migrated.migrated == list(range(3, schema.SCHEMA_VERSION)) and migrated.meta.schema_version == schema.SCHEMA_VERSION
    videos = migrated.videos.to_arrow()
    assert {"content_seconds", "picture_width", "picture_height"} <= set(videos.schema.names)
    assert videos.column("fingerprints").null_count == videos.column("content_seconds").null_count == before.num_rows

    summary = json.loads(run("add", corpus_template, *TINY, "--json").stdout)
    assert summary["embedded"] == 0 and summary["fingerprinted"] == before.num_rows
    after = Store(str(indexed_copy)).videos.to_arrow().sort_by("id")
    assert after.column("vector").equals(before.column("vector"))
    assert after.column("fingerprints").equals(before.column("fingerprints"))  # made by this version, as before
    seconds = after.column("content_seconds").to_pylist()
    assert all(0 < s <= d + 0.01 for s, d in zip(seconds, after.column("duration").to_pylist()))
    pictures = zip(after.column("picture_width").to_pylist(), after.column("width").to_pylist())
    assert all(abs(picture - width) <= 0.05 * width for picture, width in pictures)  # no bars in the corpus


@pytest.mark.parametrize("made_by", ["schema 8, no rules recorded", "schema 9, no footage seconds", "older rules"])
def test_fingerprints_made_by_older_rules_are_made_again_by_add_without_reembedding(
        indexed_copy, corpus_template, run, made_by):
    """A change to which samples count as footage (blank, held) leaves the fingerprints made before it
    behind: `dupes` still uses them but says so, and the next add decodes those rows again (vectors
    untouched, the rows' rules recorded), after which neither happens again."""
    from tests.conftest import TINY
    from vindex.fingerprints import RULES_VERSION

    store = Store(str(indexed_copy))
    before = store.videos.to_arrow().sort_by("id")
    assert set(before.column("fingerprint_rules").to_pylist()) == {RULES_VERSION}
    if made_by == "older rules":
        store.videos.update(values_sql={"fingerprint_rules": str(RULES_VERSION - 1)})
    else:
        version = 8 if made_by.startswith("schema 8") else 9
        dropped = [*(schema.VIDEO_COLUMNS_V9 if version == 8 else []), *schema.VIDEO_COLUMNS_V10]
        store.videos.drop_columns([field.name for field in dropped])
        store.set_meta(schema_version=version)
        migrated = Store(str(indexed_copy))
        assert migrated.migrated == list(range(version, schema.SCHEMA_VERSION))
        videos = migrated.videos.to_arrow().sort_by("id")
        assert videos.column("footage_seconds").null_count == before.num_rows
        if version == 9:  # rows of rules that had no footage columns yet
            migrated.videos.update(values_sql={"fingerprint_rules": "2"})
        else:
            assert videos.column("fingerprint_rules").null_count == before.num_rows
        assert videos.column("fingerprints").equals(before.column("fingerprints"))  # kept: dupes uses them until add
    warned = [line for line in run("dupes").stderr.splitlines() if "older vindex's rules" in line]
    assert len(warned) == 1 and warned[0].startswith(f"warning: {before.num_rows} of {before.num_rows} videos")

    summary = json.loads(run("add", corpus_template, *TINY, "--json").stdout)
    assert summary["embedded"] == 0 and summary["fingerprinted"] == before.num_rows
    after = Store(str(indexed_copy)).videos.to_arrow().sort_by("id")
    assert after.column("vector").equals(before.column("vector"))
    assert set(after.column("fingerprint_rules").to_pylist()) == {RULES_VERSION}
    assert after.column("footage_seconds").equals(before.column("footage_seconds"))
    assert after.column("fingerprints").equals(before.column("fingerprints"))  # the same rules made them again
    assert "older vindex's rules" not in run("dupes").stderr
    assert json.loads(run("add", corpus_template, *TINY, "--json").stdout)["fingerprinted"] == 0

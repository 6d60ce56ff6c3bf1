"""The shared check of a migration that adds a per-fingerprint column (colour signatures, finer
hashes): the old fingerprints are dropped, and the next add decodes them again with the new column,
vectors untouched."""

import json

from tests.conftest import TINY
from vindex.store import Store


def assert_fingerprints_refilled_without_reembedding(indexed_copy, corpus_template, run, columns: list,
                                                     old_version: int, column: str, words_per_hash: int) -> None:
    from vindex import schema

    store = Store(str(indexed_copy))
    before = store.videos.to_arrow().sort_by("id")
    store.videos.drop_columns([field.name for field in columns])
    store.set_meta(schema_version=old_version)
    migrated = Store(str(indexed_copy))
    assert migrated.migrated == list(range(old_version, schema.SCHEMA_VERSION))
    videos = migrated.videos.to_arrow()
    assert column in videos.schema.names
    assert videos.column("fingerprints").null_count == videos.column(column).null_count == before.num_rows

    summary = json.loads(run("add", corpus_template, *TINY, "--json").stdout)
    assert summary["embedded"] == 0 and summary["fingerprinted"] == before.num_rows
    after = Store(str(indexed_copy)).videos.to_arrow().sort_by("id")
    assert after.column("vector").equals(before.column("vector"))
    assert after.column(column).equals(before.column(column))
    pairs = list(zip(after.column(column).to_pylist(), after.column("fingerprints").to_pylist()))
    assert all(len(words) == words_per_hash * len(hashes) for words, hashes in pairs)
    assert any(hashes for _, hashes in pairs)

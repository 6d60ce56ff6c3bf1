"""The store's named queries: the only way the layers above ask the tables for rows, answered as
typed rows, with storage failures said in one line."""

import shutil

import pytest

from vindex.errors import VindexError
from vindex.store import ChannelMember, Store, StoredVideo


def test_a_video_is_found_by_id_path_and_content_as_the_same_typed_row(indexed_copy):
    store = Store(str(indexed_copy))
    first = store.catalog(["id", "path", "content_hash"]).to_pylist()[0]
    by_id = store.video_with_id(first["id"])
    assert isinstance(by_id, StoredVideo) and by_id.path == first["path"] and len(by_id.vector) == store.meta.dim
    assert store.video_at(first["path"]) == by_id
    assert store.video_with_content(first["content_hash"]).content_hash == first["content_hash"]
    assert first["id"] in store.ids_with_content(first["content_hash"])
    assert store.video_with_id("no such id") is None and store.video_at("it's/not/there.mp4") is None


def test_channel_members_and_filtered_ids_agree_with_the_catalog(indexed_copy):
    store = Store(str(indexed_copy))
    catalog = store.catalog(["id", "channel"]).to_pylist()
    channel = catalog[0]["channel"]
    expected = sorted(row["id"] for row in catalog if row["channel"] == channel)
    members = store.channel_members([channel])
    assert all(isinstance(member, ChannelMember) and member.channel == channel for member in members)
    assert sorted(member.id for member in members) == expected
    assert sorted(store.ids_where(f"channel = '{channel}'")) == expected
    assert store.count_videos() == len(catalog)


def test_frame_vector_batches_cover_every_frame(indexed_copy):
    store = Store(str(indexed_copy))
    batches = list(store.frame_vector_batches(7))
    assert sum(batch.num_rows for batch in batches) == store.count_frames()
    assert max(batch.num_rows for batch in batches) <= 7
    assert batches[0].schema.names == ["video_id", "vector"]


def test_a_query_on_a_damaged_table_is_one_line_naming_the_repair(indexed_copy):
    store = Store(str(indexed_copy))
    shutil.rmtree(indexed_copy / "frames.lance" / "data")
    with pytest.raises(VindexError, match="vindex check --repair"):
        list(store.frame_vector_batches(100))

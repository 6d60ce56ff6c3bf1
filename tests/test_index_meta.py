"""`IndexMeta`: the index's metadata, parsed once when the store opens, with its defaults for
indexes written before a field existed."""

from vindex.store import Store
from vindex.store.meta import LEGACY_SAMPLING, IndexMeta


def test_an_index_from_before_sampling_was_a_choice_reads_as_uniform():
    meta = IndexMeta.parse({"schema_version": 1, "model": "ViT-B-32", "weights": "openai", "frames_per_video": 8})
    assert meta.sampling == LEGACY_SAMPLING == "uniform"
    assert meta.has_model and meta.frames_per_video == 8


def test_an_empty_index_has_no_model_no_sampling_and_empty_records():
    meta = IndexMeta.parse({})
    assert meta.is_empty and not meta.has_model and meta.sampling is None
    assert meta.failed == {} and meta.ann == {} and meta.vectors_made_by == []


def test_keys_this_vindex_does_not_know_are_kept_as_stored():
    meta = IndexMeta.parse({"model": "m", "sampling": "shots", "from_the_future": 3})
    assert meta.sampling == "shots" and meta.stored["from_the_future"] == 3


def test_set_meta_updates_the_parsed_metadata_and_the_next_open_reads_it(tmp_path):
    store = Store(str(tmp_path / "db"), create=True)
    store.initialise(4, model="vindex-tiny", weights="random-init", frames_per_video=3, sampling="shots", root="/v")
    store.set_meta(failed={"a.mp4": [1, 2, "no video stream"]})
    assert store.meta.failed == {"a.mp4": [1, 2, "no video stream"]} and store.meta.dim == 4
    again = Store(str(tmp_path / "db")).meta
    assert (again.model, again.sampling, again.root, again.frames_per_video) == ("vindex-tiny", "shots", "/v", 3)
    assert again.failed == store.meta.failed

"""The ANN indexes (IVF_FLAT) agree with an exhaustive search, and `add` builds them past the threshold."""

import json
import shutil

from vindex import Index
from vindex.store import Store


def test_ann_index_agrees_with_brute_force(library, run, tmp_path):
    root, db = library
    copy = tmp_path / "index"
    shutil.copytree(db, copy)
    store = Store(str(copy))
    built = store.ensure_search_indexes(min_rows=10)
    assert {index["table"] for index in built} == {"videos", "frames"}
    assert store.vector_indexes()["frames"]["type"] == "IvfFlat"
    from vindex.search import search, video_probe

    index = Index(str(copy))
    for name in ("alpha/stripes_00.mp4", "beta/checker_09.mp4", "delta/noise_07.mp4"):
        probe = video_probe(index.store, root / name, index.embedder)
        for by in ("frame", "video"):
            ann = [hit.video_id for hit in search(index.store, probe, by, 5)]
            assert ann == [hit.video_id for hit in search(index.store, probe, by, 5, exact=True)]
    report = json.loads(run("optimize", "--db", copy, "--rebuild", "--json").stdout)
    assert {index["table"] for index in report["built"]} == {"videos", "frames"}


def test_add_builds_the_ann_index_past_the_threshold(corpus, run, monkeypatch, isolated_index):
    monkeypatch.setattr("vindex.store.vector_index.ANN_MIN_ROWS", 100)
    run("add", corpus, "--model", "vindex-tiny", "-q")
    indexes = Store(str(isolated_index)).vector_indexes()
    assert set(indexes) == {"frames"}  # 120 frame rows passed the threshold, 24 video rows did not
    assert indexes["frames"]["indexed_rows"] == 120
    assert "frames: IvfFlat (120 indexed" in run("optimize").stdout

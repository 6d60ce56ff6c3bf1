"""`vindex query`, `vindex similar` and their library API.

The corpus (tests/search_corpus.py) gives every original video its own pattern and palette and
plants near-duplicates; the dupes and ANN tests on it are in test_dupes_similar.py and test_ann.py.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vindex import Index
from vindex.duplicates import DuplicateGroup
from vindex.search import Hit, QueryResult
from vindex.store import Store
from tests.search_corpus import DUPLICATE_THRESHOLD, FP32


def hits(run, *args) -> list[dict]:
    return json.loads(run(*args, "--json").stdout)["hits"]


def assert_one_line_error(result, fragment: str) -> None:
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


# -- similar -------------------------------------------------------------------------------------
@pytest.mark.parametrize("by", ["frame", "video"])
def test_nearest_neighbour_of_a_video_is_its_reencode(library, run, by):
    root, db = library
    found = hits(run, "similar", root / "alpha" / "stripes_00.mp4", "--db", db, "--by", by)
    assert found[0]["path"] == "alpha/reencode_00.avi"
    back = hits(run, "similar", root / "alpha" / "reencode_00.avi", "--db", db, "--by", by)
    assert back[0]["path"] == "alpha/stripes_00.mp4"


def test_similar_on_an_unindexed_copy_finds_the_original_first(library, run):
    root, db = library
    result = json.loads(run("similar", root.parent / "outside" / "reencoded_03.avi", "--db", db, *FP32, "--json").stdout)
    assert result["source"] == "embedded"
    assert result["hits"][0]["path"] == "delta/gradient_03.mp4"
    assert result["hits"][0]["score"] > 0.99 > result["hits"][1]["score"]
    assert Store(str(db)).catalog(["id"]).num_rows == 16  # nothing was added


def test_similar_leaves_out_the_query_and_its_identical_copies(library, run):
    root, db = library
    paths = [hit["path"] for hit in hits(run, "similar", root / "gamma" / "rings_10.mp4", "--db", db)]
    assert "gamma/rings_10.mp4" not in paths and "beta/copy_10.mp4" not in paths
    kept = hits(run, "similar", root / "gamma" / "rings_10.mp4", "--db", db, "--include-self")
    assert {hit["path"] for hit in kept[:2]} == {"gamma/rings_10.mp4", "beta/copy_10.mp4"}
    assert kept[0]["score"] == pytest.approx(1.0, abs=1e-5)


def test_similar_finds_an_outside_copy_by_content_hash(library, run):
    root, db = library
    result = json.loads(run("similar", root.parent / "outside" / "copy_of_10.mp4", "--db", db, "--json").stdout)
    assert result["source"] == "index"  # stored vectors, no decoding
    assert not {"gamma/rings_10.mp4", "beta/copy_10.mp4"} & {hit["path"] for hit in result["hits"]}


def test_similar_accepts_a_path_relative_to_the_working_directory(library, run, monkeypatch):
    root, db = library
    monkeypatch.chdir(root / "alpha")
    assert hits(run, "similar", "stripes_00.mp4", "--db", db, "-n", "1")[0]["path"] == "alpha/reencode_00.avi"


def test_paths_prints_one_existing_file_per_line(library, run):
    root, db = library
    lines = run("similar", root / "alpha" / "stripes_00.mp4", "--db", db, "--paths", "-n", "3").stdout.splitlines()
    assert len(lines) == 3 and all(Path(line).is_file() for line in lines)
    assert lines[0] == str(root / "alpha" / "reencode_00.avi")


# -- query ---------------------------------------------------------------------------------------
def test_query_hits_carry_a_timestamp_of_the_returned_video(library, run):
    _, db = library
    found = hits(run, "query", "neon stripes", "--db", db, "-n", "16")
    store = Store(str(db))
    assert len(found) == 16
    for hit in found:
        frames = store.frames_by_video([hit["video_id"]]).to_pylist()
        assert (hit["frame_index"], hit["timestamp"]) in {(f["frame_index"], f["timestamp"]) for f in frames}


@pytest.mark.parametrize("by", ["frame", "video"])
def test_query_ranks_like_a_brute_force_cosine(library, by):
    _, db = library
    index = Index(str(db))
    result = index.query("a red and blue pattern", by=by, limit=16)
    text = index.embedder().embed_texts(["a red and blue pattern"])[0]
    store = index.store
    if by == "video":
        videos = store.videos.to_arrow().to_pylist()
        expected = {row["id"]: float(np.dot(row["vector"], text)) for row in videos}
    else:
        expected = {}
        for frame in store.frames.to_arrow().to_pylist():
            expected[frame["video_id"]] = max(expected.get(frame["video_id"], -1.0), float(np.dot(frame["vector"], text)))
    assert [hit.video_id for hit in result] == sorted(expected, key=expected.get, reverse=True)
    assert [hit.score for hit in result] == pytest.approx(sorted(expected.values(), reverse=True), abs=1e-5)


def test_channel_filter_keeps_only_those_channels(library, run):
    _, db = library
    for by in ("frame", "video"):
        found = hits(run, "query", "stripes", "--db", db, "--channel", "beta", "--channel", "gamma", "--by", by, "-n", "50")
        assert {hit["channel"] for hit in found} == {"beta", "gamma"}
        assert len(found) == 8  # every video of the two channels, and only those


def test_min_score_and_limit(library, run):
    _, db = library
    everything = hits(run, "query", "stripes", "--db", db, "-n", "50")
    assert len(everything) == 16 and len(hits(run, "query", "stripes", "--db", db, "-n", "3")) == 3
    floor = everything[4]["score"]
    above = hits(run, "query", "stripes", "--db", db, "--min-score", floor, "-n", "50")
    assert [hit["path"] for hit in above] == [hit["path"] for hit in everything[:5]]


def test_filters_go_into_the_lancedb_query(library, monkeypatch):
    _, db = library
    calls = []
    original = Store.nearest

    def spy(self, table_name, vectors, limit, columns, where=None, min_score=None, *rest):
        calls.append((table_name, limit, where, min_score))
        return original(self, table_name, vectors, limit, columns, where, min_score, *rest)

    monkeypatch.setattr(Store, "nearest", spy)
    result = Index(str(db)).query("stripes", limit=2, channels=["beta"], min_score=-1.0)
    assert len(result) == 2 and {hit.channel for hit in result} == {"beta"}
    table_name, limit, where, min_score = calls[0]
    beta_ids = Store(str(db)).videos.search().where("channel = 'beta'").select(["id"]).to_arrow().column("id").to_pylist()
    assert table_name == "frames" and limit == 2 * 5 and min_score == -1.0
    assert where.startswith("(video_id IN (") and all(video in where for video in beta_ids)


def test_long_text_is_truncated_with_a_warning(library, run):
    _, db = library
    result = run("query", " ".join(["colourful stripes"] * 100), "--db", db, "-n", "2")
    assert "warning:" in result.stderr and "77-token context" in result.stderr
    assert sum("77-token context" in line for line in result.stderr.splitlines()) == 1
    assert len(result.stdout.splitlines()) == 3  # header, two hits


def test_library_api_returns_typed_results(library):
    root, db = library
    index = Index(str(db))
    result = index.similar(root / "alpha" / "stripes_00.mp4", limit=3)
    assert isinstance(result, QueryResult) and all(isinstance(hit, Hit) for hit in result)
    assert [hit.rank for hit in result] == [1, 2, 3] and result[0].file == str(root / "alpha" / "reencode_00.avi")
    assert all(isinstance(group, DuplicateGroup) for group in index.duplicates("similar", DUPLICATE_THRESHOLD))


# -- errors --------------------------------------------------------------------------------------
def test_errors_are_one_line_and_non_zero(library, run, tmp_path):
    root, db = library
    outside = root.parent / "outside"
    cases = [
        (["query", "", "--db", db], "text query is empty"),
        (["query", "   ", "--db", db], "text query is empty"),
        (["similar", outside / "corrupt.mp4", "--db", db], "as a video"),
        (["similar", tmp_path / "missing.mp4", "--db", db], "no such file"),
        (["similar", root, "--db", db], "is a folder"),
        (["query", "x", "--db", db, "--channel", "nope"], "no channel named 'nope'"),
        (["query", "x", "--db", tmp_path / "nowhere"], "no index at"),
    ]
    for args, fragment in cases:
        assert_one_line_error(run(*args, expect=1), fragment)


def test_empty_index_is_an_error(run, tmp_path):
    empty = tmp_path / "empty"
    Store(str(empty), create=True)
    for args in (["query", "cat"], ["similar", __file__], ["dupes"], ["optimize"]):
        assert_one_line_error(run(*args, "--db", empty, expect=1), "holds no videos")


def test_index_whose_model_cannot_be_loaded_is_an_error(library, run, tmp_path):
    _, db = library
    copy = tmp_path / "index"
    shutil.copytree(db, copy)
    Store(str(copy)).set_meta(model="no-such-model")
    assert_one_line_error(run("query", "cat", "--db", copy, expect=1), "unknown model")

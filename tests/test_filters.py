"""`--under FOLDER` and `--name GLOB` on query, similar, dupes and show, and in the library API.

The corpus puts the videos nearest to `near/stripes_0.mp4` in `near/` and everything else in
`far/`, so a filter applied after the top-k would come back short; its file names hold SQL
wildcards (`%`, `_`), a quote and glob brackets.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vindex import Index, ModelSpec
from vindex.demo import Theme, render, write_video
from vindex.store import Store

STRIPES = Theme("stripes", ((255, 40, 180), (20, 0, 60)))
FAR = {
    "far/2024/100%_sure.mp4": Theme("checker", ((250, 220, 40), (30, 30, 30))),
    "far/2024/100a_sure.mp4": Theme("checker", ((40, 200, 90), (230, 255, 230))),
    "far/2024/it's.mp4": Theme("rings", ((255, 120, 0), (0, 90, 200))),
    "far/2024/[x].mp4": Theme("gradient", ((0, 230, 255), (120, 0, 0))),
    "far/other.mp4": Theme("blobs", ((160, 90, 40), (250, 240, 210))),
    "far/beach day.mp4": Theme("bars", ((120, 60, 255), (255, 255, 120))),
}
COPIES = {"far/2024/x.mp4": "far/2024/[x].mp4", "far/stripes_copy.mp4": "near/stripes_0.mp4"}
NEAR = [f"near/stripes_{number}.mp4" for number in range(4)]
ALL_FAR = sorted([*FAR, *COPIES])
FP32 = ["--precision", "fp32"]


@pytest.fixture(scope="module")
def filtered(tmp_path_factory) -> tuple[Path, Path]:
    """(root, index) of the corpus above, indexed once for the module."""
    base = tmp_path_factory.mktemp("filters")
    root = base / "videos"
    rng = np.random.default_rng(5)
    for path in NEAR:
        write_video(root / path, render(STRIPES, 64, 48, 12, rng), 10)
    for path, theme in FAR.items():
        write_video(root / path, render(theme, 64, 48, 12, rng), 10)
    for copy, original in COPIES.items():
        shutil.copy(root / original, root / copy)
    db = base / "index"
    Index(str(db), precision="fp32").add(root, model=ModelSpec("vindex-tiny"))
    return root, db


def paths(run, *args) -> list[str]:
    return [hit["path"] for hit in json.loads(run(*args, *FP32, "--json").stdout)["hits"]]


def assert_one_line_error(result, fragment: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and fragment in lines[0], result.stderr


@pytest.mark.parametrize("by", ["frame", "video"])
def test_limit_counts_videos_inside_the_folder_when_the_nearest_are_outside(filtered, run, by):
    root, db = filtered
    probe = root / "near" / "stripes_0.mp4"
    nearest = paths(run, "similar", probe, "--db", db, "--by", by, "-n", "3")
    assert all(path.startswith("near/") for path in nearest)  # a filter after the top 3 would keep none
    ranking = paths(run, "similar", probe, "--db", db, "--by", by, "-n", "50")
    inside = paths(run, "similar", probe, "--db", db, "--by", by, "-n", "3", "--under", "far")
    assert inside == [path for path in ranking if path.startswith("far/")][:3]
    found = paths(run, "query", "stripes", "--db", db, "--by", by, "-n", "4", "--under", "far/2024")
    assert len(found) == 4 and all(path.startswith("far/2024/") for path in found)


def test_the_filter_goes_into_the_lancedb_query(filtered, monkeypatch):
    _, db = filtered
    calls = []
    original = Store.nearest

    def spy(self, table_name, vectors, limit, columns, where=None, *rest):
        calls.append((table_name, limit, where))
        return original(self, table_name, vectors, limit, columns, where, *rest)

    monkeypatch.setattr(Store, "nearest", spy)
    result = Index(str(db), precision="fp32").query("stripes", limit=2, under="far/2024")
    assert len(result) == 2 and all(hit.path.startswith("far/2024/") for hit in result)
    far_ids = Store(str(db)).catalog(["id"], "starts_with(path, 'far/2024/')").column("id").to_pylist()
    table_name, limit, where = calls[0]
    assert table_name == "frames" and limit == 2 * 5
    assert where.count("'") == 2 * len(far_ids) and all(video in where for video in far_ids)


@pytest.mark.parametrize("glob, expected", [
    ("100%_sure.mp4", ["far/2024/100%_sure.mp4"]),  # % and _ are not wildcards
    ("100?_sure.mp4", ["far/2024/100%_sure.mp4", "far/2024/100a_sure.mp4"]),
    ("it's.mp4", ["far/2024/it's.mp4"]),
    ("[[]x].mp4", ["far/2024/[x].mp4"]),  # a bracket as itself
    ("[x].mp4", ["far/2024/x.mp4"]),  # a set of one
    ("[!s]*_*.mp4", ["far/2024/100%_sure.mp4", "far/2024/100a_sure.mp4"]),
    ("*beach*", ["far/beach day.mp4"]),
    ("*BEACH*", []),  # case-sensitive, like a shell
    ("far*", []),  # the file name only, not its folders
])
def test_name_glob(filtered, run, glob, expected):
    _, db = filtered
    assert sorted(paths(run, "query", "anything", "--db", db, "-n", "50", "--name", glob)) == expected


def test_under_takes_a_folder_relative_to_the_root_or_a_real_path(filtered, run, monkeypatch):
    root, db = filtered
    expected = sorted(path for path in ALL_FAR if path.startswith("far/2024/"))
    for under in ("far/2024", "far/2024/", "far/./2024", root / "far" / "2024"):
        assert sorted(paths(run, "query", "x", "--db", db, "-n", "50", "--under", under)) == expected, under
    monkeypatch.chdir(root / "far")
    assert sorted(paths(run, "query", "x", "--db", db, "-n", "50", "--under", "2024")) == expected
    assert len(paths(run, "query", "x", "--db", db, "-n", "50", "--under", root)) == len(NEAR) + len(ALL_FAR)


def test_under_outside_the_root_is_a_one_line_error(filtered, run, tmp_path):
    root, db = filtered
    for outside in (tmp_path, "../elsewhere", root.parent):
        result = run("query", "x", "--db", db, "--under", outside, expect=1)
        assert_one_line_error(result, "outside the index root")
    assert_one_line_error(run("dupes", "--db", db, "--name", "far/*.mp4", expect=1), "file names only")


def test_under_a_folder_with_no_indexed_video_is_a_one_line_error(filtered, run):
    _, db = filtered
    for command in (("query", "x"), ("dupes",), ("show", "0")):
        result = run(*command, "--db", db, "--under", "nope", expect=1)
        assert_one_line_error(result, "--under nope: no indexed video lies in that folder")
    assert run("query", "x", "--db", db, "--under", "far", "--name", "nothing*").stdout == ""


def test_under_and_name_combine_with_channel(filtered, run):
    _, db = filtered
    found = paths(run, "query", "x", "--db", db, "-n", "50", "--channel", "far", "--under", "far/2024", "--name", "*_*")
    assert sorted(found) == ["far/2024/100%_sure.mp4", "far/2024/100a_sure.mp4"]
    assert paths(run, "query", "x", "--db", db, "-n", "50", "--channel", "near", "--under", "far") == []
    empty = run("similar", filtered[0] / NEAR[0], "--db", db, "--channel", "near", "--under", "far", *FP32)
    assert empty.stdout == "" and "no matching videos" in empty.stderr


def test_dupes_are_looked_for_among_the_filtered_videos(filtered, run):
    _, db = filtered

    def groups(*args) -> list[list[str]]:
        found = json.loads(run("dupes", "--db", db, "--threshold", "1.0", *args, "--json").stdout)
        return sorted(sorted(video["path"] for video in group["videos"]) for group in found["groups"])

    everything = groups()
    assert ["far/2024/[x].mp4", "far/2024/x.mp4"] in everything
    assert ["far/stripes_copy.mp4", "near/stripes_0.mp4"] in everything
    assert groups("--under", "far/2024") == [["far/2024/[x].mp4", "far/2024/x.mp4"]]
    assert groups("--under", "near") == []
    assert groups("--name", "stripes_[c0]*") == [["far/stripes_copy.mp4", "near/stripes_0.mp4"]]


def test_library_api_takes_the_filters(filtered):
    root, db = filtered
    index = Index(str(db), precision="fp32")
    found = index.similar(root / NEAR[0], limit=2, under=root / "far", name="*.mp4", by="video")
    assert len(found) == 2 and all(hit.path.startswith("far/") for hit in found)
    assert [hit.path for hit in index.query("x", limit=5, name="it's.mp4")] == ["far/2024/it's.mp4"]
    groups = index.duplicates(threshold=1.0, under="far")
    assert [sorted(video.path for video in group.videos) for group in groups] == [["far/2024/[x].mp4", "far/2024/x.mp4"]]


def test_show_lists_only_the_filtered_members(filtered, run, tmp_path):
    root, db = filtered
    copy = tmp_path / "index"
    shutil.copytree(db, copy)
    run("cluster", "--db", copy, "--min-size", "2", "--neighbors", "3", "--no-report", "-q")
    overview = json.loads(run("show", "--db", copy, "--under", "far", "--json").stdout)
    assert sum(cluster["size"] for cluster in overview) == len(ALL_FAR)
    listed = []
    for cluster in overview:
        wanted = "noise" if cluster["id"] == -1 else cluster["id"]
        members = json.loads(run("show", wanted, "--db", copy, "--under", "far", "--limit", "0", "--json").stdout)
        assert members["size"] == cluster["size"] == len(members["videos"])
        listed += [video["path"] for video in members["videos"]]
    assert sorted(listed) == ALL_FAR
    index = Index(str(copy))
    biggest = index.clusters()[0]
    named = index.cluster_members(biggest.id, name="stripes_[0-9].mp4")
    assert {video.path for video in named.videos} <= set(NEAR) and named.size == len(named.videos)


def test_lancedb_runs_the_filter_on_escaped_and_special_names(tmp_path):
    """The SQL the filter writes (starts_with, regexp_like with \\x{..} escapes) as LanceDB's
    DataFusion runs it, on stored paths with a byte that is not UTF-8 (stored as NUL + hex)."""
    import fnmatch

    import lancedb
    import pyarrow as pa

    from vindex.locations import stored_path
    from vindex.store.filters import video_filter

    names = ["a/caf\x00e9.mp4", "a/café.mp4", "a/back\\slash.mp4", "a/x%y.mp4", "a/x_y.mp4", "b/a]b.mp4", "b/a-b.mp4",
             "b/.hidden.mp4", "top.mp4", "a/sub/deep.mkv"]
    table = lancedb.connect(str(tmp_path / "db")).create_table("videos", pa.table({"path": names}))

    def matching(where: str | None) -> list[str]:
        query = table.search()
        return sorted((query.where(where) if where else query).limit(None).to_arrow().column("path").to_pylist())

    for glob in ["caf?.mp4", "caf\udce9.mp4", "café.mp4", "back\\slash.mp4", "x%y.mp4", "x?y.mp4", "a[]-]b.mp4",
                 "a[!]]b.mp4", "*", ".*", "[!.]*", "*.mkv", "[a-c]*"]:
        expected = sorted(name for name in names if fnmatch.fnmatchcase(name.rsplit("/", 1)[-1], stored_path(glob)))
        if glob == "caf?.mp4":  # one character of a file name, also when it is an escaped byte
            expected = ["a/caf\x00e9.mp4", "a/café.mp4"]
        assert matching(video_filter("/videos-root", name=glob)) == expected, glob
    assert matching(video_filter("/videos-root", under="a")) == [name for name in sorted(names) if name.startswith("a/")]
    assert matching(video_filter("/videos-root", under="/videos-root/a/sub/")) == ["a/sub/deep.mkv"]
    assert matching(video_filter("/videos-root", under="/videos-root")) == sorted(names)


def test_under_on_an_object_store_root():
    from vindex.errors import VindexError
    from vindex.store.filters import under_prefix

    assert under_prefix("s3://bucket/videos", "s3://bucket/videos/trips/2024/") == "trips/2024"
    assert under_prefix("s3://bucket/videos", "trips/./2024") == "trips/2024"
    assert under_prefix("s3://bucket/videos/", "s3://bucket/videos") == ""
    for outside in ("s3://bucket/other", "../trips", "/trips"):
        with pytest.raises(VindexError, match="outside the index root"):
            under_prefix("s3://bucket/videos", outside)

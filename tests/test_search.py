"""`vindex query`, `vindex similar`, `vindex dupes`, `vindex optimize` and their library API.

The corpus gives every original video its own pattern and palette (so the randomly initialised
tiny model tells them apart) and plants near-duplicates: a re-encode (MPEG-4 in AVI, 1.5x the
size), a trim, a crop and an identical copy, plus an unindexed re-encode outside the root.
Measured with the tiny model in fp32: planted pairs score >= 0.99, all other pairs <= 0.98.
"""

import colorsys
import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from vindex import Index, ModelSpec
from vindex.demo import PATTERNS, Theme, render, write_video
from vindex.duplicates import DuplicateGroup
from vindex.search import Hit, QueryResult
from vindex.store import Store

CHANNELS = ("alpha", "beta", "gamma", "delta")
ORIGINALS = 12
DUPLICATE_THRESHOLD = 0.985  # between the planted pairs and everything else, for the tiny model
PLANTED_GROUPS = {
    frozenset({"alpha/stripes_00.mp4", "alpha/reencode_00.avi"}),
    frozenset({"beta/plasma_05.mp4", "gamma/trim_05.mp4"}),
    frozenset({"beta/checker_09.mp4", "delta/crop_09.mp4"}),
    frozenset({"gamma/rings_10.mp4", "beta/copy_10.mp4"}),
}
FP32 = ["--precision", "fp32"]  # the same vectors on every CPU, bf16 or not


def decode_all(path: Path) -> tuple[np.ndarray, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pictures = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(stream)])
        return pictures, float(stream.average_rate)


def resized(pictures: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.stack([
        av.VideoFrame.from_ndarray(p, format="rgb24").reformat(width=width, height=height).to_ndarray(format="rgb24")
        for p in pictures
    ])


def centre_crop(pictures: np.ndarray, keep: float) -> np.ndarray:
    height, width = pictures.shape[1:3]
    new_height, new_width = int(height * keep) // 2 * 2, int(width * keep) // 2 * 2
    top, left = (height - new_height) // 2, (width - new_width) // 2
    return pictures[:, top : top + new_height, left : left + new_width]


def derive(source: Path, target: Path, change, codec: str = "libx264") -> Path:
    pictures, fps = decode_all(source)
    return write_video(target, change(pictures), fps, codec)


def make_search_corpus(root: Path) -> Path:
    """Originals `<channel>/<pattern>_<nn>.mp4`, the planted duplicates, and `../outside/` files."""
    rng = np.random.default_rng(3)
    originals = []
    for number in range(ORIGINALS):
        hue = number / ORIGINALS
        bright = tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, 1.0, 1.0))
        dark = tuple(int(255 * c) for c in colorsys.hsv_to_rgb((hue + 0.45) % 1, 0.7, 0.25 + 0.5 * (number % 2)))
        theme = Theme(PATTERNS[number % len(PATTERNS)], (bright, dark))
        width, height = int(rng.integers(40, 56)) * 2, int(rng.integers(30, 42)) * 2
        pictures = render(theme, width, height, int(rng.integers(12, 24)), rng)
        originals.append(write_video(root / CHANNELS[number % 4] / f"{theme.pattern}_{number:02d}.mp4", pictures, 10))
    derive(originals[0], root / "alpha" / "reencode_00.avi",
           lambda p: resized(p, p.shape[2] * 3 // 4 * 2, p.shape[1] * 3 // 4 * 2), codec="mpeg4")
    derive(originals[5], root / "gamma" / "trim_05.mp4", lambda p: p[: int(len(p) * 0.7)])
    derive(originals[9], root / "delta" / "crop_09.mp4", lambda p: centre_crop(p, 0.9))
    shutil.copy(originals[10], root / "beta" / "copy_10.mp4")
    outside = root.parent / "outside"
    derive(originals[3], outside / "reencoded_03.avi", lambda p: resized(p, 80, 60), codec="mpeg4")
    shutil.copy(originals[10], outside / "copy_of_10.mp4")
    (outside / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not really a video" * 20)
    return root


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, Path]:
    """(root of the search corpus, its index), indexed once for the whole module."""
    base = tmp_path_factory.mktemp("search")
    root = make_search_corpus(base / "channels")
    db = base / "index"
    Index(str(db), precision="fp32").add(root, model=ModelSpec("vindex-tiny"))
    return root, db


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


# -- dupes ---------------------------------------------------------------------------------------
def test_dupes_groups_exactly_the_planted_near_duplicates(library, run):
    _, db = library
    groups = json.loads(run("dupes", "--db", db, "--mode", "similar", "--threshold", DUPLICATE_THRESHOLD,
                            "--json").stdout)["groups"]
    assert {frozenset(video["path"] for video in group["videos"]) for group in groups} == PLANTED_GROUPS
    firsts = {group["videos"][0]["path"] for group in groups}
    # Longest, then largest first: the re-encode is bigger, the trim is shorter, the crop smaller.
    assert {"alpha/reencode_00.avi", "beta/plasma_05.mp4", "beta/checker_09.mp4"} <= firsts
    for group in groups:
        assert group["videos"][0]["score"] == 1.0 and all(v["score"] >= DUPLICATE_THRESHOLD for v in group["videos"])


def test_dupes_human_output_and_channel_filter(library, run):
    _, db = library
    output = run("dupes", "--db", db, "--mode", "similar", "--threshold", DUPLICATE_THRESHOLD, "--channel", "alpha").stdout
    assert output.count("group ") == 1 and "alpha/reencode_00.avi" in output and "beta/" not in output


# -- ANN -----------------------------------------------------------------------------------------
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

"""Frames that follow the content, segments in every hit, every matching moment, stills as queries."""

import json

import numpy as np
import pytest

from vindex.demo import render_scene, write_video
from vindex.embedding import ModelSpec
from vindex.index import Index
from vindex.sampling import FramePolicy, time_weights
from vindex.store import Store

from tests.conftest import TINY

FPS = 5
SIZE = (64, 48)
LONG_SCENES = ([8, 8, 16, 8, 8], [1, 2, 3, 4, 5])  # the long video's scenes: seconds, looks


def scene_pictures(seconds: list[float], looks: list[int], seed: int = 0) -> list[np.ndarray]:
    """One scene's pictures per entry of `seconds`, each of its own look."""
    rng = np.random.default_rng(seed)
    return [render_scene(look, *SIZE, max(1, round(length * FPS)), FPS, rng) for look, length in zip(looks, seconds)]


def scenes_video(path, seconds: list[float], looks: list[int], seed: int = 0):
    """A video joining one scene per entry of `seconds`, each of its own look; returns its scene bounds."""
    parts = scene_pictures(seconds, looks, seed)
    write_video(path, np.concatenate(parts), FPS)
    bounds = np.cumsum([0.0] + [len(part) / FPS for part in parts])
    return list(zip(bounds[:-1], bounds[1:]))


@pytest.fixture(scope="module")
def scene_folder(tmp_path_factory):
    """A 48 s video of 5 scenes (one of 16 s), a 6 s clip of 3 scenes, and the scene bounds."""
    root = tmp_path_factory.mktemp("moments") / "videos"
    long_bounds = scenes_video(root / "long.mp4", *LONG_SCENES)
    short_bounds = scenes_video(root / "short.mp4", [2, 2, 2], [6, 7, 8], seed=1)
    return root, {"long.mp4": long_bounds, "short.mp4": short_bounds}


def frame_counts(db) -> dict[str, int]:
    rows = Store(str(db)).catalog(["path", "num_frames"]).to_pylist()
    return {row["path"]: row["num_frames"] for row in rows}


# -- the policy ---------------------------------------------------------------------------------
def test_short_clips_keep_five_frames_and_long_ones_get_one_per_shot_plus_long_shot_extras():
    policy = FramePolicy()
    assert policy.count([(0, 10), (10, 20), (20, 30)], 30.0) == 5
    shots = [(0, 8), (8, 16), (16, 40), (40, 48)]  # the 24 s shot gets 3 frames at one per 10 s
    assert policy.count(shots, 48.0) == 6
    assert len(policy.frame_times(shots, 0.0, 48.0)) == 6


def test_frames_are_capped_per_minute_and_per_video():
    policy = FramePolicy(per_minute=12, per_video=20)
    many = [(i, i + 1.0) for i in range(120)]  # 2 minutes of 1 s shots
    assert policy.count(many, 120.0) == 20  # 24 at 12 a minute, then the per-video cap
    assert FramePolicy(per_minute=12).count(many, 120.0) == 24


def test_a_fixed_policy_takes_its_count_whatever_the_length():
    assert FramePolicy.fixed(3).count([(i, i + 1.0) for i in range(100)], 100.0) == 3


def test_long_videos_take_their_frames_on_keyframes_inside_each_shot():
    from vindex.sampling import snap_to_keyframes

    shots = [(0.0, 10.0), (10.0, 40.0), (40.0, 45.0)]
    snapped = snap_to_keyframes([5.0, 15.0, 25.0, 35.0, 42.5], shots, [0.0, 4.0, 10.0, 18.0, 21.0, 40.5])
    # one keyframe per time at most, inside the time's shot and a quarter of its length from it;
    # a time with none left stays put (5.0: 0.0 is too far; 42.5: 40.5 is 2 s away in a 5 s shot)
    assert np.allclose(snapped, [4.0, 18.0, 21.0, 35.0, 42.5], atol=1e-3)
    times = FramePolicy().frame_times(shots, 0.0, 45.0, [0.0, 10.0, 18.0, 40.5])
    assert len(times) == FramePolicy().count(shots, 45.0)
    assert FramePolicy().frame_times([(0.0, 20.0)], 0.0, 20.0, [0.0]) == FramePolicy().frame_times([(0.0, 20.0)], 0.0, 20.0)


def test_time_weights_count_the_seconds_each_frame_stands_for():
    assert np.allclose(time_weights([1, 3, 5, 7, 9], 10.0), 2.0)  # evenly spaced: equal
    assert np.allclose(time_weights([1, 2, 30], 40.0), [1.5, 14.5, 24.0])


def test_the_default_indexes_long_videos_by_shot_and_short_clips_with_five(scene_folder, run, isolated_index):
    root, _ = scene_folder
    run("add", root, *TINY, "-q")
    counts = frame_counts(isolated_index)
    assert counts["short.mp4"] == 5
    assert counts["long.mp4"] == 6  # 5 shots, the 16 s one with 2 frames
    meta = Store(str(isolated_index)).meta
    assert meta.frame_policy["kind"] == "per-shot" and meta.video_vector == "time-weighted"
    assert "one per shot" in run("info").stdout


def test_frames_n_still_forces_a_fixed_count(scene_folder, run, isolated_index):
    root, _ = scene_folder
    run("add", root, *TINY, "--frames", "3", "-q")
    assert set(frame_counts(isolated_index).values()) == {3}
    result = run("add", root, "--frames", "4", "-q", expect=1)
    assert "3 frames per video" in result.output and "--reembed" in result.output


def test_an_older_index_is_told_once_how_to_upgrade_and_upgrades_only_what_changes(scene_folder, run, isolated_index):
    root, _ = scene_folder
    run("add", root, *TINY, "--frames", "5", "-q")
    store = Store(str(isolated_index))
    store.set_meta(schema_version=4, frame_policy=None, frames_per_video=5)
    del store  # the next open migrates it as an index made before frame policies
    first = run("add", root, "-q")
    assert "--upgrade-frames" in first.output and "--reembed" in first.output
    assert "--upgrade-frames" not in run("add", root, "-q").output
    assert frame_counts(isolated_index) == {"long.mp4": 5, "short.mp4": 5}
    upgraded = json.loads(run("add", root, "--upgrade-frames", "--json").stdout)
    assert upgraded["embedded"] == 1  # the long video only: the short clip keeps its 5 frames
    assert frame_counts(isolated_index) == {"long.mp4": 6, "short.mp4": 5}
    assert Store(str(isolated_index)).meta.frame_policy["kind"] == "per-shot"


# -- segments, moments, stills ------------------------------------------------------------------
@pytest.fixture
def scenes_indexed(scene_folder, run):
    root, bounds = scene_folder
    run("add", root, *TINY, "-q")
    return root, bounds


def scene_of(bounds, time):
    return next(i for i, (start, end) in enumerate(bounds) if start <= time < end)


def test_every_hit_carries_a_segment_holding_its_best_frame(scenes_indexed, run):
    root, _ = scenes_indexed
    for hit in Index().query("a picture", limit=5):
        assert hit.start is not None and hit.start <= hit.timestamp <= hit.end
    found = json.loads(run("query", "a picture", "--json").stdout)["hits"]
    assert found and all(hit["start"] <= hit["timestamp"] <= hit["end"] for hit in found)
    table = run("query", "a picture").stdout
    assert "segment" in table.splitlines()[0] and "-0:" in table


def test_a_clip_of_a_scene_finds_its_moment_and_segment(scenes_indexed, tmp_path):
    """A piece of the long video's 16 s scene, re-encoded, finds that scene and its segment. (The scene
    filmed again, its pictures rendered anew, is not the test: the tiny model's random weights score every
    scene of the long video within 0.001 of the others for it, and which wins changed with the CPU.)"""
    root, bounds = scenes_indexed
    clip = tmp_path / "piece.mp4"
    scene = scene_pictures(*LONG_SCENES)[2]
    write_video(clip, scene[4 * FPS : 7 * FPS], FPS, bit_rate=100_000)  # 3 s from 20 s, at a lower bit rate
    hit = next(hit for hit in Index().similar(clip) if hit.path == "long.mp4")
    assert scene_of(bounds["long.mp4"], hit.timestamp) == 2
    start, end = bounds["long.mp4"][2]
    assert start - 4 <= hit.start and hit.end <= end + 4


def test_moments_lists_every_matching_segment_of_each_video(scenes_indexed, run, tmp_path):
    root, _ = scenes_indexed
    result = Index().query("a picture", moments=True)
    for hit in result:
        assert hit.moments and hit.moments[0].score == max(moment.score for moment in hit.moments)
        assert any(m.start == hit.start and m.end == hit.end for m in hit.moments)
    found = json.loads(run("query", "a picture", "--moments", "--json").stdout)["hits"]
    assert all(isinstance(hit["moments"], list) and hit["moments"] for hit in found)
    assert json.loads(run("query", "a picture", "--json").stdout)["hits"][0]["moments"] is None


def test_a_still_finds_the_video_and_moment_that_show_it(scenes_indexed, run, tmp_path):
    from PIL import Image

    root, bounds = scenes_indexed
    picture = render_scene(4, *SIZE, 1, FPS, np.random.default_rng(9))[0]  # the long video's 4th scene's look
    still = tmp_path / "photo.png"
    Image.fromarray(picture).save(still)
    found = json.loads(run("similar", still, "--json").stdout)
    assert found["source"] == "embedded" and found["hits"]
    hit = next(hit for hit in found["hits"] if hit["path"] == "long.mp4")
    assert scene_of(bounds["long.mp4"], hit["timestamp"]) == 3
    assert hit["start"] <= hit["timestamp"] <= hit["end"]


def test_query_export_cuts_the_segment_itself(scenes_indexed, run, tmp_path):
    out = tmp_path / "out"
    done = json.loads(run("query", "a picture", "-n", "1", "--export", out, "--json").stdout)
    hit, export = done["hits"][0], done["exports"][0]
    assert export["end"] - export["start"] == pytest.approx(hit["end"] - hit["start"], abs=2.5)


# -- the web app --------------------------------------------------------------------------------
def test_the_web_app_shows_each_hits_segments_and_searches_from_a_moment(scenes_indexed, isolated_index):
    from starlette.testclient import TestClient

    from vindex.serve.app import create_app
    from vindex.serve.library import Library

    client = TestClient(create_app(Library(str(isolated_index))), base_url="http://127.0.0.1:8765")
    hits = client.get("/api/query", params={"q": "a picture", "moments": 1}).json()["hits"]
    assert all(hit["start"] <= hit["timestamp"] <= hit["end"] and hit["moments"] for hit in hits)
    page = client.get("/", params={"q": "a picture"}).text
    assert 'class="timeline"' in page and 'class="segment"' in page
    long_id = next(hit["video_id"] for hit in hits if hit["path"] == "long.mp4")
    moment = client.get(f"/api/similar/{long_id}", params={"t": 30}).json()
    assert moment["at"] == 30 and "at 30.0 s" in moment["query"]
    assert client.get(f"/similar/{long_id}", params={"t": 30}).status_code == 200


def test_a_picture_dropped_in_the_web_app_finds_videos(scenes_indexed, isolated_index, tmp_path):
    import io

    from PIL import Image
    from starlette.testclient import TestClient

    from vindex.serve.app import create_app
    from vindex.serve.library import Library

    picture = io.BytesIO()
    Image.fromarray(render_scene(4, *SIZE, 1, FPS, np.random.default_rng(9))[0]).save(picture, "PNG")
    client = TestClient(create_app(Library(str(isolated_index))), base_url="http://127.0.0.1:8765")
    csrf = client.get("/api/csrf").json()  # as the page's script sends it with every upload
    found = client.post("/api/similar", params={"name": "photo.png"}, content=picture.getvalue(),
                        headers={csrf["header"]: csrf["csrf"]})
    assert found.status_code == 200 and found.json()["hits"]
    assert all(hit["start"] <= hit["timestamp"] <= hit["end"] for hit in found.json()["hits"])


def test_a_moment_of_an_unindexed_file_is_refused_in_one_line(scenes_indexed, tmp_path):
    from vindex.errors import VindexError

    clip = tmp_path / "other.mp4"
    scenes_video(clip, [2], [9])
    with pytest.raises(VindexError, match="indexed video"):
        Index().similar(clip, at=1.0)


@pytest.mark.slow
@pytest.mark.skipif(not __import__("os").path.exists("/usr/bin/chromium"), reason="no Chromium at /usr/bin/chromium")
def test_a_click_on_the_timeline_plays_from_there_and_more_like_this_moment_searches(scenes_indexed, isolated_index):
    import queue
    import subprocess
    import sys
    import threading

    from playwright.sync_api import sync_playwright

    process = subprocess.Popen([sys.executable, "-m", "vindex", "serve", "--db", str(isolated_index), "--port", "0",
                                "-q"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        while not (line := lines.get(timeout=120)).startswith("vindex serve: http://"):
            assert process.poll() is None, line
        server = line.split()[2].rstrip("/")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(server + "/?q=a+picture")
            strip = page.locator("#hits .tile[data-path='long.mp4'] .timeline")
            assert strip.locator(".segment").first.evaluate("s => s.style.left.endsWith('%')")
            box = strip.bounding_box()
            page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
            page.wait_for_function("() => document.querySelector('#player video').dataset.startedAt !== undefined",
                                   timeout=30_000)
            started = page.evaluate("Number(document.querySelector('#player video').dataset.startedAt)")
            assert abs(started - 0.75 * 48) < 1.0
            page.click("#player .more-moment")
            page.wait_for_url("**/similar/**?t=*")
            assert "at 0:3" in page.locator(".source h1").text_content()
            assert not errors
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)

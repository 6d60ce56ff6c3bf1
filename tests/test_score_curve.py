"""The score along a video: every stored frame's score in each hit (with moments), drawn by the web
app as a line over the hit's timeline, where a click plays from that moment."""

import numpy as np
import pytest

from tests.conftest import TINY
from tests.test_moments import scenes_video
from vindex.index import Index
from vindex.store import Store


@pytest.fixture(scope="module")
def two_videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("curve") / "videos"
    scenes_video(root / "long.mp4", [8, 8, 16, 8, 8], [1, 2, 3, 4, 5])
    scenes_video(root / "short.mp4", [2, 2, 2], [6, 7, 8], seed=1)
    return root


@pytest.fixture
def curve_indexed(two_videos, run, isolated_index):
    run("add", two_videos, *TINY, "-q")
    return isolated_index


def test_each_hit_with_moments_carries_every_stored_frames_score_in_time_order(curve_indexed):
    store = Store(str(curve_indexed))
    frames = store.frames_by_video([row["id"] for row in store.catalog(["id"]).to_pylist()]).to_pylist()
    result = Index().query("a picture", moments=True)
    for hit in result:
        mine = sorted(row["timestamp"] for row in frames if row["video_id"] == hit.video_id)
        times = [time for time, _ in hit.frame_scores]
        assert times == pytest.approx(mine, abs=1e-3) and times == sorted(times)
        assert max(score for _, score in hit.frame_scores) == pytest.approx(hit.score, abs=1e-5)
        best_time = max(hit.frame_scores, key=lambda pair: pair[1])[0]
        assert best_time == pytest.approx(hit.timestamp, abs=1e-3)
    assert all(hit.frame_scores is None for hit in Index().query("a picture"))


def test_the_api_sends_the_score_along_the_video_and_the_page_hands_it_to_the_timeline(curve_indexed):
    import json
    import re

    from starlette.testclient import TestClient

    from vindex.serve.app import create_app
    from vindex.serve.library import Library

    client = TestClient(create_app(Library(str(curve_indexed))), base_url="http://127.0.0.1:8765")
    hits = client.get("/api/query", params={"q": "a picture", "moments": 1}).json()["hits"]
    long = next(hit for hit in hits if hit["path"] == "long.mp4")
    assert len(long["frame_scores"]) >= 5 and all(len(pair) == 2 for pair in long["frame_scores"])
    assert client.get("/api/query", params={"q": "a picture"}).json()["hits"][0]["frame_scores"] is None
    page = client.get("/", params={"q": "a picture"}).text
    curves = [json.loads(found.replace("&#34;", '"')) for found in re.findall(r'data-curve="([^"]*)"', page)]
    assert any(len(curve) == len(long["frame_scores"]) and np.allclose(curve, long["frame_scores"]) for curve in curves)


@pytest.mark.slow
@pytest.mark.skipif(not __import__("os").path.exists("/usr/bin/chromium"), reason="no Chromium at /usr/bin/chromium")
def test_the_score_curve_is_drawn_and_a_click_on_it_plays_from_there(curve_indexed, tmp_path):
    import os
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    from tests.test_serve_security import WATCH, start_server

    artifacts = Path(os.environ.get("VINDEX_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    process, server, _ = start_server(curve_indexed)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.add_init_script(WATCH)
            page.goto(server + "/?q=a+picture")
            strip = page.locator("#hits .tile[data-path='long.mp4'] .timeline")
            frames = len(next(hit for hit in Index().query("a picture", moments=True) if hit.path == "long.mp4").frame_scores)
            corners = strip.locator("svg.curve polyline").evaluate("line => line.points.numberOfItems")
            assert corners == 2 * frames and frames >= 5  # a step per stored frame
            curve_box = strip.locator("svg.curve").bounding_box()
            assert curve_box["height"] >= 20 and curve_box["width"] > 100  # drawn, not collapsed
            strip.screenshot(path=str(artifacts / "score-curve-strip.png"))
            page.screenshot(path=str(artifacts / "score-curve.png"))
            page.mouse.click(curve_box["x"] + curve_box["width"] * 0.25, curve_box["y"] + 3)
            page.wait_for_function("() => document.querySelector('#player video').dataset.startedAt !== undefined",
                                   timeout=30_000)
            started = page.evaluate("Number(document.querySelector('#player video').dataset.startedAt)")
            assert abs(started - 0.25 * 48) < 1.0
            assert page.evaluate("window.__violations") == [] and not errors, errors
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)

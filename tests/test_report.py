"""`vindex report`: cluster_analysis.json, the PNG map and the HTML gallery (checked in headless Chromium)."""

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import rgb_to_hsv, to_rgb
from PIL import Image

from vindex.clustering import Clustering
from vindex.gallery import cluster_colour, draw_picture
from vindex.store import Store

CLUSTER = ["cluster", "--min-size", "4", "--neighbors", "8", "-q"]


@pytest.fixture
def clustered(indexed_copy, run):
    run(*CLUSTER)
    return indexed_copy


def test_analysis_json_keeps_the_seed_shape(clustered, run, tmp_path):
    out = tmp_path / "out"
    run("report", "--out", out, "--no-gallery", "--no-picture")
    report = json.loads((out / "cluster_analysis.json").read_text())
    summary = report["summary"]
    assert summary["total_videos"] == 24 and summary["num_clusters"] == 4 and summary["num_noise"] == 0
    assert summary["model"] == "vindex-tiny" and summary["parameters"]["min_size"] == 4
    assert set(report["clusters"]) == {f"cluster_{i}" for i in range(4)}
    for key, cluster in report["clusters"].items():
        assert {"size", "channel_distribution", "sample_videos", "name", "exemplars", "mean_probability"} <= set(cluster)
        assert cluster["size"] == 6 and sum(cluster["channel_distribution"].values()) == 6
        assert len(cluster["channel_distribution"]) == 1  # one channel per cluster on this corpus
        channel = next(iter(cluster["channel_distribution"]))
        assert 1 <= len(cluster["sample_videos"]) <= 5 and all(p.startswith(channel + "/") for p in cluster["sample_videos"])
        assert cluster["exemplars"][: len(cluster["sample_videos"])] == cluster["sample_videos"]
        assert key == f"cluster_{cluster['id']}"
    assert report["noise"]["size"] == 0
    assert not (out / "video_clusters_visualization.png").exists() and not (out / "clusters.html").exists()


def test_picture_has_a_dot_colour_per_cluster(clustered, run, tmp_path):
    run("report", "--out", tmp_path, "--no-gallery")
    picture = Image.open(tmp_path / "video_clusters_visualization.png").convert("RGB")
    assert picture.size == (1800, 1350)
    hsv = rgb_to_hsv(np.asarray(picture).reshape(-1, 3) / 255.0)
    for cluster in range(4):
        hue, saturation, _ = rgb_to_hsv(np.array(to_rgb(cluster_colour(cluster))))
        # Dots are drawn semi-transparent on white: hue survives the blending, exact RGB does not.
        close = (np.abs(hsv[:, 0] - hue) < 0.02) & (hsv[:, 1] > 0.5 * saturation)
        assert close.sum() > 200, f"cluster {cluster}'s colour barely appears"


def test_picture_reads_at_a_hundred_thousand_points(tmp_path):
    rng = np.random.default_rng(0)
    count, groups = 100_000, 40
    centres = rng.uniform(-20, 20, (groups, 2))
    labels = rng.integers(-1, groups, count)
    xy = centres[np.maximum(labels, 0)] + rng.normal(size=(count, 2))
    clustering = Clustering(
        ids=[str(i) for i in range(count)], paths=[f"c/{i}.mp4" for i in range(count)], channels=["c"] * count,
        labels=labels, probabilities=np.ones(count, np.float32), xy=xy,
        clusters=[dict(id=g, name=f"term {g}, other", size=int((labels == g).sum()), exemplars=[], mean_probability=1.0)
                  for g in range(groups)],
        run=dict(model="m", min_size=10, neighbors=15), root=None,
    )
    started = time.perf_counter()
    path = draw_picture(clustering, tmp_path / "big.png")
    assert time.perf_counter() - started < 60
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3).astype(int)
    grey = np.abs(pixels - np.array([180, 180, 180])).sum(axis=1) < 30
    white = (pixels > 250).all(axis=1)
    # Dots are small enough that the background still shows, yet every cluster is visible.
    assert 0.3 < white.mean() < 0.97 and grey.sum() > 500


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("headless Chromium is not installed here (Debian: apt-get install chromium); CI installs it")


def render(page, screenshot=None) -> str:
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--window-size=1280,2000", "--virtual-time-budget=5000"]
    if screenshot:
        subprocess.run([*args, f"--screenshot={screenshot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    return subprocess.run([*args, "--dump-dom", page.as_uri()], capture_output=True, timeout=120, check=True,
                          text=True).stdout


def test_gallery_renders_in_chromium(clustered, run, tmp_path):
    out = tmp_path / "gallery"
    run("report", "--out", out, "--thumbnails", "4")
    page = out / "clusters.html"
    text = page.read_text()
    assert "http://" not in text and "https://" not in text and "src=\"file:" not in text  # self-contained
    screenshot = tmp_path / "page.png"
    dom = render(page, screenshot)
    sections = re.findall(r'<section class="cluster[^"]*" id="([^"]+)"', dom)
    assert sections == [f"cluster_{i}" for i in range(4)] + ["noise"]
    thumbnails = re.findall(r'<img src="data:image/jpeg;base64,', dom)
    assert len(thumbnails) == 4 * 4
    assert dom.count('data:image/png;base64,') == 1  # the map
    for name in json.loads(run("show", "--json").stdout)[:-1]:
        assert f'<span class="name">{name["name"]}</span>' in dom
    assert 'id="num-noise">0<' in dom
    shot = np.asarray(Image.open(screenshot).convert("RGB"))
    assert shot.shape[:2] == (2000, 1280)
    assert len(np.unique(shot.reshape(-1, 3)[::7], axis=0)) > 500  # thumbnails drawn, not a blank page


def test_gallery_survives_a_missing_video(clustered, run, tmp_path):
    root = json.loads(run("info", "--json").stdout)["root"]
    copy = tmp_path / "moved"
    shutil.copytree(root, copy)  # the module's corpus is shared: break a private copy instead
    Store(str(clustered)).set_meta(root=str(copy))
    victim = sorted(p for p in copy.rglob("*") if p.is_file())[0]
    victim.unlink()
    run("report", "--out", tmp_path / "out", "--thumbnails", "24", "--no-picture")
    text = (tmp_path / "out" / "clusters.html").read_text()
    assert text.count("file not readable") == 1
    assert text.count("data:image/jpeg;base64,") == 23


def test_report_writes_into_the_current_folder_by_default(clustered, run):
    result = run("report", "--no-gallery")
    assert "cluster_analysis.json" in result.stdout
    assert Path("cluster_analysis.json").is_file() and Path("video_clusters_visualization.png").is_file()


def test_picture_labels_stay_inside_the_map_and_off_the_dots():
    """Clusters at the very edges of the map, with long names: every id label is drawn whole inside
    the map and covers none of the dots; names go to the key beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vindex.gallery import _label_clusters

    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [0, 10], [10, 0], [10, 10], [5, 5], [5.5, 5]])  # corners, and two that touch
    labels = np.repeat(np.arange(len(centres)), 40)
    xy = centres[labels] + rng.normal(scale=0.4, size=(len(labels), 2))
    figure = plt.figure(figsize=(12, 9), dpi=150)
    axes = figure.add_axes((0.01, 0.02, 0.7, 0.92))
    axes.scatter(xy[:, 0], xy[:, 1], s=40)
    axes.margins(0.04)
    _label_clusters(axes, xy, labels, list(range(len(centres))), 9)
    renderer = figure.canvas.get_renderer()
    inside = axes.get_window_extent(renderer)
    dots = axes.transData.transform(xy)
    boxes = [text.get_window_extent(renderer) for text in axes.texts]
    assert len(boxes) == len(centres)
    for box in boxes:
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
        covered = (box.x0 <= dots[:, 0]) & (dots[:, 0] <= box.x1) & (box.y0 <= dots[:, 1]) & (dots[:, 1] <= box.y1)
        assert not covered.any()
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    plt.close(figure)

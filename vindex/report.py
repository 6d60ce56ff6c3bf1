"""What the latest clustering found, from the labels stored in the index: cluster_analysis.json
(the seed's shape plus names, exemplars and parameters), video_clusters_visualization.png (one dot per
video) and clusters.html (a self-contained gallery of exemplar frames)."""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from vindex.errors import DecodeError, VindexError

ANALYSIS_FILE = "cluster_analysis.json"
PICTURE_FILE = "video_clusters_visualization.png"
GALLERY_FILE = "clusters.html"
SAMPLE_VIDEOS = 5
THUMBNAIL_WIDTH = 192
NOISE = -1
NOISE_GREY = "#b4b4b4"

Status = Callable[[str], None]


@dataclass
class Clustering:
    """The stored result of the latest `vindex cluster`: one entry per video of the index."""

    ids: list[str]
    paths: list[str]
    channels: list[str]
    labels: np.ndarray  # int, -1 noise, -2 not part of the run (null in the index)
    probabilities: np.ndarray
    xy: np.ndarray  # (n, 2), NaN where not part of the run
    clusters: list[dict]  # rows of the clusters table, largest first
    run: dict  # the run's parameters, model and time (index metadata)
    root: str | None

    @property
    def in_run(self) -> np.ndarray:
        return self.labels != -2

    def members(self, cluster: int) -> np.ndarray:
        return np.flatnonzero(self.labels == cluster)

    def channel_counts(self, rows: np.ndarray) -> dict[str, int]:
        counts = Counter(self.channels[i] for i in rows)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], str(item[0]))))


def load_clustering(store, with_centroids: bool = False) -> Clustering:
    import pyarrow.compute as pc

    store.require_videos()
    run = store.meta.get("clustering")
    if run is None:
        raise VindexError("no clusters yet: run `vindex cluster` first")
    table = store.catalog(["id", "path", "channel", "cluster", "cluster_probability", "x", "y"])
    labels = pc.fill_null(table.column("cluster"), -2).to_numpy().astype(np.int64)
    probabilities = pc.fill_null(table.column("cluster_probability"), 0.0).to_numpy().astype(np.float32)
    xy = np.column_stack([
        table.column(axis).to_numpy(zero_copy_only=False).astype(np.float64) for axis in ("x", "y")
    ])
    if store.clusters is None:
        rows = []
    elif with_centroids:
        rows = sorted(store.clusters.to_arrow().to_pylist(), key=lambda row: (-row["size"], row["id"]))
    else:
        rows = store.cluster_rows()
    return Clustering(
        ids=table.column("id").to_pylist(), paths=table.column("path").to_pylist(),
        channels=table.column("channel").to_pylist(), labels=labels, probabilities=probabilities, xy=xy,
        clusters=rows, run=run, root=store.meta.get("root"),
    )


# -- reading ------------------------------------------------------------------------------------
def cluster_overview(store) -> list[dict]:
    """Every cluster of the latest run, largest first, with its channels; the noise last (id -1)."""
    clustering = load_clustering(store)
    overview = []
    for row in clustering.clusters:
        members = clustering.members(row["id"])
        overview.append(dict(id=row["id"], name=row["name"], size=len(members),
                             mean_probability=round(float(row["mean_probability"]), 4),
                             channels=clustering.channel_counts(members)))
    noise = clustering.members(NOISE)
    overview.append(dict(id=NOISE, name="noise", size=len(noise), mean_probability=0.0,
                         channels=clustering.channel_counts(noise)))
    return overview


def members(store, cluster: int) -> dict:
    """One cluster (or the noise, -1) and its videos, highest membership probability first."""
    clustering = load_clustering(store)
    row = next((r for r in clustering.clusters if r["id"] == cluster), None)
    if row is None and cluster != NOISE:
        known = ", ".join(str(r["id"]) for r in clustering.clusters) or "none"
        raise VindexError(f"no cluster {cluster}; the latest run has clusters: {known} (and -1, the noise)")
    rows = sorted(clustering.members(cluster), key=lambda i: (-clustering.probabilities[i], clustering.paths[i]))
    return dict(
        id=cluster, name=row["name"] if row else "noise", size=len(rows),
        mean_probability=round(float(row["mean_probability"]), 4) if row else 0.0,
        channels=clustering.channel_counts(rows),
        videos=[dict(path=clustering.paths[i], channel=clustering.channels[i],
                     probability=round(float(clustering.probabilities[i]), 4), id=clustering.ids[i]) for i in rows],
    )


# -- cluster_analysis.json ---------------------------------------------------------------------------
def analysis(clustering: Clustering) -> dict:
    """The seed's report shape (summary + clusters.cluster_N with size, channel_distribution,
    sample_videos) with extra fields: names, exemplars, probabilities, parameters, model, noise."""
    path_of = dict(zip(clustering.ids, clustering.paths))
    run = clustering.run
    noise = clustering.members(NOISE)
    clusters = {}
    for row in clustering.clusters:
        rows = clustering.members(row["id"])
        exemplars = [path_of[v] for v in row["exemplars"] if v in path_of]
        clusters[f"cluster_{row['id']}"] = dict(
            size=len(rows), channel_distribution=clustering.channel_counts(rows),
            sample_videos=exemplars[:SAMPLE_VIDEOS], id=row["id"], name=row["name"], exemplars=exemplars,
            mean_probability=round(float(row["mean_probability"]), 4),
        )
    parameters = {k: v for k, v in run.items() if k not in ("model", "weights", "videos", "noise", "notes", "created_at")}
    return dict(
        summary=dict(
            total_videos=int(clustering.in_run.sum()), num_clusters=len(clusters), num_noise=len(noise),
            unassigned=int((~clustering.in_run).sum()), model=run.get("model"), weights=run.get("weights"),
            parameters=parameters, created_at=run.get("created_at"), root=clustering.root, notes=run.get("notes", []),
        ),
        clusters=clusters,
        noise=dict(size=len(noise), channel_distribution=clustering.channel_counts(noise),
                   sample_videos=spread_pick(sorted(clustering.paths[i] for i in noise), SAMPLE_VIDEOS)),
    )


def spread_pick(items: list, count: int) -> list:
    """`count` items spread evenly from first to last (all of them if there are fewer)."""
    if count <= 0:
        return []
    if len(items) <= count:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


# -- the picture --------------------------------------------------------------------------------------
def cluster_colour(cluster: int) -> str:
    """A colour per cluster id (so a cluster keeps its colour across runs); grey for noise."""
    import matplotlib.colors as colours

    if cluster < 0:
        return NOISE_GREY
    hue = (cluster * 0.618033988749895 + 0.05) % 1.0  # golden-ratio steps keep neighbours apart
    saturation = (0.85, 0.6, 0.95)[cluster % 3]
    value = (0.85, 0.65, 0.95, 0.75)[cluster % 4]
    return colours.to_hex(colours.hsv_to_rgb((hue, saturation, value)))


def draw_picture(clustering: Clustering, path: Path) -> Path:
    """One dot per clustered video at its 2-D UMAP position, coloured by cluster, labelled at centres."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.patheffects as effects
    import matplotlib.pyplot as plt

    shown = clustering.in_run & np.all(np.isfinite(clustering.xy), axis=1)
    count = int(shown.sum())
    # Dots shrink and fade as their number grows, so 700 and 100,000 points both read.
    size = float(np.clip(25000 / max(count, 1), 0.7, 40))
    alpha = float(np.clip(1.3 - 0.16 * np.log10(max(count, 1)), 0.5, 0.9))
    figure, axes = plt.subplots(figsize=(12, 9), dpi=150)
    xy, labels = clustering.xy, clustering.labels
    noise = shown & (labels == NOISE)
    axes.scatter(xy[noise, 0], xy[noise, 1], s=size, c=NOISE_GREY, alpha=alpha * 0.6, linewidths=0,
                 rasterized=True, label=f"noise ({int(noise.sum())})")
    clustered = shown & (labels >= 0)
    axes.scatter(xy[clustered, 0], xy[clustered, 1], s=size, c=[cluster_colour(int(c)) for c in labels[clustered]],
                 alpha=alpha, linewidths=0, rasterized=True)
    many = len(clustering.clusters)
    font = 8.5 if many <= 25 else 7 if many <= 60 else 5.5
    texts = []
    for row in clustering.clusters:
        rows = shown & (labels == row["id"])
        if not rows.any():
            continue
        # Just above the cluster's central mass, so the label does not hide a compact cluster's dots.
        anchor = (np.median(xy[rows, 0]), np.percentile(xy[rows, 1], 80))
        text = axes.annotate(
            f"{row['id']} · {_short(row['name'])}\n{int(rows.sum())} videos", anchor,
            xytext=(0, 4), textcoords="offset points", ha="center", va="bottom", fontsize=font,
            fontweight="bold", color="#1a1a1a", linespacing=1.1,
        )
        text.set_path_effects([effects.withStroke(linewidth=2.5, foreground="white", alpha=0.9)])
        texts.append(text)
    run = clustering.run
    axes.set_title(
        f"{count} videos · {len(clustering.clusters)} clusters · {int(noise.sum())} noise (grey)   "
        f"[{run.get('model')}, min size {run.get('min_size')}, {run.get('neighbors')} neighbours]",
        fontsize=10,
    )
    axes.set_xticks([])
    axes.set_yticks([])
    for side in axes.spines.values():
        side.set_visible(False)
    figure.tight_layout()
    _untangle(texts, figure)
    figure.savefig(path)
    plt.close(figure)
    return path


def _untangle(texts: list, figure, rounds: int = 80) -> None:
    """Push overlapping cluster labels apart vertically (labels stay near their cluster's centre)."""
    if not 1 < len(texts) <= 200:
        return  # beyond a few hundred labels overlap is unavoidable and the pairwise pass too slow
    renderer = figure.canvas.get_renderer()
    points_per_pixel = 72 / figure.dpi
    offsets = np.array([text.xyann[1] for text in texts], dtype=float)
    for _ in range(rounds):
        boxes = [text.get_window_extent(renderer).expanded(1.04, 1.1) for text in texts]
        moved = False
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                a, b = boxes[i], boxes[j]
                if not a.overlaps(b):
                    continue
                push = (min(a.y1 - b.y0, b.y1 - a.y0) / 2 + 0.5) * points_per_pixel
                direction = 1.0 if (a.y0 + a.y1) >= (b.y0 + b.y1) else -1.0
                offsets[i] += direction * push
                offsets[j] -= direction * push
                moved = True
        for text, offset in zip(texts, offsets):
            text.xyann = (0, offset)
        if not moved:
            break


def _short(name: str, limit: int = 30) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


# -- the gallery ---------------------------------------------------------------------------------------
def exemplar_frames(store, clustering: Clustering, per_cluster: int) -> dict[int, list[tuple[str, float]]]:
    """For each cluster (and the noise, -1): (video id, timestamp) of the frames to show.

    A cluster shows its exemplars, each at its frame closest to the cluster's centroid; the noise
    shows videos spread evenly through it in path order (so across channels), each at its middle frame.
    """
    from vindex.store import vectors_of

    chosen: dict[int, list[str]] = {}
    centroids: dict[int, np.ndarray] = {}
    for row in clustering.clusters:
        chosen[row["id"]] = list(row["exemplars"])[:per_cluster]
        if row.get("centroid") is not None:
            centroids[row["id"]] = np.asarray(row["centroid"], dtype=np.float32)
    noise = clustering.members(NOISE)
    chosen[NOISE] = [clustering.ids[i] for i in spread_pick(sorted(noise, key=lambda i: clustering.paths[i]), per_cluster)]
    wanted = sorted({video for videos in chosen.values() for video in videos})
    frames = store.frames_by_video(wanted) if wanted else None
    by_video: dict[str, list[tuple[float, np.ndarray]]] = {}
    if frames is not None and frames.num_rows:
        vectors = vectors_of(frames.column("vector"))
        for video, timestamp, vector in zip(frames.column("video_id").to_pylist(),
                                            frames.column("timestamp").to_pylist(), vectors):
            by_video.setdefault(video, []).append((float(timestamp or 0.0), vector))
    picked: dict[int, list[tuple[str, float]]] = {}
    for cluster, videos in chosen.items():
        picked[cluster] = []
        for video in videos:
            options = sorted(by_video.get(video, []), key=lambda item: item[0])
            if not options:
                picked[cluster].append((video, 0.0))
            elif cluster in centroids:
                best = max(options, key=lambda item: float(item[1] @ centroids[cluster]))
                picked[cluster].append((video, best[0]))
            else:
                picked[cluster].append((video, options[len(options) // 2][0]))
    return picked


def decode_thumbnails(clustering: Clustering, frames: dict[int, list[tuple[str, float]]],
               status: Status | None = None) -> dict[tuple[str, float], str | None]:
    """JPEG data URIs of the chosen frames, decoded in parallel; None for files that cannot be read."""
    from PIL import Image

    from vindex.frames import read_thumbnail

    path_of = dict(zip(clustering.ids, clustering.paths))
    jobs = sorted({item for items in frames.values() for item in items})
    root = clustering.root

    def one(job: tuple[str, float]) -> str | None:
        video, timestamp = job
        if root is None or "://" in root or video not in path_of:
            return None
        try:
            picture = read_thumbnail(os.path.join(root, path_of[video]), timestamp, THUMBNAIL_WIDTH)
        except DecodeError:
            return None
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, format="JPEG", quality=82)
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    if status and jobs:
        status(f"decoding {len(jobs)} thumbnails")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="vindex-thumb") as pool:
        return dict(zip(jobs, pool.map(one, jobs)))


def gallery_html(clustering: Clustering, frames: dict[int, list[tuple[str, float]]],
                 images: dict[tuple[str, float], str | None], picture: str | None) -> str:
    """A single HTML page, no external resources: it opens from disk and can be mailed around."""
    path_of = dict(zip(clustering.ids, clustering.paths))
    probability_of = dict(zip(clustering.ids, clustering.probabilities))
    report = analysis(clustering)
    summary = report["summary"]
    run = clustering.run
    escape = html.escape

    def tiles(cluster: int) -> str:
        items = []
        for video, timestamp in frames.get(cluster, []):
            path = path_of.get(video, video)
            image = images.get((video, timestamp))
            caption = f"{escape(path)}<br><span class=p>p = {probability_of.get(video, 0.0):.2f} · {timestamp:.1f} s</span>"
            if image:
                body = f'<img src="{image}" alt="{escape(path)}">'
            else:
                body = '<div class="missing">file not readable</div>'
            items.append(f"<figure>{body}<figcaption>{caption}</figcaption></figure>")
        return "".join(items) or '<p class="empty">no videos</p>'

    def chips(counts: dict[str, int]) -> str:
        return "".join(f'<span class="chip">{escape(str(name))} <b>{count}</b></span>' for name, count in counts.items())

    sections, links = [], []
    for row in clustering.clusters:
        key = f"cluster_{row['id']}"
        facts = report["clusters"][key]
        colour = cluster_colour(row["id"])
        links.append(f'<a href="#{key}"><span class="dot" style="background:{colour}"></span>'
                     f'{row["id"]} · {escape(row["name"])} ({facts["size"]})</a>')
        sections.append(
            f'<section class="cluster" id="{key}" data-cluster="{row["id"]}">'
            f'<h2><span class="dot" style="background:{colour}"></span>Cluster {row["id"]}: '
            f'<span class="name">{escape(row["name"])}</span></h2>'
            f'<p class="facts"><span class="size">{facts["size"]} videos</span> · mean probability '
            f'{facts["mean_probability"]:.2f}</p><div class="chips">{chips(facts["channel_distribution"])}</div>'
            f'<div class="grid">{tiles(row["id"])}</div></section>'
        )
    noise = report["noise"]
    links.append(f'<a href="#noise"><span class="dot" style="background:{NOISE_GREY}"></span>noise ({noise["size"]})</a>')
    sections.append(
        f'<section class="cluster noise" id="noise" data-cluster="-1"><h2><span class="dot" '
        f'style="background:{NOISE_GREY}"></span>Noise: <span class="name">videos in no cluster</span></h2>'
        f'<p class="facts"><span class="size">{noise["size"]} videos</span></p>'
        f'<div class="chips">{chips(noise["channel_distribution"])}</div><div class="grid">{tiles(NOISE)}</div></section>'
    )
    parameters = " · ".join(f"{k} {escape(str(v))}" for k, v in summary["parameters"].items() if v is not None)
    picture_html = f'<img class="map" src="{picture}" alt="map of the clusters">' if picture else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vindex clusters: {summary["num_clusters"]} clusters of {summary["total_videos"]} videos</title>
<style>{_STYLE}</style></head>
<body><header><h1>{summary["num_clusters"]} clusters of {summary["total_videos"]} videos</h1>
<p class="summary"><b id="num-clusters">{summary["num_clusters"]}</b> clusters · <b id="num-noise">{summary["num_noise"]}</b>
noise · <b>{summary["unassigned"]}</b> not clustered · model {escape(str(run.get("model")))} ·
{escape(str(summary["created_at"] or ""))[:19].replace("T", " ")}</p>
<p class="params">{parameters}</p><nav>{"".join(links)}</nav></header>
<main>{picture_html}{"".join(sections)}</main></body></html>
"""


_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f6f4;color:#1d1d1d}
header{background:#fff;border-bottom:1px solid #ddd;padding:16px 24px}
h1{margin:0 0 4px;font-size:22px} .summary,.params{margin:2px 0;color:#555} .params{font-size:12px}
nav{display:flex;flex-wrap:wrap;gap:6px 14px;margin-top:10px;font-size:13px}
nav a{color:#1d1d1d;text-decoration:none;white-space:nowrap} nav a:hover{text-decoration:underline}
main{padding:8px 24px 40px} .map{display:block;max-width:100%;margin:12px auto;border:1px solid #ddd;background:#fff}
section{background:#fff;border:1px solid #ddd;border-radius:8px;margin:16px 0;padding:12px 16px}
h2{margin:0;font-size:18px;display:flex;align-items:center;gap:8px} .noise h2{color:#666}
.dot{display:inline-block;width:12px;height:12px;border-radius:50%;flex:none;margin-right:4px}
.facts{margin:4px 0;color:#555} .chips{display:flex;flex-wrap:wrap;gap:4px;margin:6px 0 10px}
.chip{background:#eef0f3;border-radius:10px;padding:1px 8px;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(192px,1fr));gap:10px}
figure{margin:0} figure img{width:100%;aspect-ratio:16/10;object-fit:contain;border-radius:4px;display:block;background:#111}
figcaption{font-size:11px;color:#444;word-break:break-all;margin-top:3px} .p{color:#888}
.missing{aspect-ratio:16/10;display:flex;align-items:center;justify-content:center;background:#eee;color:#888;border-radius:4px}
"""


# -- everything -------------------------------------------------------------------------------------
def write_report(store, out: Path, thumbnails: int = 8, picture: bool = True, gallery: bool = True,
                 status: Status | None = None) -> list[Path]:
    """Write the JSON report, and the picture and gallery unless turned off, into `out`."""
    say = status or (lambda message: None)
    clustering = load_clustering(store, with_centroids=gallery)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VindexError(f"cannot create the output folder {out}: {error.strerror or error}") from None
    written = []
    analysis_path = out / ANALYSIS_FILE
    analysis_path.write_text(json.dumps(analysis(clustering), indent=2, ensure_ascii=False, default=str) + "\n",
                             encoding="utf-8")
    written.append(analysis_path)
    picture_path = None
    if picture:
        say("drawing the cluster map")
        picture_path = draw_picture(clustering, out / PICTURE_FILE)
        written.append(picture_path)
    if gallery:
        frames = exemplar_frames(store, clustering, max(0, thumbnails))
        images = decode_thumbnails(clustering, frames, say)
        embedded = None
        if picture_path is not None:
            embedded = "data:image/png;base64," + base64.b64encode(picture_path.read_bytes()).decode("ascii")
        gallery_path = out / GALLERY_FILE
        gallery_path.write_text(gallery_html(clustering, frames, images, embedded), encoding="utf-8")
        written.append(gallery_path)
    return written

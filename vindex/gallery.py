"""What one looks at: video_clusters_visualization.png (one dot per video at its 2-D UMAP position,
coloured by cluster) and clusters.html (a self-contained page of each cluster's exemplar frames)."""

from __future__ import annotations

import base64
import html
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from vindex.clustering import NOISE, Clustering
from vindex.errors import DecodeError
from vindex.locations import is_remote, join_root
from vindex.results import StatusHook

THUMBNAIL_WIDTH = 192
NOISE_GREY = "#b4b4b4"


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
def decode_thumbnails(clustering: Clustering, frames: dict[int, list[tuple[str, float]]],
                     status: StatusHook | None = None) -> dict[tuple[str, float], str | None]:
    """JPEG data URIs of the chosen frames, decoded in parallel; None for files that cannot be read."""
    from PIL import Image

    from vindex.frames import read_thumbnail

    path_of = dict(zip(clustering.ids, clustering.paths))
    jobs = sorted({item for items in frames.values() for item in items})
    root = clustering.root

    def one(job: tuple[str, float]) -> str | None:
        video, timestamp = job
        if root is None or is_remote(root) or video not in path_of:
            return None
        try:
            picture = read_thumbnail(join_root(root, path_of[video]), timestamp, THUMBNAIL_WIDTH)
        except DecodeError:
            return None
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, format="JPEG", quality=82)
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    if status and jobs:
        status(f"decoding {len(jobs)} thumbnails")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="vindex-thumb") as pool:
        return dict(zip(jobs, pool.map(one, jobs)))


def gallery_html(clustering: Clustering, report: dict, frames: dict[int, list[tuple[str, float]]],
                 images: dict[tuple[str, float], str | None], picture: str | None) -> str:
    """A single HTML page, no external resources: it opens from disk and can be mailed around.

    `report` is the clustering's cluster_analysis.json content (`report.analysis`).
    """
    path_of = dict(zip(clustering.ids, clustering.paths))
    probability_of = dict(zip(clustering.ids, clustering.probabilities))
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



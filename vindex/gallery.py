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
from vindex.display import visible_name
from vindex.embedding.spec import random_weights_warning
from vindex.errors import DecodeError
from vindex.locations import is_remote, join_root
from vindex.results import StatusHook, count

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
    """One dot per clustered video at its 2-D UMAP position, coloured by cluster. Each cluster's id
    sits at the emptiest spot beside its dots, inside the map; a key beside the map gives its name
    and size, so long names neither cover dots nor run off the edge."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    shown = clustering.in_run & np.all(np.isfinite(clustering.xy), axis=1)
    dots = int(shown.sum())
    # Dots shrink and fade as their number grows, so 700 and 100,000 points both read.
    size = float(np.clip(25000 / max(dots, 1), 0.7, 40))
    alpha = float(np.clip(1.3 - 0.16 * np.log10(max(dots, 1)), 0.5, 0.9))
    figure = plt.figure(figsize=(12, 9), dpi=150)
    axes = figure.add_axes((0.01, 0.02, MAP_WIDTH, 0.92))
    key = figure.add_axes((0.02 + MAP_WIDTH, 0.02, 0.97 - MAP_WIDTH, 0.92))
    key.set_axis_off()
    xy, labels = clustering.xy, clustering.labels
    noise = shown & (labels == NOISE)
    axes.scatter(xy[noise, 0], xy[noise, 1], s=size, c=NOISE_GREY, alpha=alpha * 0.6, linewidths=0, rasterized=True)
    clustered = shown & (labels >= 0)
    axes.scatter(xy[clustered, 0], xy[clustered, 1], s=size, c=[cluster_colour(int(c)) for c in labels[clustered]],
                 alpha=alpha, linewidths=0, rasterized=True)
    axes.margins(0.04)
    axes.set_xticks([])
    axes.set_yticks([])
    for side in axes.spines.values():
        side.set_visible(False)
    rows = [(row, int((shown & (labels == row["id"])).sum())) for row in clustering.clusters]
    rows = [(row, members) for row, members in rows if members]
    font = 9 if len(rows) <= 25 else 7.5 if len(rows) <= 60 else 6
    _label_clusters(axes, xy[shown], labels[shown], [row["id"] for row, _ in rows], font)
    _draw_key(key, rows, int(noise.sum()), font)
    run = clustering.run
    figure.text(
        0.5, 0.975, f"{count(dots, 'video')} · {count(len(clustering.clusters), 'cluster')} · "
        f"{int(noise.sum())} noise (grey)   [{run.get('model')}, min size {run.get('min_size')}, "
        f"{run.get('neighbors')} neighbours]", ha="center", va="center", fontsize=10,
    )
    figure.savefig(path)
    plt.close(figure)
    return path


MAP_WIDTH = 0.7  # of the figure; the key takes the rest
GRID = 96  # cells per side of the map's density grid, on which labels look for room


def _label_clusters(axes, xy: np.ndarray, labels: np.ndarray, ids: list[int], font: float) -> None:
    """Each cluster's id in its colour, at the candidate spot around its dots that covers the fewest
    dots and no other label; candidates are kept inside the map, so no label is cut off."""
    import matplotlib.patheffects as effects

    (x0, x1), (y0, y1) = axes.get_xlim(), axes.get_ylim()
    cells = np.clip(((xy - (x0, y0)) / (x1 - x0, y1 - y0) * GRID).astype(int), 0, GRID - 1)
    density = np.zeros((GRID + 1, GRID + 1))
    np.add.at(density, (cells[:, 0] + 1, cells[:, 1] + 1), 1.0)
    density = density.cumsum(0).cumsum(1)  # summed-area table: dots in any box in four lookups
    taken = np.zeros((GRID, GRID), bool)
    figure_width, figure_height = axes.figure.get_size_inches()
    width_in, height_in = axes.get_position().width * figure_width, axes.get_position().height * figure_height
    half_high = max(1, round(font / 72 / height_in * GRID * 0.7))
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    directions = np.column_stack([np.cos(angles), np.sin(angles)])
    for cluster in ids:
        members = cells[labels == cluster]
        centre = np.median(members, axis=0)
        reach = np.percentile(np.linalg.norm(members - centre, axis=1), 80) + 1.5
        text = str(cluster)
        half_wide = max(1, round(len(text) * 0.62 * font / 72 / width_in * GRID * 0.6))
        best, best_cost = None, np.inf
        for step, distance in enumerate((reach + half_high + 1, reach + 2 * half_high + 3, reach * 1.8 + 6)):
            for direction in directions:
                x, y = np.round(centre + direction * distance).astype(int)
                x = int(np.clip(x, half_wide, GRID - 1 - half_wide))
                y = int(np.clip(y, half_high, GRID - 1 - half_high))
                box = (slice(x - half_wide, x + half_wide + 1), slice(y - half_high, y + half_high + 1))
                covered = (density[box[0].stop, box[1].stop] - density[box[0].start, box[1].stop]
                           - density[box[0].stop, box[1].start] + density[box[0].start, box[1].start])
                cost = covered + 1000 * taken[box].any() + step
                if cost < best_cost:
                    best, best_cost = (x, y, box), cost
        x, y, box = best
        taken[box] = True
        label = axes.text(x0 + (x + 0.5) / GRID * (x1 - x0), y0 + (y + 0.5) / GRID * (y1 - y0), text,
                          ha="center", va="center", fontsize=font + 1, fontweight="bold",
                          color=cluster_colour(cluster), clip_on=True)
        label.set_path_effects([effects.withStroke(linewidth=2.5, foreground="white")])


def _draw_key(key, rows: list[tuple[dict, int]], noise: int, font: float) -> None:
    """id, name and size of each cluster, largest first, beside the map; what does not fit is counted."""
    line = font * 1.55 / 72 / (key.get_position().height * key.figure.get_size_inches()[1])  # a row, in key heights
    capacity = max(2, int(1 / line))
    listed = rows if len(rows) + 2 <= capacity else rows[: capacity - 3]
    entries = [(cluster_colour(row["id"]), str(row["id"]), _short(row["name"]), members) for row, members in listed]
    entries.append((NOISE_GREY, "", "noise", noise))
    heading = 1 - 0.5 * line
    for x, words, align in ((0.13, "id", "right"), (0.17, "name", "left"), (1.0, "videos", "right")):
        key.text(x, heading, words, ha=align, va="center", fontsize=font, color="#777", transform=key.transAxes)
    for number, (colour, ident, name, members) in enumerate(entries, 1):
        y = 1 - (number + 0.5) * line
        key.scatter([0.02], [y], s=font * 5, c=colour, transform=key.transAxes, clip_on=False)
        key.text(0.13, y, ident, ha="right", va="center", fontsize=font, fontweight="bold", transform=key.transAxes)
        key.text(0.17, y, name, ha="left", va="center", fontsize=font, transform=key.transAxes)
        key.text(1.0, y, str(members), ha="right", va="center", fontsize=font, color="#555", transform=key.transAxes)
    if len(listed) < len(rows):
        key.text(0.17, 1 - (len(entries) + 1.5) * line, f"… and {count(len(rows) - len(listed), 'more cluster')}",
                 ha="left", va="center", fontsize=font, color="#555", transform=key.transAxes)


def _short(name: str, limit: int = 34) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


# -- the gallery ---------------------------------------------------------------------------------------
def decode_thumbnails(clustering: Clustering, frames: dict[int, list[tuple[str, float]]],
                     status: StatusHook | None = None) -> dict[tuple[str, float], str | None]:
    """JPEG data URIs of the chosen frames, decoded in parallel; None for files that cannot be read."""
    from PIL import Image

    from vindex.stills import read_thumbnail

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
        status(f"decoding {count(len(jobs), 'thumbnail')}")
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

    def escape(text: str) -> str:  # a bidi override or zero-width character in a name cannot disguise it
        return html.escape(visible_name(text))

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
        return "".join(f'<span class="chip">{escape(str(name))} <b>{videos}</b></span>' for name, videos in counts.items())

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
            f'<p class="facts"><span class="size">{count(facts["size"], "video")}</span> · mean probability '
            f'{facts["mean_probability"]:.2f}</p><div class="chips">{chips(facts["channel_distribution"])}</div>'
            f'<div class="grid">{tiles(row["id"])}</div></section>'
        )
    noise = report["noise"]
    links.append(f'<a href="#noise"><span class="dot" style="background:{NOISE_GREY}"></span>noise ({noise["size"]})</a>')
    sections.append(
        f'<section class="cluster noise" id="noise" data-cluster="-1"><h2><span class="dot" '
        f'style="background:{NOISE_GREY}"></span>Noise: <span class="name">videos in no cluster</span></h2>'
        f'<p class="facts"><span class="size">{count(noise["size"], "video")}</span></p>'
        f'<div class="chips">{chips(noise["channel_distribution"])}</div><div class="grid">{tiles(NOISE)}</div></section>'
    )
    parameters = " · ".join(f"{k} {escape(str(v))}" for k, v in summary["parameters"].items() if v is not None)
    headline = f'{count(summary["num_clusters"], "cluster")} of {count(summary["total_videos"], "video")}'
    warning = random_weights_warning(run.get("weights"), "cluster names")
    untrained = f'<p class="warning">{escape(warning)}</p>' if warning else ""
    picture_html = f'<img class="map" src="{picture}" alt="map of the clusters">' if picture else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vindex clusters: {headline}</title>
<style>{_STYLE}</style></head>
<body><header><h1>{headline}</h1>
<p class="summary"><b id="num-clusters">{summary["num_clusters"]}</b> clusters · <b id="num-noise">{summary["num_noise"]}</b>
noise · <b>{summary["unassigned"]}</b> not clustered · model {escape(str(run.get("model")))} ·
{escape(str(summary["created_at"] or ""))[:19].replace("T", " ")}</p>
<p class="params">{parameters}</p>{untrained}<nav>{"".join(links)}</nav></header>
<main>{picture_html}{"".join(sections)}</main></body></html>
"""


_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f6f4;color:#1d1d1d}
header{background:#fff;border-bottom:1px solid #ddd;padding:16px 24px}
h1{margin:0 0 4px;font-size:22px} .summary,.params{margin:2px 0;color:#555} .params{font-size:12px}
.warning{margin:6px 0 0;padding:4px 8px;background:#fff4d6;border-left:3px solid #e0a800;font-size:13px}
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



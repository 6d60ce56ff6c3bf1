"""What the latest clustering found, written out from the labels stored in the index:
cluster_analysis.json (the seed's shape plus names, exemplars and parameters), and, through
`vindex.gallery`, video_clusters_visualization.png and clusters.html."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from vindex.clustering import NOISE, Clustering, exemplar_frames, load_clustering
from vindex.clustering.state import spread_pick
from vindex.defaults import THUMBNAILS_PER_CLUSTER
from vindex.errors import VindexError, os_reason
from vindex.gallery import decode_thumbnails, draw_picture, gallery_html
from vindex.results import StatusHook

ANALYSIS_FILE = "cluster_analysis.json"
PICTURE_FILE = "video_clusters_visualization.png"
GALLERY_FILE = "clusters.html"
SAMPLE_VIDEOS = 5


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
    parameters = {k: v for k, v in run.items()
                  if k not in ("model", "weights", "videos", "noise", "notes", "created_at", "models")}
    return dict(
        summary=dict(
            total_videos=int(clustering.in_run.sum()), num_clusters=len(clusters), num_noise=len(noise),
            unassigned=int((~clustering.in_run).sum()), assigned_since_fit=clustering.assigned, model=run.get("model"), weights=run.get("weights"),
            parameters=parameters, created_at=run.get("created_at"), root=clustering.root, notes=run.get("notes", []),
        ),
        clusters=clusters,
        noise=dict(size=len(noise), channel_distribution=clustering.channel_counts(noise),
                   sample_videos=spread_pick(sorted(clustering.paths[i] for i in noise), SAMPLE_VIDEOS)),
    )


def write_report(store, out: Path, thumbnails: int = THUMBNAILS_PER_CLUSTER, picture: bool = True,
                 gallery: bool = True, status: StatusHook | None = None) -> list[Path]:
    """Write the JSON report, and the picture and gallery unless turned off, into `out`."""
    say = status or (lambda message: None)
    clustering = load_clustering(store, with_centroids=gallery)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VindexError(f"cannot create the output folder {out}: {os_reason(error)}") from None
    written = []
    analysis_path = out / ANALYSIS_FILE
    report = analysis(clustering)
    analysis_path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n",
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
        gallery_path.write_text(gallery_html(clustering, report, frames, images, embedded), encoding="utf-8")
        written.append(gallery_path)
    return written

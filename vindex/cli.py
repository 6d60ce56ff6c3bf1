"""The `vindex` command: parses options, calls the library, formats what comes back."""

from __future__ import annotations

import functools
import json
import os
import sys
from typing import Callable

import click

from vindex import __version__
from vindex.errors import VindexError


class VindexGroup(click.Group):
    """Turns library errors into one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except VindexError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted: what was finished is saved; run the command again to carry on.", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as error:  # an unexpected failure still gets one readable line
            if os.environ.get("VINDEX_DEBUG"):
                raise
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            click.echo(f"Error: {type(error).__name__}: {message} (set VINDEX_DEBUG=1 for details)", err=True)
            sys.exit(1)


def db_option(command: Callable) -> Callable:
    return click.option(
        "--db", "db", metavar="PATH", envvar="VINDEX_DB", show_envvar=True,
        help="Index location (a folder or LanceDB URI). Default: a .vindex folder found from here upward.",
    )(command)


def json_option(command: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(command)


def quiet_option(command: Callable) -> Callable:
    return click.option("-q", "--quiet", is_flag=True, help="No progress bar.")(command)


def out_option(command: Callable) -> Callable:
    return click.option(
        "--out", "out", type=click.Path(file_okay=False), default=".", show_default=True,
        help="Folder for cluster_analysis.json, video_clusters_visualization.png and clusters.html.",
    )(command)


def device_options(command: Callable) -> Callable:
    command = click.option(
        "--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", show_default=True,
        help="Weights precision: auto is bf16 on CPUs with bf16 support (checked against fp32), fp16 on CUDA.",
    )(command)
    return click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, mps.")(command)


def model_options(command: Callable) -> Callable:
    for decorator in reversed(
        [
            click.option("--model", default=None, help="open_clip model name. Default: ViT-B-32 (or the index's)."),
            click.option("--pretrained", default=None, help="open_clip pretrained tag, e.g. laion2b_s34b_b79k."),
            click.option(
                "--checkpoint", type=click.Path(dir_okay=False, resolve_path=True), default=None,
                help="Local weights file for --model (offline use).",
            ),
        ]
    ):
        command = decorator(command)
    return command


def print_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def progress_bar(quiet: bool):
    """A rich progress bar on stderr, or nothing when quiet or not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, disable=quiet or not console.is_terminal, transient=False,
    )
    tasks: dict[str, int] = {}

    def hook(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    return progress, hook


@click.group(cls=VindexGroup)
@click.version_option(__version__, prog_name="vindex")
def cli() -> None:
    """Index folders of videos with CLIP, then search, cluster and organise them."""


@cli.command()
@click.argument("folder", type=click.Path(path_type=str))
@db_option
@model_options
@device_options
@click.option("--frames", type=click.IntRange(min=1), default=None, help="Frames per video (default 5, or the index's).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="Frames per model call.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Decoder threads (default: CPU count).")
@click.option(
    "--commit-every", type=click.IntRange(min=1), default=256, show_default=True,
    help="Videos per database write: a crash loses at most this much work.",
)
@click.option("--reembed", is_flag=True, help="Drop all vectors and embed everything again (e.g. with a new model).")
@click.option(
    "--fast", is_flag=True,
    help="Take the keyframe nearest each target time: several times faster to decode, less evenly spaced.",
)
@click.option(
    "--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
    help="Where to decode and embed: this process, or Ray Data (pip install 'vindex[ray]').",
)
@click.option(
    "--address", metavar="ADDR", default=None,
    help="Ray cluster to use with --engine ray (host:port, ray://host:port or auto). Default: start a local Ray.",
)
@quiet_option
@json_option
def add(folder, db, model, pretrained, checkpoint, device, precision, frames, batch_size, workers, commit_every,
        reembed, fast, engine, address, quiet, as_json):
    """Index (or re-index) the videos under FOLDER.

    Unchanged files are skipped, renamed files keep their vectors, changed files are
    re-embedded and deleted files leave the index.
    """
    from vindex.embedding import ModelSpec
    from vindex.index import Index

    spec = ModelSpec(model, pretrained, checkpoint) if (model or pretrained or checkpoint) else None
    index = Index(db, device=device, precision=precision)
    progress, hook = progress_bar(quiet or as_json)
    with progress:
        summary = index.add(folder, model=spec, frames=frames, reembed=reembed, batch_size=batch_size,
                            workers=workers, progress=hook, commit_every=commit_every, engine=engine,
                            address=address, keyframes_only=fast)
    if as_json:
        print_json(summary.to_dict())
        return
    for failure in summary.failed:
        click.echo(f"warning: skipped {failure.path}: {failure.reason}", err=True)
    click.echo(
        f"{summary.added} added, {summary.reembedded} re-embedded, {summary.renamed} renamed, "
        f"{summary.unchanged} unchanged, {summary.removed} removed, {len(summary.failed)} failed "
        f"in {summary.seconds:.1f} s ({summary.embedded} videos, {summary.frames} frames embedded)"
    )
    click.echo(f"index: {summary.db}")


@cli.command()
@db_option
@json_option
def info(db, as_json):
    """What the index holds: videos, frames, channels, model, location, size."""
    from vindex.index import Index

    facts = Index(db).info()
    if as_json:
        print_json(facts.to_dict())
        return
    size = f"{facts.size_bytes / 2**20:.1f} MiB" if facts.size_bytes is not None else "n/a"
    for label, value in [
        ("index", facts.db), ("root", facts.root), ("videos", facts.videos), ("frames", facts.frames),
        ("model", f"{facts.model} ({facts.weights})" if facts.model else None), ("vector dim", facts.dim),
        ("frames/video", facts.frames_per_video), ("schema", facts.schema_version), ("size on disk", size),
    ]:
        click.echo(f"{label:>13}: {value if value is not None else '-'}")
    if facts.channels:
        click.echo(f"{'channels':>13}: {len(facts.channels)}")
        width = max(len(name or '(root)') for name in facts.channels)
        for name, count in facts.channels.items():
            click.echo(f"{'':>15}{(name or '(root)'):<{width}}  {count}")


@cli.command()
@click.option("--dest", type=click.Path(path_type=str), help="Folder to organise into: one sub-folder per cluster.")
@click.option("--apply", "apply_plan", is_flag=True, help="Do it. Without --apply or --undo nothing changes: a preview.")
@click.option("--copy", is_flag=True, help="Copy the files instead of moving them.")
@click.option("--link", is_flag=True, help="Hard-link the files instead (a symlink where that is impossible).")
@click.option(
    "--noise", type=click.Choice(["move", "keep"]), default="move", show_default=True,
    help="Videos in no cluster: move them to DEST/unsorted, or keep them where they are.",
)
@click.option("--keep-channel", is_flag=True, help="Keep the channel as a sub-folder: DEST/<cluster>/<channel>/.")
@click.option("--undo", is_flag=True, help="Put the files of the last organize back where they were.")
@db_option
@quiet_option
@json_option
def organize(dest, apply_plan, copy, link, noise, keep_channel, undo, db, quiet, as_json):
    """Preview, apply or undo a reorganisation into one folder per cluster.

    Folders are named <id>-<name> after the clusters of the last `vindex cluster` run. Moves
    are journaled in the index folder and never overwrite a file: if a run is interrupted, run
    it again to finish, or --undo. The index follows the moved files; nothing is re-embedded.
    """
    from vindex.index import Index

    if undo and (apply_plan or copy or link or keep_channel):
        raise click.UsageError("--undo takes no --apply, --copy, --link or --keep-channel")
    if copy and link:
        raise click.UsageError("choose one of --copy and --link")
    index = Index(db)
    progress, hook = progress_bar(quiet or as_json)
    if undo:
        with progress:
            done = index.organize_undo(progress=hook)
        if dest and os.path.realpath(dest) != done.dest:
            click.echo(f"note: the organize undone was into {done.dest}", err=True)
        _print_undo(done, as_json)
        return
    if not dest:
        raise click.UsageError("--dest is required (or --undo)")
    mode = "copy" if copy else "link" if link else "move"
    if not apply_plan:
        _print_plan(index.organize_plan(dest, mode, noise, keep_channel), as_json)
        return
    with progress:
        result = index.organize_apply(dest, mode, noise, keep_channel, progress=hook)
    _print_organized(result, as_json)


VERBS = {"move": ("move", "moved"), "copy": ("copy", "copied"), "link": ("link", "linked")}


def _print_plan(plan, as_json: bool) -> None:
    if as_json:
        print_json(plan.to_dict())
        return
    verb = VERBS[plan.mode][0]
    click.echo(
        f"Preview: {verb} {len(plan.moves)} videos into {plan.dest} "
        f"({plan.in_place} already there, {plan.left} left in place, {len(plan.skipped)} skipped)"
    )
    folders = plan.folders()
    if folders:
        width = max(len(f.folder) for f in folders)
        click.echo(f"{'cluster':>7}  {'folder':<{width}}  {'files':>5}  samples")
        for folder in folders:
            label = "noise" if folder.cluster < 0 else str(folder.cluster)
            click.echo(f"{label:>7}  {folder.folder:<{width}}  {folder.files:>5}  {', '.join(folder.samples)}")
    suffixed = [m for m in plan.moves if m.suffixed]
    if suffixed:
        click.echo(f"{len(suffixed)} will take a numbered name, theirs being taken:")
        for move in suffixed:
            click.echo(f"  {move.source} -> {move.target}")
    for skipped in plan.skipped:
        click.echo(f"skip {skipped.path}: {skipped.reason}")
    click.echo("Nothing was changed: add --apply to do it." if plan.moves else "Nothing to do.")


def _print_organized(result, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    for skipped in result.skipped:
        click.echo(f"warning: skipped {skipped.path}: {skipped.reason}", err=True)
    for failed in result.failed:
        click.echo(f"warning: failed {failed.path}: {failed.reason}", err=True)
    finished = "finished the interrupted organize: " if result.resumed else ""
    click.echo(
        f"{finished}{VERBS[result.mode][1]} {result.moved} videos into {result.dest} "
        f"({result.in_place} already there, {result.left} left in place, {len(result.skipped)} skipped, "
        f"{len(result.failed)} failed) in {result.seconds:.1f} s"
    )
    if result.suffixed:
        click.echo(f"{len(result.suffixed)} took a numbered name, theirs being taken:")
        for item in result.suffixed:
            click.echo(f"  {item['source']} -> {item['target']}")
    if result.journal:
        click.echo(f"journal: {result.journal} (undo with `vindex organize --undo`)")


def _print_undo(result, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    for failed in result.failed:
        click.echo(f"warning: not restored {failed.path}: {failed.reason}", err=True)
    what = "removed" if result.mode != "move" else "restored"
    click.echo(
        f"{what} {result.restored} videos of the organize into {result.dest}, "
        f"{result.folders_removed} empty folders removed, {len(result.failed)} failed, in {result.seconds:.1f} s"
    )
    if result.suffixed:
        click.echo(f"{len(result.suffixed)} restored under a numbered name, the original being taken:")
        for item in result.suffixed:
            click.echo(f"  {item['from']} -> {item['to']}")


def status_printer(quiet: bool) -> Callable[[str], None] | None:
    """Progress lines on stderr, so stdout stays clean for the result (or --json)."""
    if quiet:
        return None
    return lambda message: click.echo(f"  {message}", err=True)


@cli.command()
@db_option
@click.option("--min-size", type=click.IntRange(min=2), default=10, show_default=True,
              help="Smallest group that counts as a cluster (HDBSCAN min_cluster_size).")
@click.option("--min-samples", type=click.IntRange(min=1), default=None,
              help="How conservative HDBSCAN is: higher means more noise. Default: --min-size.")
@click.option("--neighbors", type=click.IntRange(min=2), default=15, show_default=True,
              help="UMAP n_neighbors: larger favours the big picture over local detail.")
@click.option("--components", type=click.IntRange(min=1), default=5, show_default=True,
              help="Dimensions UMAP reduces the vectors to before HDBSCAN.")
@click.option("--metric", type=click.Choice(["cosine", "euclidean"]), default="cosine", show_default=True,
              help="Distance between video vectors.")
@click.option("--seed", type=int, default=42, show_default=True,
              help="Random seed: the same index and options give the same clusters.")
@click.option("--channel", default=None, help="Cluster only this channel's videos (the others are left unassigned).")
@click.option("--vocabulary", type=click.Path(dir_okay=False), default=None,
              help="Text file of naming terms, one per line. Default: the built-in vocabulary.")
@out_option
@click.option("--no-report", is_flag=True, help="Do not write cluster_analysis.json and the PNG map.")
@quiet_option
@json_option
def cluster(db, min_size, min_samples, neighbors, components, metric, seed, channel, vocabulary, out, no_report,
            quiet, as_json):
    """Group the indexed videos: UMAP, then HDBSCAN; name each group and store the labels.

    Writes back into the index: each video's cluster (-1 = noise), probability and x/y map
    position, and a clusters table (id, name, size, centroid, exemplars). Clusters that match
    the previous run's keep their ids. Videos added later stay unassigned until the next run.
    Then writes cluster_analysis.json and video_clusters_visualization.png into --out
    (`vindex report` adds the HTML gallery).
    """
    from vindex.clustering import ClusterParams
    from vindex.index import Index

    params = ClusterParams(min_size=min_size, min_samples=min_samples, neighbors=neighbors, components=components,
                           metric=metric, seed=seed, channel=channel)
    index = Index(db)
    status = status_printer(quiet or as_json)
    run = index.cluster(params, vocabulary=vocabulary, status=status)
    written = [] if no_report else index.report(out, gallery=False, status=status)
    if as_json:
        print_json({**run.to_dict(), "files": [str(path) for path in written]})
        return
    share = f" ({100 * run.noise / run.videos:.0f} %)" if run.videos else ""
    click.echo(f"{len(run.clusters)} clusters and {run.noise} noise videos{share} among {run.videos} videos "
               f"in {run.seconds.get('total', 0):.1f} s")
    if run.unassigned:
        click.echo(f"{run.unassigned} videos of other channels left unassigned")
    if quiet:  # otherwise they were shown as they happened
        for note in run.notes:
            click.echo(f"note: {note}")
    print_cluster_table([dict(c.__dict__) for c in run.clusters])
    for path in written:
        click.echo(f"wrote {path}")


def print_cluster_table(rows: list[dict]) -> None:
    if not rows:
        return
    width = max(4, max(len(str(row["name"])) for row in rows))
    click.echo(f"{'id':>4}  {'size':>6}  {'prob':>5}  {'name':<{width}}  channels")
    for row in rows:
        channels = ", ".join(f"{name} {count}" for name, count in list(row["channels"].items())[:3])
        more = len(row["channels"]) - 3
        channels += f", +{more} more" if more > 0 else ""
        click.echo(f"{row['id']:>4}  {row['size']:>6}  {row['mean_probability']:>5.2f}  {row['name']:<{width}}  {channels}")


@cli.command()
@db_option
@out_option
@click.option("--thumbnails", type=click.IntRange(min=0), default=8, show_default=True,
              help="Exemplar frames per cluster in the gallery.")
@click.option("--no-picture", is_flag=True, help="Skip the PNG map.")
@click.option("--no-gallery", is_flag=True, help="Skip the HTML gallery (no video decoding).")
@quiet_option
@json_option
def report(db, out, thumbnails, no_picture, no_gallery, quiet, as_json):
    """Write the latest clustering out: JSON summary, a PNG map and an HTML gallery of thumbnails."""
    from vindex.index import Index

    written = Index(db).report(out, thumbnails=thumbnails, picture=not no_picture, gallery=not no_gallery,
                               status=status_printer(quiet or as_json))
    if as_json:
        print_json({"files": [str(path) for path in written]})
        return
    for path in written:
        click.echo(f"wrote {path}")


@cli.command()
@click.argument("cluster_id", required=False, metavar="[ID]")
@db_option
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Videos to list (0 = all).")
@json_option
def show(cluster_id, db, limit, as_json):
    """List the clusters, or the videos of cluster ID (`noise` for the unclustered), most typical first."""
    from vindex.index import Index

    index = Index(db)
    if cluster_id is None:
        overview = index.clusters()
        if as_json:
            print_json(overview)
        else:
            print_cluster_table(overview)
        return
    wanted = cluster_id.strip().lower()
    if wanted not in ("noise", "-1") and not wanted.isdigit():
        raise VindexError(f"{cluster_id!r} is not a cluster id: pass a number, or `noise`")
    found = index.cluster_members(-1 if wanted in ("noise", "-1") else int(wanted))
    shown = found["videos"] if limit == 0 else found["videos"][:limit]
    if as_json:
        print_json(dict(found, videos=shown))
        return
    title = "noise" if found["id"] == -1 else f"cluster {found['id']}: {found['name']}"
    click.echo(f"{title} · {found['size']} videos · mean probability {found['mean_probability']:.2f}")
    channels = ", ".join(f"{name} {count}" for name, count in found["channels"].items())
    click.echo(f"channels: {channels or '-'}")
    for video in shown:
        click.echo(f"  {video['probability']:.2f}  {video['path']}")
    if len(shown) < found["size"]:
        click.echo(f"  … and {found['size'] - len(shown)} more (--limit 0 lists all)")

def search_options(command: Callable) -> Callable:
    """Options shared by `query` and `similar`."""
    for decorator in reversed(
        [
            click.option("-n", "--limit", type=click.IntRange(min=1), default=10, show_default=True,
                         help="How many videos to return."),
            click.option("--channel", "channels", multiple=True, metavar="NAME",
                         help="Only videos in this channel (repeat for several)."),
            click.option("--min-score", type=click.FloatRange(-1.0, 1.0), default=None,
                         help="Only results at least this similar (cosine, -1 to 1)."),
            click.option("--by", type=click.Choice(["frame", "video"]), default="frame", show_default=True,
                         help="Rank a video by its best-matching frame, or by its mean-pooled vector."),
            click.option("--paths", "bare_paths", is_flag=True,
                         help="Print only the matching files, one per line (for piping)."),
        ]
    ):
        command = decorator(command)
    return command


def format_moment(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def print_hits(result, as_json: bool, bare_paths: bool) -> None:
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        print_json(result.to_dict())
        return
    if bare_paths:
        for hit in result:
            click.echo(hit.file)
        return
    if not result.hits:
        click.echo("no matching videos", err=True)
        return
    width = max(len("channel"), *(len(hit.channel or "(root)") for hit in result))
    click.echo(f"{'rank':>4}  {'score':>6}  {'moment':>7}  {'channel':<{width}}  path")
    for hit in result:
        click.echo(
            f"{hit.rank:>4}  {hit.score:>6.3f}  {format_moment(hit.timestamp):>7}  "
            f"{(hit.channel or '(root)'):<{width}}  {hit.path}"
        )


@cli.command()
@click.argument("text")
@search_options
@db_option
@device_options
@json_option
def query(text, limit, channels, min_score, by, bare_paths, db, device, precision, as_json):
    """Find videos matching a text such as "neon abstract", best first.

    TEXT goes through the text tower of the model that built the index. Each result shows
    the moment (timestamp of the frame) that matched best.
    """
    from vindex.index import Index

    result = Index(db, device=device, precision=precision).query(
        text, limit=limit, by=by, channels=channels, min_score=min_score
    )
    print_hits(result, as_json, bare_paths)


@cli.command()
@click.argument("file", type=click.Path(path_type=str))
@search_options
@click.option("--include-self", is_flag=True, help="Keep FILE itself and its identical copies in the results.")
@db_option
@device_options
@json_option
def similar(file, limit, channels, min_score, by, bare_paths, include_self, db, device, precision, as_json):
    """Find videos like FILE, a video on disk, indexed or not.

    An indexed file (same path, or same content anywhere) uses its stored vectors; any other
    file is decoded and embedded with the index's model, without being added.
    """
    from vindex.index import Index

    result = Index(db, device=device, precision=precision).similar(
        file, limit=limit, by=by, channels=channels, min_score=min_score, include_self=include_self
    )
    print_hits(result, as_json, bare_paths)


@cli.command()
@click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.95, show_default=True,
              help="How similar (cosine of matching frames) two videos must be to count as duplicates.")
@click.option("--channel", "channels", multiple=True, metavar="NAME", help="Only videos in this channel (repeatable).")
@db_option
@json_option
def dupes(threshold, channels, db, as_json):
    """List groups of near-duplicate videos: re-encodes, resizes, crops, trims and copies.

    In each group the longest (then largest) file comes first; the others show their
    similarity to it. Groups that free the most space come first.
    """
    from vindex.index import Index

    groups = Index(db).duplicates(threshold=threshold, channels=channels)
    if as_json:
        print_json([group.to_dict() for group in groups])
        return
    if not groups:
        click.echo(f"no near-duplicates at threshold {threshold}", err=True)
        return
    for number, group in enumerate(groups, 1):
        click.echo(f"group {number}: {len(group.videos)} videos, "
                   f"{human_size(group.reclaimable_bytes)} in all but the first")
        click.echo(f"  {'score':>6}  {'length':>7}  {'pixels':>9}  {'size':>9}  path")
        for video in group.videos:
            pixels = f"{video.width}x{video.height}" if video.width else "-"
            click.echo(
                f"  {video.score:>6.3f}  {format_moment(video.duration):>7}  {pixels:>9}  "
                f"{human_size(video.size or 0):>9}  {video.path}"
            )


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


@cli.command()
@click.option("--rebuild", is_flag=True, help="Retrain existing ANN indexes from scratch.")
@db_option
@json_option
def optimize(rebuild, db, as_json):
    """Compact the index and build the ANN indexes its size calls for.

    `vindex add` does this on its own; run it after large changes, or with --rebuild to
    retrain the vector indexes.
    """
    from vindex.index import Index

    summary = Index(db).optimize(rebuild=rebuild)
    if as_json:
        print_json(summary.to_dict())
        return
    for built in summary.built:
        click.echo(f"built {built['type']} on {built['table']}: {built['rows']} rows, "
                   f"{built['partitions']} partitions in {built['seconds']:.1f} s")
    for table in ("videos", "frames"):
        facts = summary.vector_indexes.get(table)
        state = (f"{facts['type']} ({facts['indexed_rows']} indexed, {facts['unindexed_rows']} not yet)" if facts
                 else "brute force (small enough)")
        click.echo(f"{table:>7}: {state}")
    click.echo(f"optimized {summary.db} in {summary.seconds:.1f} s")

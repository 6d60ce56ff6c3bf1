"""The `vindex` command: parses options, calls the library, formats what comes back."""

from __future__ import annotations

import contextlib
import os
import sys

import click

from vindex import __version__, defaults
from vindex.curation_cli import register_curation
from vindex.display import visible_name
from vindex.errors import VindexError, first_line, os_error_line
from vindex.model_cli import model
from vindex.serve_cli import serve
from vindex.upkeep_cli import check, optimize
from vindex.served_query import served_query, served_similar
from vindex.options import (
    backend_option, db_option, device_options, engine_options, filter_options, frame_options, json_option,
    model_options, null_option, out_option, quiet_option, search_options, wait_option,
)
from vindex.output import (
    emit, print_add_summary, print_cluster_run, print_cluster_table, print_duplicate_groups, print_exports, print_hits,
    print_info, print_json, print_members, print_organized, print_plan, print_undo, print_written,
    progress_bar, show_library_warnings, status_printer,
)


class VindexGroup(click.Group):
    """Turns library errors into one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except VindexError as error:
            click.echo(f"Error: {visible_name(str(error))}", err=True)
            sys.exit(1)
        except click.UsageError as error:  # click would print its usage block first: one line, with where to look
            where = f" (see `{error.ctx.command_path} --help`)" if error.ctx else ""
            click.echo(f"Error: {visible_name(error.format_message())}{where}", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted: what was finished is saved; run the command again to carry on.", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except BrokenPipeError:  # the reader went away (`vindex query | head`): stop quietly, as cat does
            with contextlib.suppress(OSError, ValueError):  # stdout's buffered rest would fail again at exit
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)  # 128 + SIGPIPE
        except OSError as error:  # a path refused (stat, realpath, open) wherever it was met
            click.echo(f"Error: {visible_name(os_error_line(error))}", err=True)
            sys.exit(1)
        except Exception as error:  # an unexpected failure still gets one readable line
            if os.environ.get("VINDEX_DEBUG"):
                raise
            message = first_line(error, 1000) if str(error).strip() else ""
            click.echo(f"Error: {type(error).__name__}: {visible_name(message)} (set VINDEX_DEBUG=1 for details)",
                       err=True)
            sys.exit(1)


@click.group(cls=VindexGroup)
@click.version_option(__version__, prog_name="vindex")
def cli() -> None:
    """Index folders of videos with CLIP, then search, cluster and organise them.

    Every command but serve prints a table for people, or its result as JSON with --json
    (`vindex COMMAND --help` lists its options).
    """
    show_library_warnings()


@cli.command()
@click.argument("folder", type=click.Path(path_type=str))
@db_option
@model_options
@device_options
@backend_option
@frame_options
@click.option("--batch-size", type=click.IntRange(min=1), default=defaults.BATCH_SIZE, show_default=True,
              help="Frames per model call.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Decoder threads (default: CPU count).")
@click.option(
    "--commit-every", type=click.IntRange(min=1), default=defaults.COMMIT_EVERY, show_default=True,
    help="Videos per database write: a crash loses at most this much work.",
)
@click.option("--reembed", is_flag=True, help="Drop all vectors and embed everything again (e.g. with a new model).")
@click.option("--retry-failed", is_flag=True, help="Decode again files that failed before, changed or not.")
# Only to measure what the dense fingerprints cost (scripts/bench_add.py): `dupes` needs them.
@click.option("--without-fingerprints", is_flag=True, hidden=True,
              help="Leave out the fingerprints `dupes` needs (only to measure what they cost).")
@engine_options
@quiet_option
@json_option
@wait_option
def add(folder, db, model, pretrained, checkpoint, device, precision, backend, frames, upgrade_frames, sampling,
        batch_size, workers, commit_every, reembed, fast, retry_failed, without_fingerprints, engine, address, quiet,
        as_json, wait):
    """Index (or re-index) the videos under FOLDER.

    Unchanged files are skipped, renamed files keep their vectors, changed files are
    re-embedded and deleted files leave the index.
    """
    from vindex.embedding import ModelSpec
    from vindex.index import Index

    spec = ModelSpec(model, pretrained, checkpoint) if (model or pretrained or checkpoint) else None
    index = Index(db, device=device, precision=precision, backend=backend, status=status_printer(quiet))
    progress, hook = progress_bar(quiet or as_json)
    with progress:
        summary = index.add(folder, model=spec, frames=frames, sampling=sampling, reembed=reembed,
                            batch_size=batch_size, workers=workers, progress=hook, commit_every=commit_every, engine=engine,
                            address=address, keyframes_only=fast, retry_failed=retry_failed, wait=wait,
                            fingerprints=not without_fingerprints, upgrade_frames=upgrade_frames)
    emit(summary, as_json, print_add_summary)


@cli.command()
@db_option
@json_option
def info(db, as_json):
    """What the index holds: videos, frames, channels, model, location, size."""
    from vindex.index import Index

    emit(Index(db).info(), as_json, print_info)


@cli.command()
@click.option("--dest", type=click.Path(path_type=str), help="Folder to organise into: one sub-folder per cluster.")
@click.option("--apply", "apply_plan", is_flag=True, help="Do it. Without --apply or --undo nothing changes: a preview.")
@click.option("--copy", is_flag=True, help="Copy the files instead of moving them.")
@click.option("--link", is_flag=True, help="Hard-link the files instead (a symlink where that is impossible).")
@click.option(
    "--noise", type=click.Choice(defaults.NOISE_POLICIES), default=defaults.NOISE_POLICY, show_default=True,
    help="Videos in no cluster: move them to DEST/unsorted, or keep them where they are.",
)
@click.option("--keep-channel", is_flag=True, help="Keep the channel as a sub-folder: DEST/<cluster>/<channel>/.")
@click.option("--undo", is_flag=True, help="Put the files of the last organize back where they were.")
@db_option
@quiet_option
@json_option
@wait_option
def organize(dest, apply_plan, copy, link, noise, keep_channel, undo, db, quiet, as_json, wait):
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
            done = index.organize_undo(progress=hook, wait=wait)
        if dest and os.path.realpath(dest) != done.dest:
            click.echo(f"note: the organize undone was into {visible_name(done.dest)}", err=True)
        emit(done, as_json, print_undo)
        return
    if not dest:
        raise click.UsageError("--dest is required (or --undo)")
    mode = "copy" if copy else "link" if link else "move"
    if not apply_plan:
        emit(index.organize_plan(dest, mode, noise, keep_channel), as_json, print_plan)
        return
    with progress:
        result = index.organize_apply(dest, mode, noise, keep_channel, progress=hook, wait=wait)
    emit(result, as_json, print_organized)


@cli.group(invoke_without_command=True)
@db_option
@click.option("--min-size", type=click.IntRange(min=2), default=defaults.MIN_CLUSTER_SIZE, show_default=True,
              help="Smallest group that counts as a cluster (HDBSCAN min_cluster_size).")
@click.option("--min-samples", type=click.IntRange(min=1), default=None,
              help="How conservative HDBSCAN is: higher means more noise. Default: --min-size.")
@click.option("--neighbors", type=click.IntRange(min=2), default=defaults.NEIGHBORS, show_default=True,
              help="UMAP n_neighbors: larger favours the big picture over local detail.")
@click.option("--components", type=click.IntRange(min=1), default=defaults.COMPONENTS, show_default=True,
              help="Dimensions UMAP reduces the vectors to before HDBSCAN.")
@click.option("--metric", type=click.Choice(defaults.METRICS), default=defaults.METRIC, show_default=True,
              help="Distance between video vectors.")
@click.option("--seed", type=int, default=defaults.SEED, show_default=True,
              help="Random seed: the same index and options give the same clusters.")
@click.option("--channel", default=None, help="Cluster only this channel's videos (the others are left unassigned).")
@click.option("--vocabulary", type=click.Path(dir_okay=False), default=None,
              help="Text file of naming terms, one per line. Default: the built-in vocabulary.")
@out_option
@click.option("--no-report", is_flag=True, help="Do not write cluster_analysis.json and the PNG map.")
@click.option("--retune", is_flag=True, help="Only a new --min-size/--min-samples: HDBSCAN on the saved layout, no UMAP.")
@quiet_option
@json_option
@wait_option
@click.pass_context
def cluster(ctx, db, min_size, min_samples, neighbors, components, metric, seed, channel, vocabulary, out, no_report,
            retune, quiet, as_json, wait):
    """Group the indexed videos: UMAP, then HDBSCAN; name each group and store the labels.

    Writes back into the index: each video's cluster (-1 = noise), probability and x/y map
    position, and a clusters table (id, name, size, centroid, exemplars). Clusters that match
    the previous run's keep their ids. The fitted models are saved, so `vindex add` assigns videos
    added later to these clusters; running `cluster` again re-fits.
    Then writes cluster_analysis.json and video_clusters_visualization.png into --out
    (`vindex report` adds the HTML gallery). The subcommands correct the clusters by hand.
    """
    if ctx.invoked_subcommand:
        return
    from vindex.clustering import ClusterParams
    from vindex.index import Index

    params = ClusterParams(min_size=min_size, min_samples=min_samples, neighbors=neighbors, components=components,
                           metric=metric, seed=seed, channel=channel)
    index = Index(db)
    status = status_printer(quiet or as_json)
    run = index.cluster(params, vocabulary=vocabulary, status=status, retune=retune, wait=wait)
    written = [] if no_report else index.report(out, gallery=False, status=status)
    if as_json:
        print_json({**run.to_dict(), "files": written})
        return
    print_cluster_run(run, quiet)
    print_written(written)


register_curation(cluster)


@cli.command()
@db_option
@out_option
@click.option("--thumbnails", type=click.IntRange(min=0), default=defaults.THUMBNAILS_PER_CLUSTER, show_default=True,
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
    emit({"files": written}, as_json, lambda data: print_written(data["files"]))


@cli.command()
@click.argument("cluster_id", required=False, metavar="[ID]")
@db_option
@click.option("--limit", type=click.IntRange(min=0), default=defaults.SHOW_LIMIT, show_default=True,
              help="Videos to list (0 = all).")
@filter_options
@json_option
def show(cluster_id, db, limit, under, name, as_json):
    """List the clusters, or the videos of cluster ID (`noise` for the unclustered), most typical first."""
    from vindex.index import Index

    index = Index(db)
    if cluster_id is None:
        overview = index.clusters(under=under, name=name)
        emit(overview, as_json, lambda clusters: print_cluster_table([cluster.to_dict() for cluster in clusters]))
        return
    wanted = cluster_id.strip().lower()
    if wanted not in ("noise", "-1") and not wanted.isdigit():
        raise VindexError(f"{cluster_id!r} is not a cluster id: pass a number, or `noise`")
    found = index.cluster_members(-1 if wanted in ("noise", "-1") else int(wanted), under=under, name=name)
    shown = found.videos if limit == 0 else found.videos[:limit]
    if as_json:
        print_json(dict(found.to_dict(), videos=shown))
        return
    print_members(found, shown)


@cli.command()
@click.argument("text")
@search_options
@filter_options
@click.option("--export", "export_to", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Also write each hit's matching segment into DIR: a clip and a still frame (see `vindex export`).")
@click.option("--clip", type=click.FloatRange(min=0, min_open=True), default=None,
              help="With --export: this many seconds around each moment instead of its matching segment.")
@db_option
@device_options
@backend_option
@json_option
def query(text, limit, channels, min_score, by, bare_paths, null, moments, under, name, export_to, clip, db,
          device, precision, backend, as_json):
    """Find videos matching a text such as "neon abstract", best first.

    TEXT goes through the text tower of the model that built the index. Each result shows
    the moment (timestamp of the frame) that matched best.
    """
    # A running `vindex serve` of this index answers, when there is one (vindex/served_query.py).
    if not (export_to or under or name) and (served := served_query(db, text, limit, by, channels, min_score, moments)):
        return print_hits(served, as_json, bare_paths, null)
    from vindex.index import Index

    index = Index(db, device=device, precision=precision, backend=backend)
    result = index.query(text, limit=limit, by=by, channels=channels, min_score=min_score, under=under, name=name,
                         moments=moments)
    exports = [index.export(hit, clip=clip, out=export_to) for hit in result] if export_to else None
    if as_json and exports is not None:
        print_json({**result.to_dict(), "exports": [done.to_dict() for done in exports]})
        return
    print_hits(result, as_json, bare_paths, null)
    print_exports(exports or [], err=bare_paths or null)


@cli.command()
@click.argument("video")
@click.option("--at", default=None, metavar="TIME", help="The moment: seconds (83.5), M:SS (1:23) or H:MM:SS. "
              "Default: the start.")
@click.option("--clip", type=click.FloatRange(min=0, min_open=True), default=defaults.EXPORT_CLIP_SECONDS,
              show_default=True, help="Seconds of video around the moment.")
@click.option("--out", type=click.Path(file_okay=False), default=".", show_default=True, help="Folder to write into.")
@click.option("--reencode", is_flag=True,
              help="Cut exactly at the asked start by re-encoding (libx264, video only) instead of copying the "
                   "streams from the keyframe before it.")
@db_option
@json_option
def export(video, at, clip, out, reencode, db, as_json):
    """Write a short clip around a moment of VIDEO, and that moment's frame as a JPEG.

    VIDEO is a video id (from `vindex query --json`) or an indexed file. Files are named after
    the video and the moment (`beach@1m23s.mp4`, `.jpg`) and never overwrite another file.
    """
    from vindex.index import Index

    emit(Index(db).export(video, at=at, clip=clip, out=out, reencode=reencode), as_json,
         lambda done: print_exports([done]))


@cli.command()
@click.argument("file", type=click.Path(path_type=str))
@search_options
@filter_options
@click.option("--include-self", is_flag=True, help="Keep FILE itself and its identical copies in the results.")
@db_option
@device_options
@backend_option
@json_option
def similar(file, limit, channels, min_score, by, bare_paths, null, moments, under, name, include_self, db, device,
            precision, backend, as_json):
    """Find videos like FILE, a video or a still picture on disk, indexed or not.

    An indexed file (same path, or same content anywhere) uses its stored vectors; any other
    file is decoded and embedded with the index's model, without being added.
    """
    if not (include_self or under or name) and (served := served_similar(db, file, limit, by, channels, min_score, moments)):
        return print_hits(served, as_json, bare_paths, null)
    from vindex.index import Index

    result = Index(db, device=device, precision=precision, backend=backend).similar(
        file, limit=limit, by=by, channels=channels, min_score=min_score, include_self=include_self, under=under,
        name=name, moments=moments,
    )
    print_hits(result, as_json, bare_paths, null)


@cli.command()
@click.option("--mode", type=click.Choice(defaults.DUPLICATE_MODES), default=defaults.DUPLICATE_MODE, show_default=True,
              help="exact: same bytes; near: same pictures (re-encodes, resizes, crops, trims, sub-clips), by "
              "perceptual fingerprints; similar: same scene, by CLIP frames.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True), default=None,
              help="near: share of the shorter video's frames found in the longer one (default "
              f"{defaults.DUPLICATE_THRESHOLDS['near']}); similar: mean best cosine of its CLIP frames (default "
              f"{defaults.DUPLICATE_THRESHOLDS['similar']}).")
@click.option("--channel", "channels", multiple=True, metavar="NAME", help="Only videos in this channel (repeatable).")
@click.option("--paths", "bare_paths", is_flag=True, help="Print only the videos that are not keepers, one per line.")
@null_option
@filter_options
@db_option
@json_option
def dupes(mode, threshold, channels, bare_paths, null, under, name, db, as_json):
    """List groups of duplicate videos: which one to keep, and why each other one is a copy.

    The keeper of a group is its best copy (most seconds of footage, black and title intros left
    out; then most pixels without bars; then highest bit rate); every other member scores at least
    the threshold against it. Groups that free the most space come
    first. Nothing is deleted: --paths prints the copies for a command of your choosing.
    """
    from vindex.index import Index

    report = Index(db).duplicates(mode=mode, threshold=threshold, channels=channels, under=under, name=name)
    print_duplicate_groups(report, as_json, bare_paths, null)


cli.add_command(serve)
cli.add_command(model)
cli.add_command(optimize)
cli.add_command(check)

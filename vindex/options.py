"""Options that several commands share, as decorators (the way sqlite-utils shares them)."""

from __future__ import annotations

from typing import Callable

import click

from vindex import defaults


def db_option(command: Callable) -> Callable:
    return click.option(
        "--db", "db", metavar="PATH", envvar="VINDEX_DB", show_envvar=True,
        help="Index location (a folder or LanceDB URI). Default: a .vindex folder found from here upward.",
    )(command)


def json_option(command: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(command)


def wait_option(command: Callable) -> Callable:
    """--wait: a writing command queues behind another writer of the index instead of failing at once
    (the command passes it to its `Index` method's `wait`)."""
    return click.option("--wait", is_flag=True,
                        help="If another vindex is writing to the index, wait for it instead of failing.")(command)


def quiet_option(command: Callable) -> Callable:
    return click.option("-q", "--quiet", is_flag=True, help="No progress bar.")(command)


def out_option(command: Callable) -> Callable:
    return click.option(
        "--out", "out", type=click.Path(file_okay=False), default=defaults.REPORT_FOLDER, show_default=True,
        help="Folder for cluster_analysis.json, video_clusters_visualization.png and clusters.html.",
    )(command)


def device_options(command: Callable) -> Callable:
    command = click.option(
        "--precision", type=click.Choice(defaults.PRECISIONS), default=defaults.PRECISION, show_default=True,
        help="Weights precision: auto is bf16 on CPUs with bf16 support, fp16 on CUDA; int8 (OpenVINO, CPU) "
        "calibrates once on frames of your videos and falls back to bf16 if it strays.",
    )(command)
    return click.option("--device", default=defaults.DEVICE, show_default=True, help="auto, cpu, cuda, cuda:1, mps.")(command)


def backend_option(command: Callable) -> Callable:
    return click.option(
        "--backend", type=click.Choice(defaults.BACKENDS), default=defaults.BACKEND, show_default=True,
        help="Runtime: auto is OpenVINO on a CPU, torch on a GPU (torch needs pip install 'vindex[torch]').",
    )(command)


def model_options(command: Callable) -> Callable:
    for decorator in reversed(
        [
            click.option("--model", default=None,
                         help=f"open_clip model name, or a model folder (vindex model export). Default: "
                              f"{defaults.MODEL} (or the index's)."),
            click.option("--pretrained", default=None, help="open_clip pretrained tag, e.g. laion2b_s34b_b79k."),
            click.option(
                "--checkpoint", type=click.Path(dir_okay=False, resolve_path=True), default=None,
                help="Local weights file for --model (offline use).",
            ),
        ]
    ):
        command = decorator(command)
    return command


null_option = click.option(
    "-0", "--null", is_flag=True,
    help="With --paths (implied): end each path with a NUL byte instead of a newline, as `find -print0` does "
         "(for `xargs -0`). Without it, --paths refuses a name holding a newline or other control character.")


def search_options(command: Callable) -> Callable:
    """Options shared by `query` and `similar`."""
    for decorator in reversed(
        [
            click.option("-n", "--limit", type=click.IntRange(min=1), default=defaults.LIMIT, show_default=True,
                         help="How many videos to return."),
            click.option("--channel", "channels", multiple=True, metavar="NAME",
                         help="Only videos in this channel (repeat for several)."),
            click.option("--min-score", type=click.FloatRange(-1.0, 1.0), default=None,
                         help="Only results at least this similar (cosine, -1 to 1)."),
            click.option("--by", type=click.Choice(defaults.RANK_BY), default=defaults.RANK, show_default=True,
                         help="Rank a video by its best-matching frame, or by its mean-pooled vector."),
            click.option("--paths", "bare_paths", is_flag=True,
                         help="Print only the matching files, one per line (for piping)."),
            null_option,
            click.option("--moments", is_flag=True,
                         help="List every matching segment of each video, not only the one around its best frame."),
        ]
    ):
        command = decorator(command)
    return command


def filter_options(command: Callable) -> Callable:
    """--under and --name: which videos a command looks at, filtered inside the index's query."""
    command = click.option(
        "--name", "name", metavar="GLOB", default=None,
        help="Only videos whose file name matches this glob, e.g. '*beach*' (case-sensitive; quote it).",
    )(command)
    return click.option(
        "--under", "under", metavar="FOLDER", default=None,
        help="Only videos in this folder: relative to the indexed root (e.g. cooking/2024) or a path under it.",
    )(command)



def frame_options(command: Callable) -> Callable:
    """--frames, --upgrade-frames, --sampling and --fast: which frames of each video `add` embeds."""
    command = click.option(
        "--fast", is_flag=True,
        help="Take the keyframe nearest each target time: several times faster to decode, less evenly spaced.",
    )(command)
    command = click.option(
        "--sampling", type=click.Choice(defaults.SAMPLINGS), default=None,
        help="Where frames are taken: evenly spaced (uniform), or the middle of the longest shots, "
             f"found on the keyframes (shots). Default {defaults.SAMPLING}, or the index's.",
    )(command)
    command = click.option(
        "--upgrade-frames", is_flag=True,
        help="Move an index made with a fixed frame count to frames that follow the shots, re-embedding only "
             "the videos whose frames change.",
    )(command)
    return click.option(
        "--frames", type=click.IntRange(min=1), default=None,
        help=f"Force this many frames per video. Default: the index's, else {defaults.FRAMES_PER_VIDEO} for clips up "
             f"to {defaults.SHORT_CLIP_SECONDS:g} s and one per shot (plus one every {defaults.SHOT_FRAME_SECONDS:g} s "
             f"in long shots, at most {defaults.FRAMES_PER_MINUTE}/min) for longer videos.",
    )(command)


def engine_options(command: Callable) -> Callable:
    """--engine and --address: where `add` decodes and embeds."""
    command = click.option(
        "--address", metavar="ADDR", default=None,
        help="Ray cluster to use with --engine ray (host:port, ray://host:port or auto). Default: start a local Ray.",
    )(command)
    return click.option(
        "--engine", type=click.Choice(defaults.ENGINES), default=defaults.ENGINE, show_default=True,
        help="Where to decode and embed: this process, or Ray Data (pip install 'vindex[ray]').",
    )(command)

"""`vindex cluster rename|merge|move|split|undo|history`: the user's corrections to the clusters,
as subcommands of `vindex cluster` (which still fits when called alone)."""

from __future__ import annotations

import click

from vindex.errors import VindexError
from vindex.options import db_option, json_option, wait_option
from vindex.output import emit


def cluster_id(text: str, noise: bool = False) -> int:
    """A cluster id as typed (`noise` or -1 for the noise where allowed)."""
    wanted = text.strip().lower()
    if noise and wanted in ("noise", "-1"):
        return -1
    if not wanted.isdigit():
        raise VindexError(f"{text!r} is not a cluster id: pass a number" + (", or `noise`" if noise else ""))
    return int(wanted)


def print_step(result) -> None:
    click.echo(f"#{result.seq}: {result.message}")


def history_value(key: str, value) -> str:
    """One argument of a decision as a person reads it: ids joined by spaces, cluster -1 as `noise`."""
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    if value is None:
        return ""
    return "noise" if key in ("to", "cluster") and value == -1 else str(value)


def print_history(history) -> None:
    if not history.rows:
        click.echo("no curation decisions yet")
        return
    for row in history.rows:
        args = ", ".join(f"{key}={history_value(key, value)}" for key, value in row["args"].items()
                         if key not in ("groups", "parts"))
        undone = " (undone)" if row["undone"] else ""
        click.echo(f"#{row['seq']:<4} {row['at'][:19]}  {row['user']:<10} {row['action']:<7} "
                   f"{history_value('to', row['cluster']):>5}  {args}{undone}")
    click.echo(f"{history.decisions} in force")


def _index(db):
    from vindex.index import Index

    return Index(db)


@click.command()
@click.argument("cluster_id_text", metavar="ID")
@click.argument("name")
@db_option
@json_option
@wait_option
def rename(cluster_id_text, name, db, as_json, wait):
    """Name cluster ID (kept by later `vindex cluster` runs while the cluster keeps its id)."""
    emit(_index(db).rename_cluster(cluster_id(cluster_id_text), name, wait=wait), as_json, print_step)


@click.command()
@click.argument("cluster_id_text", metavar="ID")
@click.argument("others", nargs=-1, required=True, metavar="OTHER...")
@db_option
@json_option
@wait_option
def merge(cluster_id_text, others, db, as_json, wait):
    """Merge the clusters OTHER... into cluster ID, which keeps its id and name."""
    emit(_index(db).merge_clusters(cluster_id(cluster_id_text), [cluster_id(other) for other in others], wait=wait),
         as_json, print_step)


@click.command()
@click.argument("videos", nargs=-1, required=True, metavar="VIDEO...")
@click.option("--to", "to", required=True, metavar="ID|noise", help="The cluster to move them to, or `noise`.")
@db_option
@json_option
@wait_option
def move(videos, to, db, as_json, wait):
    """Move videos (paths relative to the root, real paths or video ids) to a cluster or the noise,
    and pin them there: re-fits and `vindex add` leave them where you put them."""
    emit(_index(db).move_videos(list(videos), cluster_id(to, noise=True), wait=wait), as_json, print_step)


@click.command()
@click.argument("cluster_id_text", metavar="ID")
@click.option("--min-size", type=click.IntRange(min=2), default=None,
              help="Smallest part (HDBSCAN min_cluster_size). Default: the fit's, at most half the cluster.")
@db_option
@json_option
@wait_option
def split(cluster_id_text, min_size, db, as_json, wait):
    """Re-cluster only cluster ID's videos; the largest part keeps the id, the others get new ones."""
    emit(_index(db).split_cluster(cluster_id(cluster_id_text), min_size, wait=wait), as_json, print_step)


@click.command()
@db_option
@json_option
@wait_option
def undo(db, as_json, wait):
    """Undo the latest curation step (made since the latest fit)."""
    emit(_index(db).undo_curation(wait=wait), as_json, print_step)


@click.command()
@db_option
@json_option
def history(db, as_json):
    """Every curation decision: who made it, what, when, and whether it was undone."""
    emit(_index(db).curation_history(), as_json, print_history)


def register_curation(group: click.Group) -> None:
    for command in (rename, merge, move, split, undo, history):
        group.add_command(command)

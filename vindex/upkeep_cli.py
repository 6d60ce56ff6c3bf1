"""`vindex optimize` and `vindex check`: keeping the index itself in shape."""

from __future__ import annotations

import sys

import click

from vindex.options import db_option, json_option, wait_option
from vindex.output import emit, print_check, print_optimize


@click.command()
@click.option("--rebuild", is_flag=True, help="Retrain existing ANN indexes from scratch.")
@db_option
@json_option
@wait_option
def optimize(rebuild, db, as_json, wait):
    """Compact the index and build the ANN indexes its size calls for.

    `vindex add` does this on its own; run it after large changes, or with --rebuild to
    retrain the vector indexes.
    """
    from vindex.index import Index

    emit(Index(db).optimize(rebuild=rebuild, wait=wait), as_json, print_optimize)


@click.command()
@click.option("--repair", is_flag=True,
              help="Fix what can be fixed (restore a damaged table's last good version, drop orphan and duplicate "
                   "rows, re-queue videos with wrong frames for the next add). Never deletes a video file.")
@db_option
@wait_option
@json_option
def check(repair, db, as_json, wait):
    """Verify the index: every video has its frames and only those, no duplicate or orphan rows,
    vector sizes match the model, files are on disk, tables read at their latest version.

    Exits 1 with the list of problems when there is one.
    """
    from vindex.index import Index

    result = Index(db).check(repair=repair, wait=wait)
    emit(result, as_json, print_check)
    if not result.ok:
        sys.exit(1)

"""`vindex serve`: the local web app over the index (vindex/serve/; docs/serve.md, docs/security.md)."""

from __future__ import annotations

import click

from vindex import defaults
from vindex.options import db_option, device_options, quiet_option
from vindex.output import status_printer


@click.command()
@db_option
@click.option("--host", default=defaults.SERVE_HOST, show_default=True,
              help="Address to listen on. Anything but loopback needs --token: the videos would be on the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=defaults.SERVE_PORT, show_default=True,
              help="Port to listen on (0 picks a free one).")
@click.option("--token", envvar="VINDEX_TOKEN", show_envvar=True, default=None, metavar="SECRET",
              help="Require this token on every request (the printed address carries it).")
@click.option("--allow-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Also answer to requests for this host name (a reverse proxy's); repeatable. The app answers "
                   "only to its own address and localhost, so another site's page cannot reach it by DNS tricks.")
@click.option("--open", "open_browser", is_flag=True, help="Open the app in the default browser.")
@device_options
@quiet_option
def serve(db, host, port, token, allowed_hosts, open_browser, device, precision, quiet):
    """Browse the index in a web browser: search, clusters, duplicates, organise.

    The model is loaded once; the pages see what `vindex add` and `vindex cluster` write while
    the server runs. Videos and thumbnails are served by id only. The pages can correct the
    clusters (rename, merge, move, split, undo, a new min size) and apply or undo an organise,
    as the commands do; only the app's own pages may upload or change anything (docs/security.md).
    """
    from vindex.serve.server import run

    run(db, host, port, token, open_browser, device, precision, status_printer(quiet), allowed_hosts=allowed_hosts)

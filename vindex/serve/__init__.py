"""`vindex serve`: a local web app over one index (search, clusters, duplicates, organise preview,
info) with a JSON API under /api/ in the shapes of the CLI's --json. Media are served by video id
only. See docs/serve.md."""

from __future__ import annotations

from vindex.serve.server import run

__all__ = ["run"]

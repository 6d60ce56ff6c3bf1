"""`vindex serve`: a local web app over one index (search, clusters, duplicates, organise preview,
info) with a JSON API under /api/ in the shapes of the CLI's --json. Media are served by video id
only. See docs/serve.md."""

from __future__ import annotations

# `vindex.serve.server.run` starts it. Nothing is imported here: a query the CLI asks a running
# server (`vindex.served_query`) reads `vindex.serve.handoff` only.

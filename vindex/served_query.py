"""`vindex query` and `vindex similar` answered by the running `vindex serve` of the same index.

A cold query spends most of its time importing LanceDB and loading the model; a server holds both
already. The server leaves `serve.json` in the index folder (`vindex.serve.handoff`); this asks its
`/api/query` (`/api/similar`) with the same parameters and hands back the same `QueryResult`, printed by the same
code. Any doubt (no file, a dead process, a refused or slow connection, another index, an answer of
another shape) gives None, and the CLI answers by itself. `VINDEX_NO_SERVER=1` always answers locally.
Nothing heavy is imported here: the point is to stay cold-cheap.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from vindex.hits import QueryResult

TIMEOUT_SECONDS = 2.0
MAX_LIMIT = 500  # the server's most hits a request (vindex.serve.params.MAX_LIMIT): more is answered locally
log = logging.getLogger(__name__)


@dataclass
class ServedResult(QueryResult):
    """A `QueryResult` that a server gave; `served_by` (its address) says so in --json."""

    served_by: str = ""


def served_query(db: str | None, text: str, limit: int, by: str, channels: tuple[str, ...],
                 min_score: float | None, moments: bool) -> ServedResult | None:
    """The server's answer to `vindex query TEXT`, or None when the CLI should answer by itself."""
    return ask(db, "/api/query", [("q", text), *search_parameters(limit, by, channels, min_score, moments)])


def served_similar(db: str | None, file: str, limit: int, by: str, channels: tuple[str, ...],
                   min_score: float | None, moments: bool) -> ServedResult | None:
    """The server's answer to `vindex similar FILE` (it takes only a file under the index root), or None."""
    path = os.path.abspath(os.path.expanduser(file))
    answer = ask(db, "/api/similar", [("path", path), *search_parameters(limit, by, channels, min_score, moments)])
    if answer is not None:
        answer.query = file  # the label the local answer gives: the file as it was named
    return answer


def search_parameters(limit: int, by: str, channels: tuple[str, ...], min_score: float | None,
                      moments: bool) -> list[tuple[str, object]]:
    asked = [("limit", limit), ("by", by), *(("channel", channel) for channel in channels)]
    asked += [("min_score", repr(min_score))] if min_score is not None else []
    return asked + ([("moments", "1")] if moments else [])


def ask(db: str | None, route: str, asked: list[tuple[str, object]]) -> ServedResult | None:
    """GET `route` with `asked` from the server of the index at `db`; None on any doubt."""
    if os.environ.get("VINDEX_NO_SERVER", "") not in ("", "0") or dict(asked)["limit"] > MAX_LIMIT:
        return None
    import http.client
    import json
    from urllib.parse import unquote, urlencode

    from vindex.errors import VindexError
    from vindex.locations import resolve_db
    from vindex.serve import handoff

    try:
        uri = resolve_db(db)
    except VindexError:
        return None
    facts = handoff.read(uri) if "://" not in uri else None
    if facts is None or facts["uri"] != uri:
        return None
    host = facts["host"]
    address = f"[{host}]:{facts['port']}" if ":" in host else f"{host}:{facts['port']}"
    try:
        connection = http.client.HTTPConnection(host, facts["port"], timeout=TIMEOUT_SECONDS)
        try:
            connection.request("GET", f"{route}?{urlencode(asked)}",
                               headers={"Authorization": f"Bearer {facts['secret']}", "Accept": "application/json"})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise ValueError(f"status {response.status}")
        if unquote(response.getheader("X-Vindex-Index") or "") != uri:  # vindex.serve.app.INDEX_HEADER
            raise ValueError("it serves another index")
        return ServedResult.from_dict(json.loads(body), served_by=address)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, http.client.HTTPException) as error:
        log.debug("asked the server at %s, answering locally instead: %s", address, error)
        return None

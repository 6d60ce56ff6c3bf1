"""`INDEX/serve.json`: how a `vindex query` finds the running `vindex serve` of its index.

While it runs, `vindex serve` keeps in the index folder the address it answers on, its pid, the
index it serves and a random secret of this run, in a file only its user can read (0600), written
atomically and removed on a clean stop. The CLI sends the secret as `Authorization: Bearer`; with
`--token` it opens the read API (GET, HEAD) and nothing else (docs/security.md). A file whose
process is gone, whose address refuses, or whose server answers for another index is stale, and
nothing in it is trusted. Standard library only: the CLI reads it before any heavy import.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

FILE_NAME = "serve.json"
FIELDS = {"host": str, "port": int, "pid": int, "uri": str, "secret": str}


def connect_host(host: str) -> str:
    """The address a client on this machine connects to for a server listening on `host`."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def write(folder: str | Path, host: str, port: int, uri: str, secret: str) -> Path:
    """Write the file for this process, holding `secret`, into `folder`; returns its path."""
    path = Path(folder) / FILE_NAME
    facts = {"host": connect_host(host), "port": port, "pid": os.getpid(), "uri": uri, "secret": secret}
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(handle, "w") as out:
            os.fchmod(out.fileno(), 0o600)  # whatever the umask, or a file left by an earlier run
            json.dump(facts, out)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def remove(path: Path, secret: str) -> None:
    """Remove the file if it is still this run's (another server of the index may have replaced it)."""
    if (read(path.parent) or {}).get("secret") == secret:
        path.unlink(missing_ok=True)


def read(folder: str | Path) -> dict | None:
    """The file's facts when it is well-formed and its process is alive; None otherwise."""
    try:
        with open(Path(folder) / FILE_NAME, encoding="utf-8") as handle:
            facts = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(facts, dict) or any(type(facts.get(key)) is not kind for key, kind in FIELDS.items()):
        return None
    if facts["pid"] <= 0:  # 0 and negatives name process groups, not a server
        return None
    try:
        os.kill(facts["pid"], 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's: the address and the answer are checked anyway
        pass
    except (OverflowError, OSError):
        return None
    return facts

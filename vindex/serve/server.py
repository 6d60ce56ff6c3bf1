"""`vindex serve`: check the address, open the index, load the model, run uvicorn."""

from __future__ import annotations

import ipaddress
import signal
import socket
import sys
import threading
import webbrowser
from pathlib import Path
from urllib.parse import quote

from vindex.defaults import PRECISION, SERVE_HOST, SERVE_PORT
from vindex.errors import VindexError, os_reason
from vindex.locations import is_remote
from vindex.serve import handoff
from vindex.results import StatusHook


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything slow happens so a taken port fails at once."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP named, not 0: asyncio turns Nagle off only on sockets that say TCP, and with it on a
        # kept-alive connection waits out the client's delayed ACK (40 ms a request).
        listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        # Listening now, not when uvicorn starts, queues the connections of a client that read the
        # printed address first instead of refusing them.
        listener.listen(128)
    except OSError as error:
        raise VindexError(f"cannot listen on {host}:{port}: {os_reason(error)} (pick another --port)") from None
    except (UnicodeError, OverflowError) as error:
        raise VindexError(f"{host!r} is not an address to listen on: {error}") from None
    return listener


def run(db: str | None = None, host: str = SERVE_HOST, port: int = SERVE_PORT, token: str | None = None,
        open_browser: bool = False, device: str | None = None, precision: str = PRECISION,
        status: StatusHook | None = None, allowed_hosts: tuple[str, ...] = ()) -> None:
    """Serve the index at `db` until interrupted. Another host than loopback needs `token`; the app
    answers only to requests that name `host` (or localhost, or one of `allowed_hosts`)."""
    import uvicorn

    from vindex.serve.app import create_app
    from vindex.serve.library import Library

    say = status or (lambda message: None)
    if not is_loopback(host):
        if not token:
            raise VindexError(f"listening on {host} lets anyone who can reach this machine see the videos: "
                              "pass --token SECRET (or set VINDEX_TOKEN) to require it")
        print(f"warning: listening on {host}: anyone on the network who has the token can see the videos",
              file=sys.stderr)
    listener = bind(host, port)
    library = Library(db, device=device, precision=precision)
    if library.index.meta.has_model:
        say("loading the model")
        # One real query now loads the model and opens the tables, so the first user's is as fast as the next.
        library.index.query("a video", limit=1)
    port = listener.getsockname()[1]
    secret = handoff.new_secret()
    app = create_app(library, token, host=host, port=port, allowed_hosts=tuple(allowed_hosts), handoff_secret=secret)
    shown_host = f"[{host}]" if ":" in host else host
    # The token is printed here only: the app trades it for a session and a clean address at once.
    url = f"http://{shown_host}:{port}/" + (f"?token={quote(token, safe='')}" if token else "")
    # No access log: it would write every address asked for, the one with ?token= included. No proxy
    # headers: a session holds from the client address that opened it, which X-Forwarded-For must not fake.
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", server_header=False,
                            proxy_headers=False)
    found_by = None if is_remote(library.uri) else write_handoff(library.uri, host, port, secret)
    if threading.current_thread() is threading.main_thread():
        # uvicorn stops on SIGTERM, then raises it again; as SystemExit, the `finally` below still runs.
        signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    try:
        print(f"vindex serve: {url}  (index {library.uri}; Ctrl-C to stop)", flush=True)
        if open_browser:
            threading.Timer(0.5, webbrowser.open, (url,)).start()
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        if found_by:
            handoff.remove(found_by, secret)


def write_handoff(folder: str, host: str, port: int, secret: str) -> Path | None:
    """`serve.json` in the index folder, so `vindex query` asks this server; a folder that cannot
    take it (read-only) only means the CLI answers by itself."""
    try:
        return handoff.write(folder, host, port, folder, secret)
    except OSError as error:
        print(f"note: cannot write {handoff.FILE_NAME} in {folder} ({os_reason(error)}): `vindex query` "
              "will not use this server", file=sys.stderr)
        return None

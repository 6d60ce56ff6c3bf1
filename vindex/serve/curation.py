"""The web app's write actions: curate clusters (rename, merge, move, split, undo), retune with a
preview, and apply or undo an organisation with progress.

Every route here is a POST with a JSON body. Being POSTs, they sit behind `guard.OriginGuard`
like every write of the app: the request must come from this server's own origin and carry its
CSRF token in `X-Vindex-CSRF` (the pages put it in `<meta name="vindex-csrf">`), see
docs/security.md. `guarded` adds that the body must be `Content-Type: application/json` (which a
cross-site form cannot send without a preflight). They call the same `Index` methods as the CLI,
which take the writer lock.
"""

from __future__ import annotations

import json
import threading
from typing import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vindex.defaults import NOISE_POLICIES, NOISE_POLICY, ORGANIZE_MODES
from vindex.errors import VindexError, first_line
from vindex.serve import params
from vindex.serve.library import Library

CSRF_HEADER = "x-vindex-csrf"
MAX_BODY_BYTES = 1 << 20  # a move of thousands of video ids fits; more is a mistake


class Forbidden(Exception):
    pass


def parse_body(request_body: bytes) -> dict:
    if len(request_body) > MAX_BODY_BYTES:
        raise params.BadRequest("the request body is too large")
    try:
        body = json.loads(request_body or b"{}")
    except ValueError:
        raise params.BadRequest("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise params.BadRequest("the request body must be a JSON object")
    return body


def check_request(request: Request) -> None:
    """Refuse a body that is not JSON; Host, Origin and the CSRF token are checked before this, by
    the app's guard, for every write."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise Forbidden("write requests must be JSON (Content-Type: application/json)")


def integer(body: dict, name: str, minimum: int | None = None, required: bool = True) -> int | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        raise params.BadRequest(f"{name} must be a whole number" + (f" of at least {minimum}" if minimum else ""))
    return value


def integers(body: dict, name: str) -> list[int]:
    values = body.get(name)
    if not isinstance(values, list) or not values or not all(isinstance(v, int) and not isinstance(v, bool)
                                                              for v in values):
        raise params.BadRequest(f"{name} must be a list of whole numbers")
    return values


class Jobs:
    """One long write at a time (apply or undo an organisation), its progress read by polling."""

    def __init__(self):
        self._lock = threading.Lock()
        self.state: dict = {"state": "idle"}

    def start(self, action: str, work: Callable[[Callable], object]) -> dict:
        with self._lock:
            if self.state.get("state") == "running":
                raise params.BadRequest(f"{self.state['action']} is still running")
            self.state = {"state": "running", "action": action, "done": 0, "total": 0, "label": ""}

        def progress(label: str, done: int, total: int) -> None:
            self.state.update(label=label, done=done, total=total)

        def run() -> None:
            try:
                result = work(progress)
                self.state.update(state="done", result=result.to_dict() if hasattr(result, "to_dict") else result)
            except Exception as error:  # shown in the page as one line; the library left nothing half-done
                self.state.update(state="failed", error=first_line(error))

        threading.Thread(target=run, name=f"vindex-{action}", daemon=True).start()
        return dict(self.state)


def curation_routes(library: Library) -> list[Route]:
    """The write routes (POST + JSON; the app's guard checks their origin and CSRF token)."""
    from vindex.clustering import ClusterParams

    jobs = Jobs()

    def guarded(work: Callable[[dict], object]) -> Callable:
        async def endpoint(request: Request) -> Response:
            try:
                check_request(request)
                body = parse_body(await request.body())
                result = await run_in_threadpool(work, body)
                return JSONResponse(result.to_dict() if hasattr(result, "to_dict") else result)
            except Forbidden as error:
                return JSONResponse({"error": str(error)}, status_code=403)
            except (params.BadRequest, VindexError) as error:
                return JSONResponse({"error": first_line(error)}, status_code=400)

        return endpoint

    def index():
        return library.current()

    def retune_params(body: dict) -> ClusterParams:
        run = index().meta.clustering or {}
        known = {name: run[name] for name in ("neighbors", "components", "metric", "seed", "channel") if name in run}
        return ClusterParams(min_size=integer(body, "min_size", 2),
                             min_samples=integer(body, "min_samples", 1, required=False), **known)

    def organize_options(body: dict) -> tuple:
        from vindex.serve.views import default_dest

        mode, noise = body.get("mode", "move"), body.get("noise", NOISE_POLICY)
        if mode not in ORGANIZE_MODES or noise not in NOISE_POLICIES:
            raise params.BadRequest("unknown mode or noise policy")
        dest = body.get("dest") or default_dest(library)
        if not isinstance(dest, str):
            raise params.BadRequest("dest must be a folder path")
        return dest, mode, noise, bool(body.get("keep_channel"))

    def text(body: dict, name: str) -> str:
        value = body.get(name)
        if not isinstance(value, str):
            raise params.BadRequest(f"{name} must be text")
        return value

    def videos(body: dict) -> list[str]:
        found = body.get("videos")
        if not isinstance(found, list) or not found or not all(isinstance(v, str) for v in found):
            raise params.BadRequest("videos must be a list of video ids")
        return found

    routes = {
        "rename": lambda body: index().rename_cluster(integer(body, "cluster", 0), text(body, "name")),
        "merge": lambda body: index().merge_clusters(integer(body, "cluster", 0), integers(body, "others")),
        "move": lambda body: index().move_videos(videos(body), integer(body, "to", -1)),
        "split": lambda body: index().split_cluster(integer(body, "cluster", 0),
                                                    integer(body, "min_size", 2, required=False)),
        "undo": lambda body: index().undo_curation(),
        "retune-preview": lambda body: index().retune_preview(retune_params(body)),
        "retune": lambda body: index().cluster(retune_params(body), retune=True),
        "organize-apply": lambda body: jobs.start("organize", lambda hook: index().organize_apply(
            *organize_options(body), progress=hook)),
        "organize-undo": lambda body: jobs.start("undo", lambda hook: index().organize_undo(progress=hook)),
        "progress": lambda body: dict(jobs.state),
        "settings": lambda body: {name: (index().meta.clustering or {}).get(name)
                                  for name in ("min_size", "min_samples")},
    }
    return [Route(f"/api/curate/{name}", guarded(work), methods=["POST"]) for name, work in routes.items()]

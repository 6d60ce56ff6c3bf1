"""The Starlette application: JSON under /api/, media by video id under /media/, pages elsewhere.

Every handler does blocking work (LanceDB, the model, decoding), so it runs in the thread pool;
errors a user can act on become 400 (bad parameters, `VindexError`, a file that cannot be read) or
404 (unknown ids) with a one-line message, never a 500 with a traceback. Who may ask at all is
decided before any handler runs, by the middlewares of `guard` (docs/security.md).
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from vindex.defaults import (
    DUPLICATE_MODE, DUPLICATE_MODES, NOISE_POLICIES, NOISE_POLICY, ORGANIZE_MODES, SERVE_HOST, SERVE_PORT,
    SERVE_THUMBNAIL_CACHE_MIB, SERVE_UPLOAD_MAX_MIB, SERVE_UPLOADS_AT_ONCE,
)
from vindex.errors import VindexError, first_line, os_reason
from vindex.serve import guard, params, views
from vindex.serve.curation import curation_routes
from vindex.serve.library import Library
from vindex.serve.media import (
    PLACEHOLDER, THUMBNAIL_WIDTH, ThumbnailCache, is_readable_file, thumbnail_bytes, video_type,
)
from vindex.serve.pages import page_routes

STATIC = Path(__file__).parent / "static"
INDEX_HEADER = "X-Vindex-Index"
# Thumbnails are named by the video's content and the moment, so a cached one never goes stale.
THUMBNAIL_CACHE_CONTROL = "private, max-age=604800, immutable"


def create_app(library: Library, token: str | None = None,
               cache_bytes: int = SERVE_THUMBNAIL_CACHE_MIB << 20, host: str = SERVE_HOST, port: int = SERVE_PORT,
               allowed_hosts: tuple[str, ...] = (), upload_limit: Uploading | None = None,
               handoff_secret: str | None = None) -> Starlette:
    """The web app over `library`, answering only to `host`:`port`, localhost and `allowed_hosts`;
    with `token`, every route asks for it, and `handoff_secret` (serve.json's) opens the read API
    (docs/security.md)."""
    thumbnails = ThumbnailCache(library.thumbnail_folder(), cache_bytes)
    uploads = views.Uploads()
    csrf_token = guard.new_csrf_token()
    routes = [
        *api_routes(library, uploads, upload_limit or Uploading()),
        Route("/api/csrf", lambda request: JSONResponse({"csrf": csrf_token, "header": guard.CSRF_HEADER})),
        *curation_routes(library),  # every write action: POST + JSON, behind the guard's Origin and CSRF checks
        Route("/media/video/{video_id}", functools.partial(video, library)),
        Route("/media/thumb/{video_id}", functools.partial(thumbnail, library, thumbnails)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *page_routes(library, uploads),
    ]
    app = Starlette(routes=routes)
    app.state.library, app.state.thumbnails, app.state.csrf_token = library, thumbnails, csrf_token
    # Added innermost first: a request meets the headers, then the Host check, the token, the origin.
    app.add_middleware(guard.OriginGuard, csrf_token=csrf_token)
    if token:
        app.add_middleware(guard.TokenGuard, token=token, port=port, read_secret=handoff_secret)
    app.add_middleware(guard.HostCheck, allowlist=guard.HostAllowlist(host, port, allowed_hosts))
    app.add_middleware(guard.SecurityHeaders)
    return app


class Uploading:
    """How many dropped files are searched at once, and how large one may be."""

    def __init__(self, at_once: int = SERVE_UPLOADS_AT_ONCE, max_bytes: int = SERVE_UPLOAD_MAX_MIB << 20):
        self.at_once, self.max_bytes, self.running = at_once, max_bytes, 0

    def too_large(self) -> Response:
        message = f"the file is larger than {self.max_bytes >> 20} MiB, the most a dropped file may be"
        return JSONResponse({"error": message}, status_code=413)


def json_route(work: Callable[[Request], object], headers: dict[str, str] | None = None) -> Callable:
    """A JSON endpoint around `work(request)` (run in the thread pool), with errors as 400/404."""

    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await run_in_threadpool(work, request), headers=headers)
        except (params.BadRequest, VindexError) as error:
            return JSONResponse({"error": first_line(error)}, status_code=400)
        except views.NotFound as error:
            return JSONResponse({"error": first_line(error)}, status_code=404)
        except OSError as error:  # a file of the index that cannot be read now
            return JSONResponse({"error": f"cannot read a file: {os_reason(error)}"}, status_code=400)

    return endpoint


def api_routes(library: Library, uploads: views.Uploads, limit: Uploading) -> list[Route]:
    def query(request: Request):
        return views.query(library, params.text(request.query_params, "q", required=True),
                           **params.search_options(request.query_params),
                           moments=params.flag(request.query_params, "moments"))

    def similar_to_video(request: Request):
        return views.similar_to_video(library, request.path_params["video_id"],
                                      **params.search_options(request.query_params),
                                      at=params.number(request.query_params, "t", None, 0.0, 1e7),
                                      moments=params.flag(request.query_params, "moments"))

    def similar_to_path(request: Request):
        path = views.path_under_root(library, params.text(request.query_params, "path", required=True))
        return views.similar_to_path(library, path, **params.search_options(request.query_params),
                                     moments=params.flag(request.query_params, "moments"))

    def cluster(request: Request):
        return views.cluster_page(library, views.cluster_id(request.path_params["cluster_id"]),
                                  params.integer(request.query_params, "page", 1, 1))

    def dupes(request: Request):
        found = request.query_params
        return views.duplicates(library, params.choice(found, "mode", DUPLICATE_MODES, DUPLICATE_MODE),
                                params.number(found, "threshold", None, 0.01, 1.0), tuple(found.getlist("channel")))

    def organize(request: Request):
        found = request.query_params
        dest = views.dest_beside_root(library, params.text(found, "dest") or views.default_dest(library))
        return views.organize_plan(library, dest, params.choice(found, "mode", ORGANIZE_MODES, "move"),
                                   params.choice(found, "noise", NOISE_POLICIES, NOISE_POLICY),
                                   params.flag(found, "keep_channel"))

    async def upload(request: Request) -> Response:
        """POST a video as the body: the videos like it (it is embedded, not added)."""
        if limit.running >= limit.at_once:
            return JSONResponse({"error": f"{limit.at_once} dropped files are being searched already: try again when "
                                          "they are done"}, status_code=429)
        limit.running += 1  # one event loop: no other request runs between the check and this
        try:
            options = params.search_options(request.query_params)
            name = params.text(request.query_params, "name")
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit.max_bytes:
                return limit.too_large()
            suffix = Path(name).suffix if Path(name).suffix[1:].isalnum() else ""  # a hint for the demuxer
            handle, temporary = tempfile.mkstemp(prefix="vindex-upload-", suffix=suffix)
            try:
                with os.fdopen(handle, "wb") as out:
                    async for chunk in request.stream():
                        if out.tell() + len(chunk) > limit.max_bytes:
                            return limit.too_large()
                        out.write(chunk)
                    if not out.tell():
                        raise params.BadRequest("the upload is empty: send the video file as the request body")
                try:
                    result = await run_in_threadpool(uploads.search, library, temporary, name, **options)
                except VindexError as error:  # speak of the file the user dropped, not the server's copy of it
                    raise VindexError(str(error).replace(temporary, name or "the dropped file")) from None
            finally:
                os.unlink(temporary)
            return JSONResponse(result)
        except (params.BadRequest, VindexError) as error:
            return JSONResponse({"error": first_line(error)}, status_code=400)
        except OSError as error:
            return JSONResponse({"error": f"cannot keep the dropped file: {os_reason(error)}"}, status_code=400)
        except ClientDisconnect:  # the page went away mid-upload: nobody to answer, nothing to log
            return Response(status_code=400)
        finally:
            limit.running -= 1

    # Which index answers: `vindex query` and `similar` (vindex.served_query) ask only the server of their own.
    identity = {INDEX_HEADER: quote(library.uri, safe="/:")}
    return [
        Route("/api/query", json_route(query, identity)),
        Route("/api/similar/{video_id}", json_route(similar_to_video)),
        Route("/api/similar", json_route(similar_to_path, identity)),
        Route("/api/similar", upload, methods=["POST"]),
        Route("/api/clusters", json_route(lambda request: views.clusters(library))),
        Route("/api/clusters/{cluster_id}", json_route(cluster)),
        Route("/api/map", json_route(lambda request: library.map_points())),
        Route("/api/dupes", json_route(dupes)),
        Route("/api/organize", json_route(organize)),
        Route("/api/info", json_route(lambda request: views.info(library))),
    ]


# -- media ----------------------------------------------------------------------------------------
def not_found(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=404)


async def video(library: Library, request: Request) -> Response:
    """The video file of an indexed id, with Range support (206) so the browser can seek."""
    row = await run_in_threadpool(library.video, request.path_params["video_id"])
    if row is None:
        return not_found("no such video in the index")
    file = library.file_of(row)
    if not is_readable_file(file):
        return not_found(f"the file {row['path']} is missing (moved or deleted since it was indexed)")
    return FileResponse(file, media_type=video_type(file), headers={"Cache-Control": "no-cache"})


async def thumbnail(library: Library, thumbnails: ThumbnailCache, request: Request) -> Response:
    """A JPEG of the frame at ?t= seconds (default: the middle); a placeholder for a missing file."""
    try:
        found = request.query_params
        timestamp = params.number(found, "t", None, 0.0, 1e7)
        width = params.integer(found, "w", THUMBNAIL_WIDTH, 32, 1280)
    except params.BadRequest as error:
        return PlainTextResponse(str(error), status_code=400)
    row = await run_in_threadpool(library.video, request.path_params["video_id"])
    if row is None:
        return not_found("no such video in the index")
    if timestamp is None:
        timestamp = (row["duration"] or 0.0) / 2
    data, key = await run_in_threadpool(thumbnail_bytes, thumbnails, row, library.file_of(row), timestamp, width)
    if key is None:
        return Response(PLACEHOLDER, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
    etag = f'"{key}"'
    headers = {"ETag": etag, "Cache-Control": THUMBNAIL_CACHE_CONTROL}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="image/jpeg", headers=headers)

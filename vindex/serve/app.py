"""The Starlette application: JSON under /api/, media by video id under /media/, pages elsewhere.

Every handler does blocking work (LanceDB, the model, decoding), so it runs in the thread pool;
errors a user can act on become 400 (bad parameters, `VindexError`) or 404 (unknown ids) with a
one-line message, never a 500 with a traceback.
"""

from __future__ import annotations

import functools
import hmac
import os
import tempfile
from pathlib import Path
from typing import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from vindex.defaults import (
    DUPLICATE_MODE, DUPLICATE_MODES, NOISE_POLICIES, NOISE_POLICY, ORGANIZE_MODES, SERVE_THUMBNAIL_CACHE_MIB,
)
from vindex.errors import VindexError, first_line
from vindex.serve import params, views
from vindex.serve.library import Library
from vindex.serve.media import PLACEHOLDER, THUMBNAIL_WIDTH, ThumbnailCache, thumbnail_bytes, video_type
from vindex.serve.pages import page_routes

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 2 << 30  # a dropped file is decoded, so any real video fits; more is a mistake
TOKEN_COOKIE = "vindex_token"
# Thumbnails are named by the video's content and the moment, so a cached one never goes stale.
THUMBNAIL_CACHE_CONTROL = "private, max-age=604800, immutable"


def create_app(library: Library, token: str | None = None,
               cache_bytes: int = SERVE_THUMBNAIL_CACHE_MIB << 20) -> Starlette:
    """The web app over `library`; with `token`, every route asks for it (header, cookie or ?token=)."""
    thumbnails = ThumbnailCache(library.thumbnail_folder(), cache_bytes)
    uploads = views.Uploads()
    routes = [
        *api_routes(library, uploads),
        Route("/media/video/{video_id}", functools.partial(video, library)),
        Route("/media/thumb/{video_id}", functools.partial(thumbnail, library, thumbnails)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *page_routes(library, uploads),
    ]
    app = Starlette(routes=routes)
    app.state.library, app.state.thumbnails = library, thumbnails
    if token:
        app.add_middleware(TokenGuard, token=token)
    return app


def json_route(work: Callable[[Request], object]) -> Callable:
    """A JSON endpoint around `work(request)` (run in the thread pool), with errors as 400/404."""

    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await run_in_threadpool(work, request))
        except (params.BadRequest, VindexError) as error:
            return JSONResponse({"error": first_line(error)}, status_code=400)
        except views.NotFound as error:
            return JSONResponse({"error": first_line(error)}, status_code=404)

    return endpoint


def api_routes(library: Library, uploads: views.Uploads) -> list[Route]:
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
        return views.similar_to_path(library, params.text(request.query_params, "path", required=True),
                                     **params.search_options(request.query_params))

    def cluster(request: Request):
        return views.cluster_page(library, views.cluster_id(request.path_params["cluster_id"]),
                                  params.integer(request.query_params, "page", 1, 1))

    def dupes(request: Request):
        found = request.query_params
        return views.duplicates(library, params.choice(found, "mode", DUPLICATE_MODES, DUPLICATE_MODE),
                                params.number(found, "threshold", None, 0.01, 1.0), tuple(found.getlist("channel")))

    def organize(request: Request):
        found = request.query_params
        dest = params.text(found, "dest") or views.default_dest(library)
        return views.organize_plan(library, dest, params.choice(found, "mode", ORGANIZE_MODES, "move"),
                                   params.choice(found, "noise", NOISE_POLICIES, NOISE_POLICY),
                                   params.flag(found, "keep_channel"))

    async def upload(request: Request) -> Response:
        """POST a video as the body: the videos like it (it is embedded, not added)."""
        try:
            options = params.search_options(request.query_params)
            name = params.text(request.query_params, "name")
            suffix = Path(name).suffix if Path(name).suffix[1:].isalnum() else ""  # a hint for the demuxer
            handle, temporary = tempfile.mkstemp(prefix="vindex-upload-", suffix=suffix)
            try:
                with os.fdopen(handle, "wb") as out:
                    async for chunk in request.stream():
                        if out.tell() + len(chunk) > MAX_UPLOAD_BYTES:
                            raise params.BadRequest(f"the file is larger than {MAX_UPLOAD_BYTES >> 20} MiB")
                        out.write(chunk)
                    if not out.tell():
                        raise params.BadRequest("the upload is empty: send the video file as the request body")
                result = await run_in_threadpool(uploads.search, library, temporary, name, **options)
            finally:
                os.unlink(temporary)
            return JSONResponse(result)
        except (params.BadRequest, VindexError) as error:
            return JSONResponse({"error": first_line(error)}, status_code=400)

    return [
        Route("/api/query", json_route(query)),
        Route("/api/similar/{video_id}", json_route(similar_to_video)),
        Route("/api/similar", json_route(similar_to_path)),
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
    if file is None or not file.is_file():
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


# -- the token ------------------------------------------------------------------------------------
class TokenGuard:
    """Every request must carry the token: `Authorization: Bearer`, the cookie, or `?token=` (which
    then sets the cookie, so the page's videos and thumbnails load without it)."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        bearer = request.headers.get("authorization", "")
        from_query = request.query_params.get("token")
        offered = [bearer[7:] if bearer.lower().startswith("bearer ") else None,
                   request.cookies.get(TOKEN_COOKIE), from_query]
        if not any(value and hmac.compare_digest(value.encode(), self.token) for value in offered):
            response = PlainTextResponse("this vindex server needs its token: open the address `vindex serve` "
                                         "printed, or send Authorization: Bearer TOKEN", status_code=401)
            return await response(scope, receive, send)
        if not from_query:
            return await self.app(scope, receive, send)
        cookie = f"{TOKEN_COOKIE}={from_query}; HttpOnly; SameSite=Strict; Path=/".encode()

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), (b"set-cookie", cookie)])
            await send(message)

        return await self.app(scope, receive, send_with_cookie)

"""The HTML pages: server-rendered from the same data as the JSON routes, with a little vanilla JS
(static/app.js) for the player, the drop zone and the cluster map. No CDN: everything ships here."""

from __future__ import annotations

import functools
import json
from typing import Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from vindex.defaults import DUPLICATE_MODE, DUPLICATE_MODES, NOISE_POLICIES, NOISE_POLICY, ORGANIZE_MODES, RANK_BY
from vindex.errors import VindexError, first_line
from vindex.results import count, plural
from vindex.serve import params, views
from vindex.serve.library import Library


@functools.lru_cache(maxsize=1)
def environment():
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("vindex.serve", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["moment"] = moment
    env.filters["size"] = size
    env.filters["count"] = count
    env.filters["plural"] = plural
    env.filters["tojson_script"] = lambda value: json.dumps(value).replace("</", "<\\/")
    return env


def moment(seconds: float | None) -> str:
    """0:03.2, as the CLI shows a moment."""
    if seconds is None:
        return "-"
    minutes, rest = divmod(float(seconds), 60)
    return f"{int(minutes)}:{rest:04.1f}"


def size(count: float | None) -> str:
    if count is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return ""


def render(template: str, status: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(environment().get_template(template).render(**context), status_code=status)


def html_route(template: str, work: Callable[[Request], dict]) -> Callable:
    """A page: `work(request)` (in the thread pool) gives the template's context; errors become a
    page with the message (400 for bad input, 404 for unknown ids)."""
    from starlette.concurrency import run_in_threadpool

    async def endpoint(request: Request) -> Response:
        try:
            context = await run_in_threadpool(work, request)
        except (params.BadRequest, VindexError) as error:
            return render("error.html", 400, message=first_line(error), page=template.split(".")[0])
        except views.NotFound as error:
            return render("error.html", 404, message=first_line(error), page=template.split(".")[0])
        return render(template, **context)

    return endpoint


def page_routes(library: Library, uploads: views.Uploads) -> list[Route]:
    def search_form(request: Request) -> dict:
        found = request.query_params
        return dict(page="search", q=params.text(found, "q"), path=params.text(found, "path"),
                    options=params.search_options(found), channels=library.channels(), rank_by=RANK_BY)

    def search(request: Request) -> dict:
        context = search_form(request)
        options, upload = context["options"], params.text(request.query_params, "upload")
        result = None
        if context["q"]:
            result = views.query(library, context["q"], **options, moments=True)  # for the timelines
        elif context["path"]:
            result = views.similar_to_path(library, context["path"], **options, moments=True)
        elif upload:
            result = uploads.get(upload)
        return dict(context, result=result)

    def similar(request: Request) -> dict:
        context = search_form(request)
        at = params.number(request.query_params, "t", None, 0.0, 1e7)  # "more like this moment"
        result = views.similar_to_video(library, request.path_params["video_id"], **context["options"], at=at,
                                        moments=True)
        return dict(context, result=result, source=result["video"])

    def clusters(request: Request) -> dict:
        overview = views.clusters(library)
        names = {row["id"]: row["name"] for row in overview}
        return dict(page="clusters", clusters=overview, points=library.map_points(), names=names)

    def cluster(request: Request) -> dict:
        found = views.cluster_page(library, views.cluster_id(request.path_params["cluster_id"]),
                                   params.integer(request.query_params, "page", 1, 1))
        return dict(page="clusters", cluster=found)

    def dupes(request: Request) -> dict:
        found = request.query_params
        mode = params.choice(found, "mode", DUPLICATE_MODES, DUPLICATE_MODE)
        report = views.duplicates(library, mode, params.number(found, "threshold", None, 0.01, 1.0))
        return dict(page="dupes", modes=DUPLICATE_MODES, **report)

    def organize(request: Request) -> dict:
        found = request.query_params
        dest = params.text(found, "dest") or views.default_dest(library)
        mode = params.choice(found, "mode", ORGANIZE_MODES, "move")
        noise = params.choice(found, "noise", NOISE_POLICIES, NOISE_POLICY)
        keep_channel = params.flag(found, "keep_channel")
        return dict(page="organize", dest=dest, mode=mode, noise=noise, keep_channel=keep_channel,
                    modes=ORGANIZE_MODES, noise_policies=NOISE_POLICIES,
                    plan=views.organize_plan(library, dest, mode, noise, keep_channel))

    def info(request: Request) -> dict:
        return dict(page="info", info=views.info(library))

    return [
        Route("/", html_route("search.html", search)),
        Route("/similar/{video_id}", html_route("search.html", similar)),
        Route("/clusters", html_route("clusters.html", clusters)),
        Route("/clusters/{cluster_id}", html_route("cluster.html", cluster)),
        Route("/dupes", html_route("dupes.html", dupes)),
        Route("/organize", html_route("organize.html", organize)),
        Route("/info", html_route("info.html", info)),
    ]

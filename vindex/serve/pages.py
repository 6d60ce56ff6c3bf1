"""The HTML pages: server-rendered from the same data as the JSON routes, with a little vanilla JS
(static/app.js) for the player, the drop zone and the cluster map. No CDN: everything ships here.

Every value a template writes is escaped for HTML (autoescape) and shown with its hidden
characters visible (`visible_name`: a bidi override in a file name cannot disguise it); data for
the scripts goes in `<script type="application/json">` blocks through `script_json`. The pages
run under a CSP that allows no inline script (guard.py)."""

from __future__ import annotations

import functools
import json
from typing import Callable

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from vindex.clock import moment
from vindex.defaults import DUPLICATE_MODE, DUPLICATE_MODES, NOISE_POLICIES, NOISE_POLICY, ORGANIZE_MODES, RANK_BY
from vindex.display import visible_name
from vindex.errors import VindexError, first_line, os_reason
from vindex.results import count, plural
from vindex.serve import guard, params, views
from vindex.serve.library import Library


@functools.lru_cache(maxsize=1)
def environment():
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("vindex.serve", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, finalize=shown)
    env.filters["moment"] = moment
    env.filters["size"] = size
    env.filters["count"] = count
    env.filters["plural"] = plural
    env.filters["script_json"] = script_json
    return env


def shown(value):
    """What a template writes for `value`: text with its hidden characters made visible. Markup
    (already escaped, such as `script_json`'s output) is left as it is."""
    return visible_name(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def script_json(value) -> Markup:
    """`value` as JSON that can sit in a `<script type="application/json">` block: `<`, `>` and `&`
    are written as `\\u003c`, `\\u003e` and `\\u0026`, so no name (`<!--<script>`, `</script>`) can end
    the block or change how the HTML parser reads the rest of the page; JSON.parse reads them back."""
    text = json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def size(count: float | None) -> str:
    if count is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return ""


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    """The page, with the CSRF token that static/app.js sends back on every change (guard.py)."""
    csrf = dict(csrf_token=request.app.state.csrf_token, csrf_meta=guard.CSRF_META)
    return HTMLResponse(environment().get_template(template).render(**context, **csrf), status_code=status)


def html_route(template: str, work: Callable[[Request], dict]) -> Callable:
    """A page: `work(request)` (in the thread pool) gives the template's context; errors become a
    page with the message (400 for bad input, 404 for unknown ids)."""
    from starlette.concurrency import run_in_threadpool

    async def endpoint(request: Request) -> Response:
        try:
            context = await run_in_threadpool(work, request)
        except (params.BadRequest, VindexError) as error:
            return render(request, "error.html", 400, message=first_line(error), page=template.split(".")[0])
        except views.NotFound as error:
            return render(request, "error.html", 404, message=first_line(error), page=template.split(".")[0])
        except OSError as error:  # a file of the index that cannot be read now
            message = f"cannot read a file: {os_reason(error)}"
            return render(request, "error.html", 400, message=message, page=template.split(".")[0])
        return render(request, template, **context)

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
            result = views.similar_to_path(library, views.path_under_root(library, context["path"]), **options, moments=True)
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
        # The map's script shows these with textContent, so they are made visible here.
        names = {row["id"]: visible_name(row["name"]) for row in overview}
        points = [dict(point, path=visible_name(point["path"])) for point in library.map_points()]
        return dict(page="clusters", clusters=overview, points=points, names=names)

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
        dest = views.dest_beside_root(library, params.text(found, "dest") or views.default_dest(library))
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

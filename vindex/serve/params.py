"""Query-string parsing: a bad value is a `BadRequest` (400) whose message says what was wrong."""

from __future__ import annotations

import math

from starlette.datastructures import QueryParams

from vindex.defaults import LIMIT, RANK, RANK_BY

MAX_LIMIT = 500  # hits per request: a page of thumbnails, not a dump of the index


class BadRequest(Exception):
    """A query parameter that cannot be used; the message goes back to the client."""


def converted(params: QueryParams, name: str, convert: type, kind: str):
    """The parameter `name` through `convert`, None when absent or empty."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return convert(raw)
    except ValueError:
        raise BadRequest(f"{name} must be {kind}, not {raw!r}") from None


def integer(params: QueryParams, name: str, default: int, low: int, high: int | None = None) -> int:
    value = converted(params, name, int, "a whole number")
    if value is None:
        return default
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadRequest(f"{name} must be {bounds}, not {value}")
    return value


def number(params: QueryParams, name: str, default: float | None, low: float, high: float) -> float | None:
    value = converted(params, name, float, "a number")
    if value is None:
        return default
    if not math.isfinite(value) or not low <= value <= high:
        raise BadRequest(f"{name} must be between {low:g} and {high:g}, not {params.get(name)}")
    return value


def choice(params: QueryParams, name: str, options: tuple[str, ...], default: str) -> str:
    value = params.get(name) or default
    if value not in options:
        raise BadRequest(f"{name} must be one of {', '.join(options)}, not {value!r}")
    return value


def flag(params: QueryParams, name: str) -> bool:
    raw = (params.get(name) or "").lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise BadRequest(f"{name} is a yes/no flag (1 or 0), not {raw!r}")


def text(params: QueryParams, name: str, required: bool = False) -> str:
    value = (params.get(name) or "").strip()
    if required and not value:
        raise BadRequest(f"{name} is required")
    if "\0" in value:
        raise BadRequest(f"{name} holds a NUL character")
    return value


def search_options(params: QueryParams) -> dict:
    """limit, by, channels, min_score and folder, as the search routes and pages take them."""
    return dict(
        limit=integer(params, "limit", LIMIT, 1, MAX_LIMIT),
        by=choice(params, "by", RANK_BY, RANK),
        channels=tuple(channel for channel in params.getlist("channel") if channel),
        min_score=number(params, "min_score", None, -1.0, 1.0),
        folder=text(params, "folder").strip("/"),
    )

"""The engines `vindex add --engine` names, each a `JobRunner` class taking (settings, address).

A new way to run `add` is one class implementing `JobRunner` and one line in `RUNNERS`.
"""

from __future__ import annotations

from vindex.defaults import ENGINES
from vindex.errors import VindexError
from vindex.indexing.ray_runner import RayRunner
from vindex.indexing.runners import JobRunner, LocalRunner, RunSettings

# Ray itself is imported only when a RayRunner is made, so listing it here costs nothing.
RUNNERS: dict[str, type] = {"local": LocalRunner, "ray": RayRunner}


def make_runner(engine: str, settings: RunSettings, address: str | None = None) -> JobRunner:
    """The runner for `engine` ("local" or "ray"); for Ray, checked (installed, cluster reachable)
    before any planning work."""
    runner = RUNNERS.get(engine)
    if runner is None:
        raise VindexError(f"unknown engine {engine!r}: use {' or '.join(ENGINES)}")
    return runner(settings, address)

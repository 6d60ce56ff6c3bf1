"""What each page and API route shows, as plain data: the JSON routes return it as it is (the
shapes of the CLI's --json, from the results' `to_dict()`), the pages render it."""

from __future__ import annotations

import math
import os
import shlex
import threading
import uuid
from collections import OrderedDict

from vindex.defaults import DUPLICATE_MODE, NOISE_POLICY, SERVE_PAGE_SIZE
from vindex.errors import VindexError
from vindex.locations import is_remote
from vindex.serve.library import Library
from vindex.serve.media import is_readable_file
from vindex.serve.params import BadRequest

# A folder filter is applied to the ranked hits, so more are fetched to fill the page after it.
FOLDER_OVERFETCH = 10
UPLOADS_KEPT = 16  # results of dropped files, kept so their page can be reloaded
NOISE = -1
# One answer for every path refused, so that a refusal says nothing about what lies outside the root.
PATH_REFUSED = "only a video under the index's root folder can be named by its path here: drop the file instead"
DEST_REFUSED = "the organise preview looks only at folders beside or inside the index's root folder"


class NotFound(Exception):
    """An id (video, cluster, upload) the index does not know."""


def query(library: Library, text: str, limit: int, by: str, channels: tuple[str, ...],
          min_score: float | None, folder: str, moments: bool = False) -> dict:
    wanted = limit * FOLDER_OVERFETCH if folder else limit
    result = library.current().query(text, limit=wanted, by=by, channels=channels, min_score=min_score,
                                     moments=moments)
    return in_folder(result.to_dict(), folder, limit)


def similar_to_video(library: Library, video_id: str, limit: int, by: str, channels: tuple[str, ...],
                     min_score: float | None, folder: str, at: float | None = None, moments: bool = False) -> dict:
    row = library.video(video_id)
    if row is None:
        raise NotFound(f"no video {video_id!r} in the index")
    file = library.file_of(row)
    if not is_readable_file(file):
        raise VindexError(f"the file of {row['path']} is missing, so its neighbours cannot be looked up")
    found = similar_to_path(library, str(file), limit, by, channels, min_score, folder, at, moments)
    return found | {"video": video_facts(row), "at": at}


def similar_to_path(library: Library, path: str, limit: int, by: str, channels: tuple[str, ...],
                    min_score: float | None, folder: str, at: float | None = None, moments: bool = False) -> dict:
    wanted = limit * FOLDER_OVERFETCH if folder else limit
    result = library.current().similar(path, limit=wanted, by=by, channels=channels, min_score=min_score,
                                       moments=moments, at=at)
    return in_folder(result.to_dict(), folder, limit)


def resolved_under(folder: str, path: str, refusal: str) -> str:
    """`path` (relative to `folder`, or absolute) with symlinks resolved, if it lies in `folder`."""
    try:
        base = os.path.realpath(folder)
        resolved = os.path.realpath(os.path.join(base, path))
    except (OSError, ValueError):
        raise BadRequest(refusal) from None
    if resolved != base and not resolved.startswith(base.rstrip(os.sep) + os.sep):
        raise BadRequest(refusal)
    return resolved


def local_root(library: Library, refusal: str) -> str:
    root = library.current().meta.root
    if not root or is_remote(root):
        raise BadRequest(refusal)
    return root


def path_under_root(library: Library, path: str) -> str:
    """A video path from a request, resolved, if it lies under the index root (else BadRequest)."""
    return resolved_under(local_root(library, PATH_REFUSED), path, PATH_REFUSED)


def dest_beside_root(library: Library, dest: str) -> str:
    """An organise destination from a request, resolved, if it lies in the root's parent folder."""
    root = os.path.realpath(local_root(library, DEST_REFUSED))
    return resolved_under(os.path.dirname(root) or root, os.path.expanduser(dest), DEST_REFUSED)


def in_folder(result: dict, folder: str, limit: int) -> dict:
    """Only the hits under `folder` (a path relative to the root), ranked again from 1."""
    if not folder:
        return result
    prefix = folder.rstrip("/") + "/"
    hits = [hit for hit in result["hits"] if hit["path"].startswith(prefix)][:limit]
    return dict(result, hits=[dict(hit, rank=rank) for rank, hit in enumerate(hits, 1)], folder=folder)


def video_facts(row: dict) -> dict:
    return {key: row.get(key) for key in ("id", "path", "channel", "duration", "width", "height", "size", "cluster")}


class Uploads:
    """Results of similar-to-a-dropped-file, by a random id, so that a page can show them."""

    def __init__(self):
        self._results: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    def search(self, library: Library, path: str, name: str, **options) -> dict:
        """The videos like the (temporary) file at `path`, kept under a new upload id."""
        result = similar_to_path(library, path, **options)
        result = dict(result, query=name or "uploaded file", upload=uuid.uuid4().hex)
        with self._lock:
            self._results[result["upload"]] = result
            while len(self._results) > UPLOADS_KEPT:
                self._results.popitem(last=False)
        return result

    def get(self, upload: str) -> dict:
        with self._lock:
            if upload not in self._results:
                raise NotFound("that dropped file's results are gone: drop it again")
            return self._results[upload]


def clusters(library: Library) -> list[dict]:
    return [cluster.to_dict() for cluster in library.current().clusters()]


def cluster_id(raw: str) -> int:
    """A cluster named in a path: a number, or -1 / `noise`; anything else is an unknown cluster."""
    raw = raw.lower()
    if raw in ("noise", "-1"):
        return NOISE
    if not raw.isdigit() or len(raw) > 9:
        raise NotFound(f"no cluster {raw!r}")
    return int(raw)


def cluster_page(library: Library, cluster: int, page: int, per_page: int = SERVE_PAGE_SIZE) -> dict:
    """One cluster with one page of its members (most typical first), like `show ID --json`."""
    index = library.current()
    try:
        found = index.cluster_members(cluster).to_dict()
    except VindexError:
        index.clusters()  # raises on its own when there are no clusters at all
        raise NotFound(f"no cluster {cluster} in the latest clustering run") from None
    pages = max(1, math.ceil(found["size"] / per_page))
    if page > pages:
        raise BadRequest(f"page must be between 1 and {pages}, not {page}")
    start = (page - 1) * per_page
    return dict(found, videos=found["videos"][start:start + per_page], page=page, pages=pages, per_page=per_page)


def duplicates(library: Library, mode: str = DUPLICATE_MODE, threshold: float | None = None,
               channels: tuple[str, ...] = ()) -> dict:
    """Like `vindex dupes --json`: the groups, each keeper first, with every member's reason."""
    return library.current().duplicates(mode=mode, threshold=threshold, channels=channels).to_dict()


def organize_plan(library: Library, dest: str, mode: str, noise: str = NOISE_POLICY,
                  keep_channel: bool = False) -> dict:
    """What `vindex organize --dest DEST --apply` would do, and that command to copy."""
    plan = library.current().organize_plan(dest, mode, noise, keep_channel).to_dict()
    command = ["vindex", "organize", "--db", library.uri, "--dest", plan["dest"]]
    command += {"move": [], "copy": ["--copy"], "link": ["--link"]}[mode]
    command += ["--noise", noise] if noise != NOISE_POLICY else []
    command += ["--keep-channel"] if keep_channel else []
    return dict(plan, command=shlex.join(command + ["--apply"]))


def default_dest(library: Library) -> str:
    """The organise preview's first destination: a `by_cluster` folder beside the root."""
    root = library.current().meta.root or "."
    return os.path.join(os.path.dirname(root.rstrip("/")) or ".", "by_cluster")


def info(library: Library) -> dict:
    return library.current().info().to_dict()

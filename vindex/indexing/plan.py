"""The sync plan: which files under a folder are unchanged, touched, renamed, copies of indexed
content, new or changed content to embed, or deleted. Only files whose `stat` changed are hashed."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from vindex.errors import VindexError, os_reason
from vindex.indexing.jobs import UNREADABLE, EmbedJob, Failure, SyncPlan, UnreadableFolder, is_transient
from vindex.indexing.rows import video_id
from vindex.locations import join_root, stored_path
from vindex.results import ProgressHook
from vindex.scanning import VideoFile, hash_file, is_outside_root, scan
from vindex.store import Store


def subdir_prefix(root: Path, subdir: Path) -> str:
    """The path prefix that the rows of files under `subdir` share ("" for the whole root)."""
    return "" if subdir == root else stored_path(subdir.relative_to(root).as_posix()) + "/"


def plan_sync(store: Store, root: Path, subdir: Path, progress: ProgressHook | None = None,
              retry_failed: bool = False) -> SyncPlan:
    """Compare the folder with the index; hash only files whose `stat` changed or that are new.

    Files that failed before and have not changed are not tried again, unless `retry_failed`.
    Rows under a folder that cannot be listed are kept: its files are unknown, not deleted.
    """
    result = SyncPlan()
    unreadable: list[tuple[str, str]] = []
    files = sorted(scan(root, subdir, unreadable), key=lambda f: f.path)
    catalog = store.catalog().to_pylist()
    by_path = {row["path"]: row for row in catalog}
    by_hash: dict[str, list[dict]] = defaultdict(list)
    for row in catalog:
        by_hash[row["content_hash"]].append(row)
    taken = {row["id"] for row in catalog}
    prefix = subdir_prefix(root, subdir)
    seen = {f.path for f in files}
    # Files organised out of the root are not scanned here, so they are never "missing".
    missing = {
        row["path"]: row for row in catalog
        if row["path"].startswith(prefix) and not is_outside_root(row["path"]) and row["path"] not in seen
    }
    for folder, reason in unreadable:
        if (folder and folder + "/") == prefix:
            raise VindexError(f"cannot read folder {subdir}: {reason}")
        kept = [path for path in missing if path.startswith(folder + "/")]
        for path in kept:
            del missing[path]
        result.unreadable.append(UnreadableFolder(folder, reason, len(kept)))
    if not prefix:
        unchanged_outside, queued_outside = outside_root(root, catalog)
        result.unchanged += unchanged_outside
        files += queued_outside

    known_failures = {} if retry_failed else store.meta.failed
    to_hash = []
    for file in files:
        row = by_path.get(file.path)
        failure = known_failures.get(file.path)
        if row and row["size"] == file.size and row["mtime_ns"] == file.mtime_ns and row["num_frames"]:
            result.unchanged += 1
        elif failure and failure[:2] == [file.size, file.mtime_ns] and not is_transient(failure[2]):
            # A broken file that has not changed since it failed is not decoded again.
            result.failed.append(Failure(file.path, failure[2]))
            if row:  # left by a version of vindex that kept the row of a file that changed and then failed
                result.failed_rows.append(row["id"])
        else:
            to_hash.append(file)

    missing_by_hash: dict[str, list[dict]] = defaultdict(list)
    for row in missing.values():
        missing_by_hash[row["content_hash"]].append(row)
    new_content: dict[str, EmbedJob] = {}
    for done, file in enumerate(to_hash, 1):
        if progress:
            progress("hashing", done, len(to_hash))
        try:
            digest = hash_file(file.abs_path)
        except OSError as error:
            result.failed.append(Failure(file.path, f"{UNREADABLE}{os_reason(error)}"))
            if by_path.get(file.path):  # it changed since it was indexed: what the row holds is gone
                result.failed_rows.append(by_path[file.path]["id"])
            continue
        row = by_path.get(file.path)
        if row and row["content_hash"] == digest and row["num_frames"]:
            result.touched.append((row["id"], file))
        elif not row and missing_by_hash.get(digest):
            result.renamed.append((missing_by_hash[digest].pop()["id"], file))
        else:
            changed = row is not None
            # Rows of deleted files count too: they are removed only after copies are made.
            sources = [r for r in by_hash.get(digest, []) if r["num_frames"]]
            new_id = row["id"] if changed else video_id(file.path, digest, taken)
            if sources:
                result.copies.append((sources[0]["id"], new_id, file, changed))
            elif digest in new_content:
                job = new_content[digest]
                job.files.append(file)
                job.ids.append(new_id)
                job.changed.append(changed)
            else:
                new_content[digest] = EmbedJob(digest, [file], [new_id], [changed])
    result.jobs = list(new_content.values())
    renamed_ids = {video for video, _ in result.renamed}
    result.removed = [row["id"] for row in missing.values() if row["id"] not in renamed_ids]
    return result


def outside_root(root: Path, catalog: list[dict]) -> tuple[int, list[VideoFile]]:
    """Files `vindex organize` moved out of the root still belong to this index: (how many are
    unchanged where the index says, with the same stat, one `stat` each as in the root; the files of
    those waiting to be embedded again, which `vindex check --repair` re-queued: an add of the root
    is the only one that reaches them)."""
    unchanged, queued = 0, []
    for row in catalog:
        if is_outside_root(row["path"]):
            where = join_root(str(root), row["path"])
            try:
                info = os.stat(where)
            except OSError:
                continue
            if not row["num_frames"]:
                queued.append(VideoFile(row["path"], where, info.st_size, info.st_mtime_ns))
            elif (info.st_size, info.st_mtime_ns) == (row["size"], row["mtime_ns"]):
                unchanged += 1
    return unchanged, queued

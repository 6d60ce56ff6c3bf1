"""`add_folder`: bring the index in line with a folder, in the order that keeps it usable at every
step: plan, moves, copies, new content (through the runner), deletions, then clean-up."""

from __future__ import annotations

import os
import time
from pathlib import Path

from vindex.errors import VindexError
from vindex.indexing.backfill import backfill_fingerprints
from vindex.indexing.plan import plan_sync, subdir_prefix
from vindex.indexing.rows import apply_copies, apply_moves
from vindex.indexing.runners import JobRunner, ModelLoader
from vindex.indexing.jobs import Failure
from vindex.indexing.summary import AddSummary
from vindex.locations import is_remote, join_root
from vindex.results import ProgressHook, count
from vindex.scanning import VIDEO_EXTENSIONS
from vindex.store import Store
from vindex.store.meta import root_from_index


def add_folder(store: Store, root: Path, subdir: Path, model: ModelLoader, runner: JobRunner,
               progress: ProgressHook | None = None, retry_failed: bool = False) -> AddSummary:
    """Bring the index in line with the videos under `subdir` (a folder inside `root`).

    Planning, moves, copies and deletions happen here; `runner` decodes and embeds the new
    content and writes its rows. `retry_failed` tries again files remembered as undecodable.
    """
    started = time.perf_counter()
    summary = AddSummary(root=str(root), db=store.uri)
    changes = plan_sync(store, root, subdir, progress, retry_failed)
    if changes.is_empty():
        raise VindexError(f"no videos found under {subdir} (looked for {', '.join(sorted(VIDEO_EXTENSIONS))})")
    summary.failed.extend(changes.failed)
    summary.failed_rows.extend(changes.failed_rows)
    summary.unreadable_folders = changes.unreadable
    summary.unchanged = changes.unchanged + len(changes.touched)
    apply_moves(store, changes.touched + changes.renamed)
    summary.renamed = len(changes.renamed)
    apply_copies(store, changes.copies)
    summary.added += sum(1 for c in changes.copies if not c[3])
    summary.reembedded += sum(1 for c in changes.copies if c[3])
    if changes.jobs:
        runner(store, changes.jobs, model, summary, progress)
    # A file that changed and now fails leaves with its old vectors, or search would answer with
    # content the file no longer holds.
    store.delete_videos(changes.removed + summary.failed_rows)
    summary.removed = len(changes.removed)
    # Rows from before fingerprints, or from before their rules changed, get them now: decoded again,
    # not re-embedded.
    summary.fingerprinted = backfill_fingerprints(store, subdir_prefix(root, subdir),
                                                  runner.settings.workers or os.cpu_count() or 1, progress,
                                                  runner.settings.commit_every)
    if changes.changes_rows() or summary.failed_rows or summary.fingerprinted:
        store.sweep_orphan_frames()
        store.optimize()
    remember_failures(store, subdir_prefix(root, subdir), summary.failed, [f.path for f in changes.unreadable])
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def remember_failures(store: Store, prefix: str, failures: list[Failure], unreadable: list[str]) -> None:
    """Record files that cannot be decoded with their stat, so unchanged broken files are not decoded
    every run. Failures that may pass on their own (permission, I/O) are not recorded: a `chmod`
    changes neither size nor mtime. Records under folders that could not be listed stay."""
    if store.meta.is_empty:
        return
    unseen = tuple(folder + "/" for folder in unreadable)
    recorded = {path: value for path, value in store.meta.failed.items()
                if not path.startswith(prefix) or path.startswith(unseen)}
    for failure in failures:
        if failure.transient:
            continue
        try:
            info = os.stat(join_root(store.meta.root, failure.path))
        except OSError:
            continue
        recorded[failure.path] = [info.st_size, info.st_mtime_ns, failure.reason]
    if recorded != store.meta.failed:
        store.set_meta(failed=recorded)


def check_folder(folder: str | Path) -> Path:
    """The folder to add, resolved, or a one-line error for what it is not."""
    if is_remote(folder):
        raise VindexError(
            f"cannot index {folder}: source folders on object storage are not supported yet; mount or sync "
            "the bucket to a local folder (s3fs, rclone) and add that (the index itself may live at --db s3://...)"
        )
    folder = Path(folder)
    if not folder.exists():
        raise VindexError(f"no such folder: {folder}")
    if not folder.is_dir():
        raise VindexError(f"{folder} is a file, not a folder: pass the folder that holds your channels")
    return folder.resolve()


def ensure_root(store: Store, folder: Path) -> tuple[Path, Path]:
    """The index's root and the folder being added, checked to lie inside it. An index that moved
    with its videos (`vindex.store.meta.followed_root`) records where its root is now."""
    root = Path(store.meta.root or folder)
    if not folder.is_relative_to(root):
        raise VindexError(
            f"the index at {store.uri} covers {root}, not {folder}: pass --db for a separate index"
        )
    relative = root_from_index(str(root), store.uri)
    if store.meta.has_model and (store.meta.stored.get("root"), store.meta.root_from_index) != (str(root), relative):
        store.set_meta(root=str(root), root_from_index=relative)
    return root, folder


def check_rebuild(store: Store, root: Path, folder: Path) -> None:
    """`--reembed` drops every row and embeds again what lies under `folder`: refused while indexed
    videos lie elsewhere, for they would leave the index (those that `organize` moved outside the
    root for good: no `add` reaches them)."""
    prefix = subdir_prefix(root, folder)
    try:
        paths = store.catalog(["path"]).column("path").to_pylist() if store.videos is not None else []
    except VindexError:  # a damaged table: the rebuild is what repairs it
        return
    elsewhere = [path for path in paths if path.startswith("../") or not path.startswith(prefix)]
    if not elsewhere:
        return
    outside = sum(path.startswith("../") for path in elsewhere)
    fix = (f"{outside} of them were organized outside the root, where no `add` reaches: `vindex organize --undo` "
           "brings them back first" if outside else f"pass the index's root, {root}")
    raise VindexError(f"--reembed rebuilds the index from {folder}, and {count(len(elsewhere), 'indexed video')} "
                      f"lie outside it: they would leave the index; {fix}")

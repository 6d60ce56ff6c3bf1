"""`organize`: move (or copy, or link) indexed videos into one folder per cluster, safely.

A plan (`plan`) maps each clustered video to DEST/<id>-<name-slug>/<file name> (`names`).
Applying it is journaled in the index folder (`journal`): the whole plan is written first, then
every step is recorded and fsynced before it is taken (`runner`), so a run killed at any point
can be finished (`--apply` again) or rolled back (`--undo`) with every file present exactly
once. A move is a rename within a filesystem and copy + verify + delete across filesystems;
nothing is ever overwritten (`fsops`). The index follows the files: rows get their new path
and stat, their vectors stay as they are.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from vindex.defaults import NOISE_POLICY, ORGANIZE_MODES
from vindex.errors import VindexError
from vindex.locations import is_remote
from vindex.organizing.fsops import Checkpoint, no_checkpoint
from vindex.organizing.journal import (
    UNFINISHED, Journal, damaged_paths, interrupted_message, journal_folder, journal_number, latest_journal, locked,
    next_journal_path,
)
from vindex.organizing.plan import FolderSummary, Move, OrganizePlan, Skipped, check_dest_writable, make_plan
from vindex.organizing.runner import Runner
from vindex.organizing.summary import OrganizeResult, UndoResult
from vindex.results import ProgressHook
from vindex.store import Store

__all__ = [
    "Checkpoint", "FolderSummary", "Move", "OrganizePlan", "OrganizeResult", "Skipped", "UndoResult",
    "apply", "preview", "refuse_if_interrupted", "undo",
]


def refuse_if_interrupted(store: Store) -> None:
    """Half-organised files must be finished or put back before anything else reads the index
    (`vindex add` would take files the journal still tracks for missing)."""
    if is_remote(store.uri):
        return
    pending = latest_journal(journal_folder(store), UNFINISHED)
    if pending is not None:
        raise VindexError(interrupted_message(pending))


def refuse_if_elsewhere(store: Store, journal: Journal) -> None:
    """A journal holds real paths: in an index moved or copied away from the organized files
    (`vindex.store.meta.followed_root`), finishing or undoing it would move the files at the old place."""
    if store.meta.root and os.path.normpath(journal.root) != os.path.normpath(store.meta.root):
        journal.close()
        raise VindexError(f"the organize in {journal.path} was applied to {journal.root}, and this index now covers "
                          f"{store.meta.root} (it was moved or copied): its files are not these; finish or undo it "
                          "with the index at the old place")


def preview(store: Store, dest: str | Path, mode: str = ORGANIZE_MODES[0], noise: str = NOISE_POLICY,
            keep_channel: bool = False) -> OrganizePlan:
    refuse_if_interrupted(store)
    journal_folder(store)  # an index that apply could not journal into is refused up front
    return make_plan(store, dest, mode, noise, keep_channel)


def apply(store: Store, dest: str | Path, mode: str = ORGANIZE_MODES[0], noise: str = NOISE_POLICY,
          keep_channel: bool = False, progress: ProgressHook | None = None,
          checkpoint: Checkpoint = no_checkpoint) -> OrganizeResult:
    """Carry out a new plan, or finish the interrupted one for the same --dest."""
    started = time.perf_counter()
    folder = journal_folder(store)
    with locked(folder):
        pending = latest_journal(folder, UNFINISHED)
        if pending is not None:
            if pending.status == "undoing" or os.path.realpath(os.path.expanduser(str(dest))) != pending.dest:
                raise VindexError(interrupted_message(pending))
            refuse_if_elsewhere(store, pending)
            result = OrganizeResult(pending.root, pending.dest, pending.mode, resumed=True)
            journal = pending
        else:
            plan = make_plan(store, dest, mode, noise, keep_channel)
            result = OrganizeResult(plan.root, plan.dest, mode, in_place=plan.in_place, left=plan.left,
                                    skipped=list(plan.skipped))
            if not plan.moves:
                result.seconds = round(time.perf_counter() - started, 3)
                return result
            check_dest_writable(plan.dest)
            journal = Journal.create(next_journal_path(folder), plan)
        try:
            Runner(store, journal, progress, checkpoint).apply()
        finally:
            journal.close()
    result.count(journal)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def undo(store: Store, progress: ProgressHook | None = None, checkpoint: Checkpoint = no_checkpoint) -> UndoResult:
    """Put back every file of the latest organize that is not undone yet (or finish an undo)."""
    started = time.perf_counter()
    folder = journal_folder(store)
    with locked(folder):
        journal = latest_journal(folder, ("applying", "complete", "undoing"), quiet=True)
        damaged = max(damaged_paths(folder), key=journal_number, default=None)
        if damaged is not None and (journal is None or journal_number(damaged) > journal_number(journal.path)):
            # Undoing an older organize would move files the damaged one may have moved since.
            raise VindexError(
                f"nothing to undo: the journal of the latest organize is damaged and was set aside as {damaged} "
                "(the files it moved stay where they are; delete it to undo the organize before it)"
            )
        if journal is None:
            raise VindexError("nothing to undo: no organize has been applied with this index (or all are undone)")
        refuse_if_elsewhere(store, journal)
        try:
            Runner(store, journal, progress, checkpoint).undo()
        finally:
            journal.close()
    result = UndoResult.of(journal)
    result.seconds = round(time.perf_counter() - started, 3)
    return result

"""Taking the steps of a journal, forward (apply) or backward (undo), with the index in step."""

from __future__ import annotations

import os
from contextlib import suppress
from typing import Callable, Iterator

from vindex.errors import os_reason
from vindex.indexing import apply_copies, video_id
from vindex.locations import stored_path
from vindex.organizing.fsops import (
    Checkpoint, CopyMismatch, discard_partial, fsync_folder, is_link_to, is_placed_file, make_folder, no_checkpoint,
    partial_name, placed_identity, remove_empty_folder, same_content, transfer, transfer_finished,
)
from vindex.organizing.journal import Entry, Journal
from vindex.organizing.names import claim_key, inside, numbered_path, relative
from vindex.organizing.plan import Move, folder_problem, free_target, source_problem
from vindex.results import ProgressHook
from vindex.scanning import VideoFile, is_outside_root
from vindex.store import Store

INDEX_EVERY = 256  # files moved between index updates: what a kill leaves for the next run to re-index
# Steps journaled together: their "started" events share one fsync, their folders another.
STEP_BATCH = 128


class Runner:
    """Takes the steps of one journal, forward (apply) or backward (undo), keeping the index in step.

    Steps go in batches: the "started" events of a batch are fsynced together before any of
    its files is touched, the folders it changed are fsynced once after, then its "done"
    events. A kill anywhere leaves some steps "started"; the next run settles each of them by
    looking at the disk. `checkpoint` is called at each point a kill is tested at.
    """

    def __init__(self, store: Store, journal: Journal, progress: ProgressHook | None = None,
                 checkpoint: Checkpoint = no_checkpoint):
        self.store = store
        self.journal = journal
        self.root = journal.root
        self.mode = journal.mode
        self.progress = progress
        self.checkpoint = checkpoint
        self._taken_ids: set[str] | None = None

    def batches(self, numbers: list[int], stage: str) -> Iterator[list[int]]:
        for start in range(0, len(numbers), STEP_BATCH):
            yield numbers[start : start + STEP_BATCH]
            if self.progress:
                self.progress(stage, min(start + STEP_BATCH, len(numbers)), len(numbers))

    def finish_batch(self, finished: list[int], folders: set[str], state: str) -> None:
        """Make the batch's renames durable, then record its steps as finished."""
        for folder in sorted(folders):
            with suppress(FileNotFoundError):
                fsync_folder(folder)
        for number in finished:
            entry = self.journal.entries[number]
            if state == "done":
                placed = placed_identity(entry.move.target) if self.mode == "move" else None
                self.journal.record(e=number, state="done", how=entry.how, new_id=self.new_row_id(entry.move),
                                    placed=placed, sync=False)
            else:
                self.journal.record(e=number, state=state, sync=False)
        self.journal.sync()

    def attempt(self, number: int, step: Callable[[], None], retarget: Callable[[], bool],
                failed: str, mismatch: str) -> bool:
        """Take one journaled step. When its target was taken since it was checked, `retarget`
        journals another one and the step is tried again; a failure is journaled as `failed`,
        a copy that did not verify as `mismatch`."""
        while True:
            self.checkpoint("before-transfer")
            try:
                step()
            except FileExistsError:
                if not retarget():
                    return False
                self.journal.sync()
                continue
            except (OSError, CopyMismatch) as error:
                state = mismatch if isinstance(error, CopyMismatch) else failed
                self.journal.record(e=number, state=state, reason=os_reason(error), sync=False)
                return False
            self.checkpoint("after-transfer")
            return True

    def finish_run(self, status: str) -> None:
        self.checkpoint("after-index")
        self.store.optimize()
        self.journal.record(run=status)

    # -- forward ------------------------------------------------------------------------------
    def apply(self) -> None:
        entries = self.journal.entries
        claimed = {claim_key(e.move.target) for e in entries}
        # Steps an interrupted run finished may not have reached the index yet.
        unindexed = [e for e in entries if e.state == "done"]
        todo = [number for number, e in enumerate(entries) if e.state in ("planned", "started")]
        for batch in self.batches(todo, "organizing"):
            unindexed += self.apply_batch(batch, claimed)
            if len(unindexed) >= INDEX_EVERY:
                self.index_applied(unindexed)
                unindexed = []
        self.index_applied(unindexed)
        if self.mode == "move":
            self.remove_emptied_sources()
        self.finish_run("complete")

    def apply_batch(self, numbers: list[int], claimed: set[str]) -> list[Entry]:
        entries = self.journal.entries
        settled, ready = [], []
        for number in numbers:
            entry = entries[number]
            if entry.state == "started":
                if transfer_finished(entry.move.source, entry.move.target, self.mode):
                    entry.how = "resumed"
                    settled.append(number)
                    continue
                discard_partial(entry.move.target, number)
            if self.choose_target(number, entry, claimed):
                ready.append(number)
        self.journal.sync()
        finished = [number for number in ready if self.take_step(number, entries[number], claimed)]
        folders = {os.path.dirname(p) for n in finished for p in (entries[n].move.source, entries[n].move.target)}
        self.finish_batch(settled + finished, folders, "done")
        return [entries[number] for number in settled + finished]

    def choose_target(self, number: int, entry: Entry, claimed: set[str]) -> bool:
        """Check the file, pick a free name and journal the step; False when there is nothing to do."""
        move, record = entry.move, self.journal.record
        problem = source_problem(move.source, move.size, move.mtime_ns)
        if problem:
            record(e=number, state="skipped", reason=problem, sync=False)
            return False
        claimed.discard(claim_key(move.target))
        target, present = free_target(move, claimed, self.mode)
        claimed.add(claim_key(target))
        if present:
            record(e=number, state="present", target=target, sync=False)
            return False
        problem = self.make_folders(os.path.dirname(target))
        if problem:
            record(e=number, state="skipped", reason=problem, sync=False)
            return False
        record(e=number, state="started", target=target, sync=False)
        return True

    def take_step(self, number: int, entry: Entry, claimed: set[str]) -> bool:
        move = entry.move

        def step() -> None:
            entry.how = transfer(move.source, move.target, self.mode, partial_name(number), move.content_hash,
                                 self.checkpoint)

        return self.attempt(number, step, lambda: self.choose_target(number, entry, claimed),
                            failed="failed", mismatch="skipped")

    def make_folders(self, folder: str, event: str = "folder") -> str | None:
        """Create the missing folders down to `folder`. Apply journals each (as `folder`) before
        making it, so undo removes it; undo journals each it made (as `undo_created`) after."""
        problem = folder_problem(self.journal.dest, folder) if event == "folder" else None
        if problem:
            return problem
        missing, path = [], folder
        while not os.path.isdir(path):
            missing.append(path)
            path = os.path.dirname(path)
        for path in reversed(missing):
            if event == "folder":
                self.journal.record(folder=path)
            try:
                make_folder(path)
            except OSError as error:
                return f"cannot create {path}: {os_reason(error)}"
            if event != "folder":
                self.journal.record(sync=False, **{event: path})
        return None

    def remove_emptied_sources(self) -> None:
        """Remove the source folders the moves left empty, and the folders above them that are
        empty then, up to the root (never the root, nothing outside it); each is journaled so
        undo makes it again."""
        folders = {os.path.dirname(e.move.source) for e in self.journal.entries if e.state == "done"}
        for folder in sorted(folders, key=lambda path: -path.count(os.sep)):
            while folder != self.root and inside(self.root, folder):
                if os.path.lexists(folder):
                    if not remove_empty_folder(folder):
                        break  # not empty (or not ours to remove): nor are the folders above it
                    fsync_folder(os.path.dirname(folder))
                    self.journal.record(source_removed=folder, sync=False)
                folder = os.path.dirname(folder)

    def new_row_id(self, move: Move) -> str | None:
        """A copy or link under the root gets its own index row (as `vindex add` would give it)."""
        if self.mode == "move":
            return None
        path = stored_path(relative(move.target, self.root))
        # A symlink is only followed by `vindex add` when it points inside the root.
        if is_outside_root(path) or (os.path.islink(move.target) and is_outside_root(relative(move.source, self.root))):
            return None
        if self._taken_ids is None:
            self._taken_ids = set(self.store.catalog(["id"]).column("id").to_pylist())
            self._taken_ids.update(e.new_id for e in self.journal.entries if e.new_id)
        return video_id(path, move.content_hash, self._taken_ids)

    def index_applied(self, entries: list[Entry]) -> None:
        """Point the rows of moved files at their new place; give copies and links their rows."""
        if not entries:
            return
        if self.mode == "move":
            self.store.update_rows(self.locations({e.move.id: e.move.target for e in entries}))
            return
        sources = set(self.store.videos_by_id(sorted({e.move.id for e in entries}), ["id"]).column("id").to_pylist())
        copies = []
        for entry in entries:
            if entry.new_id and entry.move.id in sources:
                with suppress(OSError):
                    info = os.stat(entry.move.target)
                    copy = VideoFile(stored_path(relative(entry.move.target, self.root)), entry.move.target,
                                     info.st_size, info.st_mtime_ns)
                    copies.append((entry.move.id, entry.new_id, copy, False))
        apply_copies(self.store, copies)

    def locations(self, paths: dict[str, str]) -> dict[str, dict]:
        """Row changes for files now at `paths` (by video id): path relative to the root, and stat."""
        changes = {}
        for video, path in paths.items():
            with suppress(OSError):
                info = os.stat(path)
                changes[video] = {"path": stored_path(relative(path, self.root)), "size": info.st_size,
                                  "mtime_ns": info.st_mtime_ns}
        return changes

    # -- backward -----------------------------------------------------------------------------
    def undo(self) -> None:
        entries = self.journal.entries
        sources = {claim_key(e.move.source) for e in entries}
        todo = [n for n in reversed(range(len(entries)))
                if entries[n].state in ("started", "done", "undo-started", "undo-failed")]
        for folder in reversed(self.journal.removed_sources):  # parents first
            self.make_folders(folder, event="undo_created")
        for batch in self.batches(todo, "restoring"):
            if self.mode == "move":
                self.undo_moves(batch, sources)
            else:
                self.undo_copies(batch)
        for folder in reversed(self.journal.folders):
            if remove_empty_folder(folder):  # only folders this run made, and only when empty
                self.journal.record(undo_removed=folder, sync=False)
        undone = [e for e in entries if e.state == "undone"]
        if self.mode == "move":
            changes = self.locations({e.move.id: e.restore for e in undone if e.restore})
            # A file undo did not find at its target is not in the index's keeping any more: its
            # row goes back to where it was, gone, for the next `vindex add` to settle.
            changes.update({e.move.id: {"path": stored_path(relative(e.move.source, self.root)),
                                        "size": e.move.size, "mtime_ns": e.move.mtime_ns} for e in entries if e.gone})
            self.store.update_rows(changes)
        else:
            self.store.delete_videos([e.new_id for e in undone if e.new_id])
        self.finish_run("undone")

    def undo_moves(self, numbers: list[int], sources: set[str]) -> None:
        entries = self.journal.entries
        ready = [n for n in numbers if self.needs_restore(n, entries[n]) and self.choose_restore(n, entries[n], sources)]
        self.journal.sync()
        finished = [number for number in ready if self.restore(number, entries[number], sources)]
        folders = {os.path.dirname(p) for n in finished for p in (entries[n].move.target, entries[n].restore)}
        self.finish_batch(finished, folders, "undone")

    def needs_restore(self, number: int, entry: Entry) -> bool:
        """Settle what a killed run left in flight; True when the file is still to be moved back."""
        move, record = entry.move, self.journal.record
        if entry.state == "started" and not transfer_finished(move.source, move.target, "move"):
            discard_partial(move.target, number)
            record(e=number, state="undone", sync=False)  # it never left its place
            return False
        if entry.state == "undo-started":
            if transfer_finished(move.target, entry.restore, "move"):
                record(e=number, state="undone", sync=False)
                return False
            discard_partial(entry.restore, number)
        if not os.path.lexists(move.target):
            record(e=number, state="undo-failed", reason=f"not found at {move.target}", gone=True, sync=False)
            return False
        if not is_placed_file(move.target, move.size, move.mtime_ns, entry.placed, move.content_hash):
            record(e=number, state="undo-failed", reason="a different file is there now", gone=True, sync=False)
            return False
        return True

    def choose_restore(self, number: int, entry: Entry, sources: set[str]) -> bool:
        """The original path, or a numbered name beside it when that was taken; journaled."""
        source = entry.move.source
        candidate, suffix = source, 0
        while os.path.lexists(candidate) or (suffix and claim_key(candidate) in sources):
            suffix += 1
            candidate = numbered_path(source, suffix)
        problem = self.make_folders(os.path.dirname(source), event="undo_created")
        if problem:
            self.journal.record(e=number, state="undo-failed", reason=problem, sync=False)
            return False
        sources.add(claim_key(candidate))
        self.journal.record(e=number, state="undo-started", restore=candidate, sync=False)
        return True

    def restore(self, number: int, entry: Entry, sources: set[str]) -> bool:
        def step() -> None:
            transfer(entry.move.target, entry.restore, "move", partial_name(number), None, self.checkpoint)

        return self.attempt(number, step, lambda: self.choose_restore(number, entry, sources),
                            failed="undo-failed", mismatch="undo-failed")

    def undo_copies(self, numbers: list[int]) -> None:
        """Remove copies and links, but only while the original is still there with the same bytes."""
        entries, record = self.journal.entries, self.journal.record
        ready = []
        for number in numbers:
            move = entries[number].move
            discard_partial(move.target, number)
            if not os.path.lexists(move.target):
                record(e=number, state="undone", sync=False)
            elif is_link_to(move.source, move.target) if self.mode == "link" else same_content(move.source, move.target):
                record(e=number, state="undo-started", restore=move.source, sync=False)
                ready.append(number)
            elif entries[number].state == "started":  # the step never happened: that file is not ours
                record(e=number, state="undone", sync=False)
            else:
                record(e=number, state="undo-failed", reason="kept: the original is gone or differs from it",
                       sync=False)
        self.journal.sync()
        finished = [number for number in ready
                    if self.attempt(number, lambda: os.unlink(entries[number].move.target), lambda: False,
                                    failed="undo-failed", mismatch="undo-failed")]
        self.finish_batch(finished, {os.path.dirname(entries[n].move.target) for n in finished}, "undone")

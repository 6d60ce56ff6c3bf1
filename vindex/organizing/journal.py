"""The journal of one organize run, kept in the index folder: what lets a run killed at any
point be finished or rolled back. Also where journals live, and the one-run-at-a-time lock."""

from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from vindex.errors import VindexError
from vindex.locations import is_remote
from vindex.organizing.fsops import fsync_folder, rename_no_replace
from vindex.organizing.journal_lines import (
    FOLDER_EVENTS, MOVE_FIELDS, event_problem, header_problem, move_problem, parse, set_aside as set_line_aside,
)
from vindex.organizing.plan import Move, OrganizePlan
from vindex.store import Store

JOURNAL_FOLDER = "organize"
JOURNAL_VERSION = 1
UNFINISHED = ("applying", "undoing")
DAMAGED_SUFFIX = ".damaged-"


class DamagedJournal(VindexError):
    """A journal that cannot be read back: not a torn last line, but damage before its end."""


@dataclass
class Entry:
    """A planned file and the state the journal records for it."""

    move: Move
    state: str = "planned"  # started, done, present, skipped, failed; undo-started, undone, undo-failed; rejected
    how: str | None = None  # rename, copy, hardlink, symlink
    restore: str | None = None  # where undo puts the file back; None while nothing was put back
    new_id: str | None = None  # the index row of a copy or link under the root
    reason: str | None = None
    placed: list[int] | None = None  # device, inode, change time of the file just after it was moved
    gone: bool = False  # undo found no file of ours at the target: the user replaced or removed it


def is_newer(version: object) -> bool:
    return isinstance(version, int) and not isinstance(version, bool) and version > JOURNAL_VERSION


def rejected_entry(value: object, reason: str) -> Entry:
    """The place of a planned file whose line is damaged: what of it is readable, state "rejected"."""
    fields = value.get("move") if isinstance(value, dict) and isinstance(value.get("move"), dict) else {}
    move = {name: fields.get(name) if isinstance(fields.get(name), kind) else kind()
            for name, kind in MOVE_FIELDS.items()}
    return Entry(Move(**move), state="rejected", reason=reason)


class Journal:
    """One organize run as JSON lines: a header, the plan (one line per file, then an end
    marker), then events; the event announcing a step is on disk (fsynced) before the step."""

    def __init__(self, path: Path, header: dict, entries: list[Entry]):
        self.path = path
        self.header = header
        self.entries = entries
        self.folders: list[str] = []  # folders this run created, in order
        self.removed_sources: list[str] = []
        self.undo_removed: list[str] = []
        self.undo_created: list[str] = []
        self.status = "applying"  # applying, complete, undoing, undone
        self._handle = None

    @property
    def root(self) -> str:
        return self.header["root"]

    @property
    def dest(self) -> str:
        return self.header["dest"]

    @property
    def mode(self) -> str:
        return self.header["mode"]

    @classmethod
    def create(cls, path: Path, plan: OrganizePlan) -> "Journal":
        """Write the header and plan to a temporary file and rename it into place: a journal
        either holds the whole plan or does not exist."""
        header = {
            "vindex_organize": JOURNAL_VERSION, "created": datetime.now(timezone.utc).isoformat(),
            "root": plan.root, "dest": plan.dest, "mode": plan.mode, "noise": plan.noise,
            "keep_channel": plan.keep_channel,
        }
        lines = [header, *({"move": asdict(m)} for m in plan.moves), {"end_of_plan": len(plan.moves)}]
        temporary = path.with_name(f".{path.name}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
            handle.flush()
            os.fsync(handle.fileno())
        rename_no_replace(str(temporary), str(path))
        fsync_folder(str(path.parent))
        return cls(path, header, [Entry(m) for m in plan.moves])

    @classmethod
    def load(cls, path: Path, quiet: bool = False) -> "Journal":
        """Read a journal back; DamagedJournal when it cannot be (a torn last line is ignored).

        Every line is checked field by field (`journal_lines`). A bad event is set aside and
        passed over; a bad planned file stays in the plan as "rejected", so that no step is taken
        for it and undo says it could not put it back. A bad header or plan end is DamagedJournal.
        """
        if path.is_dir():
            raise DamagedJournal(f"the organize journal {path} is a folder, not a journal")
        try:
            lines = path.read_bytes().split(b"\n")
        except OSError as error:
            raise DamagedJournal(f"the organize journal {path} cannot be read ({error.strerror or error})") from None
        records: list[tuple[int, bytes, object, str | None]] = []  # line number, text, value, problem
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            value, problem = parse(line)
            if problem == "not JSON" and not any(rest.strip() for rest in lines[number:]):
                break  # the last write of a killed run, torn: that event never completed
            records.append((number, line, value, problem))
        header = records[0][2] if records else None
        if isinstance(header, dict) and is_newer(header.get("vindex_organize")):
            raise VindexError(f"{path} was written by a newer vindex: upgrade vindex to finish or undo that organize")
        if not records or header_problem(header) or header["vindex_organize"] != JOURNAL_VERSION:
            raise DamagedJournal(f"{path} is not an organize journal this vindex can read")
        end = next((i for i, (_, _, value, _) in enumerate(records) if isinstance(value, dict)
                    and "end_of_plan" in value), None)
        if end is None or records[end][2]["end_of_plan"] != end - 1:
            raise DamagedJournal(f"the organize journal {path} has no complete plan")
        entries = []
        for number, line, value, problem in records[1:end]:
            problem = problem or (move_problem(value) if isinstance(value, dict) else "not a planned file")
            if problem:
                set_line_aside(path, number, line, problem, quiet)
                entries.append(rejected_entry(value, f"{path.name}:{number} is damaged ({problem}): nothing was "
                                                     "done for this file, nor can be undone"))
            else:
                entries.append(Entry(Move(**value["move"])))
        journal = cls(path, header, entries)
        for number, line, value, problem in records[end + 1 :]:
            problem = problem or event_problem(value, len(entries))
            if problem:
                set_line_aside(path, number, line, problem, quiet)
            else:
                journal._replay(value)
        return journal

    def _replay(self, event: dict) -> None:
        kind = next((key for key in FOLDER_EVENTS if key in event), None)
        if kind:
            getattr(self, FOLDER_EVENTS[kind]).append(event[kind])
            return
        if "run" in event:
            self.status = event["run"]
            return
        entry = self.entries[event["e"]]
        if entry.state == "rejected":  # its plan line was damaged: nothing is known of it
            return
        entry.state = state = event["state"]
        entry.gone = event.get("gone", False)
        if state.startswith("undo") and self.status in ("applying", "complete"):
            self.status = "undoing"
        if state in ("started", "present"):
            entry.move.target = event["target"]
        elif state == "done":
            entry.how, entry.new_id, entry.placed = event["how"], event.get("new_id"), event.get("placed")
        elif state == "undo-started":
            entry.restore = event["restore"]
        elif state in ("skipped", "failed", "undo-failed"):
            entry.reason = event["reason"]

    def record(self, sync: bool = True, **event) -> None:
        """Append one event; with `sync`, make it (and all before it) durable before returning."""
        if self._handle is None:
            self._handle = open(self.path, "r+b")
            # A killed run may have left half a line: cut it, so the next line starts clean.
            data = self._handle.read()
            self._handle.truncate(data.rfind(b"\n") + 1)
            self._handle.seek(0, os.SEEK_END)
        self._handle.write(json.dumps(event).encode() + b"\n")
        self._replay(event)
        if sync:
            self.sync()

    def sync(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def journal_folder(store: Store) -> Path:
    if is_remote(store.uri):
        raise VindexError(f"organize keeps its journal in the index folder, so it needs a local index, not {store.uri}")
    return Path(store.uri) / JOURNAL_FOLDER


def journal_paths(folder: Path) -> list[Path]:
    return sorted(folder.glob("[0-9]*.jsonl")) if folder.is_dir() else []


def damaged_paths(folder: Path) -> list[Path]:
    """Journals set aside as damaged, oldest first."""
    return sorted(folder.glob(f"[0-9]*.jsonl{DAMAGED_SUFFIX}*")) if folder.is_dir() else []


def journal_number(path: Path) -> int:
    return int(path.name.split(".")[0])


def next_journal_path(folder: Path) -> Path:
    """Numbered after every journal, damaged ones included, so the newest is always the last."""
    numbers = [journal_number(path) for path in journal_paths(folder) + damaged_paths(folder)]
    return folder / f"{max(numbers, default=0) + 1:04d}.jsonl"


def set_aside(path: Path) -> Path:
    """Rename a damaged (or wedged) journal out of the way, kept for a person to read; returns where it went."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside, number = path.with_name(f"{path.name}{DAMAGED_SUFFIX}{stamp}"), 0
    while True:
        try:
            rename_no_replace(str(path), str(aside))
            break
        except FileExistsError:
            number += 1
            aside = path.with_name(f"{path.name}{DAMAGED_SUFFIX}{stamp}-{number}")
    fsync_folder(str(path.parent))
    return aside


def latest_journal(folder: Path, statuses: tuple[str, ...], quiet: bool = False) -> Journal | None:
    """The newest journal whose status is one of `statuses`, not looking past an unfinished one.

    A damaged journal is set aside (see `set_aside`) with a warning, unless `quiet`, and passed
    over: it can no longer say which files were moved, so it holds nothing up.
    """
    for path in reversed(journal_paths(folder)):
        try:
            journal = Journal.load(path)
        except DamagedJournal as damage:
            try:
                aside = set_aside(path)
            except FileNotFoundError:  # another process set it aside first
                continue
            if not quiet:
                logging.getLogger("vindex").warning(
                    "%s; it was moved to %s (the files it moved stay where they are)", damage, aside
                )
            continue
        if journal.status in statuses:
            return journal
        if journal.status in UNFINISHED:
            return None
    return None


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """One organize at a time per index; the lock dies with the process, even on kill -9."""
    import fcntl

    folder.mkdir(exist_ok=True)
    descriptor = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise VindexError("another `vindex organize` is running on this index") from None
        yield
    finally:
        os.close(descriptor)


def interrupted_message(journal: Journal) -> str:
    if journal.status == "undoing":
        return "an organize undo was interrupted: run `vindex organize --undo` to finish it"
    done = sum(e.state in ("done", "present") for e in journal.entries)
    return (
        f"an organize into {journal.dest} was interrupted ({done} of {len(journal.entries)} files done): "
        f"run `vindex organize --dest {journal.dest} --apply` to finish it, or `vindex organize --undo` "
        "to roll it back"
    )

"""What a line of an organize journal may hold, field by field. A journal is a file anyone can
edit, damage or replace: a line that is not what vindex wrote is set aside (into `NAME.rejected`,
with its line number) and passed over, never turned into a move or an index write."""

from __future__ import annotations

import json
import logging
from pathlib import Path

# The longest line vindex writes holds two paths (4 KiB each at most) and a few numbers; anything
# this long was not written by it, and is not parsed (a deep `[[[...` would exhaust the stack).
MAX_LINE = 64 * 1024
REJECTED_SUFFIX = ".rejected"
MODES = ("move", "copy", "link")
RUN_STATUSES = ("applying", "complete", "undoing", "undone")
STATES = ("started", "present", "done", "skipped", "failed", "undo-started", "undone", "undo-failed")
# Events naming a folder, and the list of the journal each goes to.
FOLDER_EVENTS = {
    "folder": "folders",  # apply is about to create it (under --dest)
    "source_removed": "removed_sources",  # apply removed this source folder, which it had emptied
    "undo_removed": "undo_removed",  # undo removed a folder the apply had created
    "undo_created": "undo_created",  # undo (re)created a source folder to put files back in
}
MOVE_FIELDS = {"id": str, "source": str, "target": str, "wanted": str, "folder": str, "cluster": int, "size": int,
               "mtime_ns": int, "content_hash": str}
HEADER_FIELDS = {"vindex_organize": int, "root": str, "dest": str, "mode": str}
# Fields an entry event needs, by state (besides "e" and "state"); None: may be null.
EVENT_FIELDS = {"started": {"target": str}, "present": {"target": str}, "undo-started": {"restore": str},
                "skipped": {"reason": str}, "failed": {"reason": str}, "undo-failed": {"reason": str},
                "done": {"how": (str, None), "new_id": (str, None), "placed": (list, None)}}


def parse(line: bytes) -> tuple[object, str | None]:
    """(the JSON value of a line, None), or (None, why it is not JSON vindex could have written)."""
    if len(line) > MAX_LINE:
        return None, f"{len(line)} bytes long"
    try:
        return json.loads(line), None
    except ValueError:
        return None, "not JSON"
    except RecursionError:
        return None, "nested too deep"


def is_a(value: object, kinds: type | tuple) -> bool:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    for kind in kinds:
        if kind is None and value is None:
            return True
        # A JSON true is a Python int too: never take it for a number.
        if kind is not None and isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return True
    return False


def fields_problem(record: dict, fields: dict) -> str | None:
    for name, kind in fields.items():
        if name not in record:
            return f"no {name!r}"
        if not is_a(record[name], kind):
            return f"{name!r} is {json.dumps(record[name])[:40]}"
    return None


def header_problem(record: object) -> str | None:
    if not isinstance(record, dict):
        return "not a journal header"
    return fields_problem(record, HEADER_FIELDS) or (None if record["mode"] in MODES else "unknown mode")


def move_problem(record: dict) -> str | None:
    if not isinstance(record.get("move"), dict):
        return "'move' is not a planned file"
    return fields_problem(record["move"], MOVE_FIELDS)


def event_problem(record: object, entries: int) -> str | None:
    """Why an event line cannot be replayed onto a journal of `entries` planned files (None: it can)."""
    if not isinstance(record, dict):
        return "not an event"
    kind = next((key for key in FOLDER_EVENTS if key in record), None)
    if kind:
        return None if isinstance(record[kind], str) else f"{kind!r} is not a path"
    if "run" in record:
        return None if record["run"] in RUN_STATUSES else "unknown run status"
    if not is_a(record.get("e"), int) or not 0 <= record["e"] < entries:
        return "no planned file of that number"
    if record.get("state") not in STATES:
        return "unknown state"
    if not is_a(record.get("gone", False), bool):
        return "'gone' is not true or false"
    problem = fields_problem(record, EVENT_FIELDS.get(record["state"], {}))
    if problem is None and record["state"] == "done" and record["placed"] is not None:
        if not all(is_a(number, int) for number in record["placed"]):
            return "'placed' is not a list of numbers"
    return problem


def set_aside(path: Path, number: int, line: bytes, problem: str, quiet: bool = False) -> None:
    """Keep a bad line in `path.rejected` (once, with its number) and say where it was, in one line."""
    rejected = path.with_name(path.name + REJECTED_SUFFIX)
    try:
        known = {json.loads(kept)["line"] for kept in rejected.read_bytes().splitlines() if kept.strip()}
    except (OSError, ValueError, KeyError, TypeError):
        known = set()
    if number in known:
        return
    with open(rejected, "ab") as handle:
        handle.write(json.dumps({"line": number, "problem": problem,
                                 "text": line[:MAX_LINE].decode("utf-8", "replace")}).encode() + b"\n")
    if not quiet:
        logging.getLogger("vindex").warning("%s:%d: not a journal line vindex wrote (%s): set aside in %s and "
                                            "passed over", path, number, problem, rejected)

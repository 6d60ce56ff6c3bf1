"""What `vindex check` says of organize journals, and how `--repair` unwedges one: an organize
left half-done blocks `add` and every other organize until it is finished or put back."""

from __future__ import annotations

from pathlib import Path

from vindex.locations import is_remote
from vindex.organizing.journal import (
    JOURNAL_FOLDER, UNFINISHED, interrupted_message, latest_journal, locked, set_aside,
)


def journal_problems(uri: str) -> list[str]:
    """One line for an organize that was interrupted (its journal blocks `add`), or none."""
    folder = Path(uri) / JOURNAL_FOLDER
    if is_remote(uri) or not folder.is_dir():
        return []
    pending = latest_journal(folder, UNFINISHED)
    if pending is None:
        return []
    return [f"organize: {interrupted_message(pending)}; or `vindex check --repair` to set its journal aside"]


def unwedge(uri: str) -> list[str]:
    """Set aside the journal of an interrupted organize (kept: it records where each file came
    from), so that `add` and `organize` run again. No file is moved."""
    folder = Path(uri) / JOURNAL_FOLDER
    if is_remote(uri) or not folder.is_dir():
        return []
    with locked(folder):
        pending = latest_journal(folder, UNFINISHED)
        if pending is None:
            return []
        aside = set_aside(pending.path)
    return [f"organize: the interrupted organize into {pending.dest} ({pending.status}) was set aside as {aside}: "
            "its files stay where they are now, and that journal records where each came from"]

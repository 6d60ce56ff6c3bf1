"""What an organize run reports: `OrganizeResult` for an apply, `UndoResult` for an undo, both
counted from the journal, so a finished interrupted run reports the whole run."""

from __future__ import annotations

from dataclasses import dataclass, field

from vindex.organizing.journal import Journal
from vindex.organizing.plan import Skipped
from vindex.results import Result


@dataclass
class OrganizeResult(Result):
    """What `--apply` did. `moved` counts files moved (or copied, linked) by the whole plan."""

    root: str
    dest: str
    mode: str
    journal: str | None = None
    resumed: bool = False
    moved: int = 0
    in_place: int = 0
    left: int = 0
    suffixed: list[dict] = field(default_factory=list)  # {"source", "target"}: took a numbered name
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Skipped] = field(default_factory=list)
    folders_removed: int = 0  # source folders the moves emptied, removed
    seconds: float = 0.0

    def count(self, journal: Journal) -> None:
        """Add what the journal's run did to what the plan already said."""
        self.journal = str(journal.path)
        self.folders_removed = len(journal.removed_sources)
        for entry in journal.entries:
            move = entry.move
            if entry.state == "done":
                self.moved += 1
                if move.suffixed:
                    self.suffixed.append({"source": move.source, "target": move.target})
            elif entry.state == "present":
                self.in_place += 1
            elif entry.state == "skipped":
                self.skipped.append(Skipped(move.source, entry.reason))
            elif entry.state in ("failed", "rejected"):
                self.failed.append(Skipped(move.source or "?", entry.reason))


@dataclass
class UndoResult(Result):
    """What `--undo` did: files put back (copies and links removed), and folders removed (those
    the apply made) and made (source folders the apply had removed), as the journal records them."""

    journal: str
    dest: str
    mode: str
    restored: int = 0
    suffixed: list[dict] = field(default_factory=list)  # {"from", "to"}: the original name was taken
    failed: list[Skipped] = field(default_factory=list)
    folders_removed: int = 0
    folders_created: int = 0
    seconds: float = 0.0

    @classmethod
    def of(cls, journal: Journal) -> "UndoResult":
        result = cls(str(journal.path), journal.dest, journal.mode)
        for entry in journal.entries:
            if entry.state == "undone" and entry.restore is not None:
                result.restored += 1
                if journal.mode == "move" and entry.restore != entry.move.source:
                    result.suffixed.append({"from": entry.move.target, "to": entry.restore})
            elif entry.state in ("undo-failed", "rejected"):
                result.failed.append(Skipped(entry.move.target or entry.move.source or "?", entry.reason))
        result.folders_removed, result.folders_created = len(journal.undo_removed), len(journal.undo_created)
        return result

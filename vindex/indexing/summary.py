"""What one `add` did: the counts and failures that the CLI prints and `--json` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vindex.results import Result

if TYPE_CHECKING:
    from vindex.indexing.plan import EmbedJob


@dataclass
class Failure(Result):
    """A file that could not be indexed, and why (one line)."""

    path: str
    reason: str


@dataclass
class AddSummary(Result):
    """What one `add` did. `added` counts new files (copies included), `embedded` the videos decoded."""

    root: str
    db: str
    added: int = 0
    reembedded: int = 0
    renamed: int = 0
    unchanged: int = 0
    removed: int = 0
    embedded: int = 0
    frames: int = 0
    seconds: float = 0.0
    failed: list[Failure] = field(default_factory=list)  # last in `--json`: the long list after the counts

    def count_embedded(self, job: EmbedJob, frames: int) -> None:
        """One job's content was embedded: every file that holds it is added or re-embedded."""
        self.embedded += 1
        self.frames += frames
        self.reembedded += sum(job.changed)
        self.added += len(job.files) - sum(job.changed)

    def count_failed(self, job: EmbedJob, reason: str) -> None:
        """A job that cannot be decoded fails every file that holds its content."""
        self.failed.extend(Failure(file.path, reason) for file in job.files)

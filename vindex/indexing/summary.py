"""What one `add` did: the counts and failures that the CLI prints and `--json` returns."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vindex.locations import shown_path
from vindex.results import Result

if TYPE_CHECKING:
    from vindex.indexing.plan import EmbedJob

# Reasons that say the file could not be read rather than that its content is not a video: a
# `chmod`, a remount or a flaky disk can fix them without changing the file's size or mtime.
TRANSIENT_REASONS = frozenset(
    os.strerror(code) for code in (errno.EACCES, errno.EPERM, errno.EIO, errno.ETIMEDOUT, errno.ESTALE,
                                   errno.EAGAIN, errno.EBUSY, errno.ENOENT, errno.ENXIO, errno.EINTR)
)
UNREADABLE = "unreadable: "


def is_transient(reason: str) -> bool:
    """A failure that may pass on its own, so it is tried again on every add instead of remembered."""
    return reason.startswith(UNREADABLE) or reason in TRANSIENT_REASONS


@dataclass
class Failure(Result):
    """A file that could not be indexed, and why (one line). `transient`: tried again next add."""

    path: str
    reason: str
    transient: bool = field(init=False)

    def __post_init__(self) -> None:
        self.transient = is_transient(self.reason)


@dataclass
class UnreadableFolder(Result):
    """A folder that could not be listed: the rows under it are kept as they are."""

    path: str
    reason: str
    videos_kept: int


@dataclass
class AddSummary(Result):
    """What one `add` did. `added` counts new files (copies included), `embedded` the videos decoded
    and embedded, `fingerprinted` the indexed videos decoded again only for their fingerprints.

    `failed_rows`: ids of rows whose file changed and then failed; their old vectors leave the index.
    """

    root: str
    db: str
    added: int = 0
    reembedded: int = 0
    renamed: int = 0
    unchanged: int = 0
    removed: int = 0
    embedded: int = 0
    frames: int = 0
    fingerprinted: int = 0  # videos indexed before fingerprints existed that got them (decoded, not embedded)
    seconds: float = 0.0
    assigned: int = 0  # new or changed videos placed into the latest clustering's clusters (by `Index.add`)
    notes: list[str] = field(default_factory=list)  # what the user should know (how to upgrade the frame policy)
    unreadable_folders: list[UnreadableFolder] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)  # last in `--json`: the long list after the counts
    failed_rows: list[str] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        """As JSON shows it: paths with U+FFFD for bytes that are not UTF-8, no row ids."""
        facts = super().to_dict()
        del facts["failed_rows"]
        for item in facts["failed"] + facts["unreadable_folders"]:
            item["path"] = shown_path(item["path"])
        return facts

    def count_embedded(self, job: EmbedJob, frames: int) -> None:
        """One job's content was embedded: every file that holds it is added or re-embedded."""
        self.embedded += 1
        self.frames += frames
        self.reembedded += sum(job.changed)
        self.added += len(job.files) - sum(job.changed)

    def count_failed(self, job: EmbedJob, reason: str) -> None:
        """A job that cannot be decoded fails every file that holds its content, and the rows of
        the files among them that held other content before are dropped: that content is gone."""
        self.failed.extend(Failure(file.path, reason) for file in job.files)
        self.failed_rows.extend(video for video, changed in zip(job.ids, job.changed) if changed)

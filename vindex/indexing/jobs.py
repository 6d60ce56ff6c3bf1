"""What one `add` has to do, as the sync plan lists it (`vindex.indexing.plan`): the content to
embed (`EmbedJob`), the rows to move, copy and drop (`SyncPlan`), and the files that failed and why
(`Failure`). Planner, runners, row builder and summary all speak these types, so they live
below all of them.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field

from vindex.results import Result
from vindex.scanning import VideoFile

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
class EmbedJob:
    """Content to decode and embed once, and every row (path) that receives its vectors."""

    content_hash: str
    files: list[VideoFile]
    ids: list[str]
    changed: list[bool]  # per file: True when it replaces older content at the same path


@dataclass
class SyncPlan:
    unchanged: int = 0
    touched: list[tuple[str, VideoFile]] = field(default_factory=list)  # (id, file): same content, new stat
    renamed: list[tuple[str, VideoFile]] = field(default_factory=list)  # (id, file)
    copies: list[tuple[str, str, VideoFile, bool]] = field(default_factory=list)  # (source id, new id, file, changed)
    jobs: list[EmbedJob] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    failed_rows: list[str] = field(default_factory=list)  # ids of rows whose file changed into one that fails
    unreadable: list[UnreadableFolder] = field(default_factory=list)

    def is_empty(self) -> bool:
        """No video at all under the folder, indexed or not."""
        return not (self.unchanged or self.touched or self.renamed or self.copies or self.jobs or self.removed
                    or self.failed or self.unreadable)

    def changes_rows(self) -> bool:
        return bool(self.jobs or self.copies or self.removed or self.renamed or self.touched or self.failed_rows)

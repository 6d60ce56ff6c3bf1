"""One writer at a time per local index: an advisory `fcntl.flock` on a file in the index folder.

Readers never take it: LanceDB readers see the last committed version of each table, so a
query runs while an `add` writes. The kernel drops the lock when its holder exits (even on
kill -9), so a crashed writer never leaves the index locked. Object-store indexes have no lock
(docs/reliability.md says what holds there).
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from pathlib import Path

from vindex.errors import VindexError

LOCK_FILE = "writer.lock"

# Locks this process holds, per lock file and thread: a writer that calls another writing step
# holds the lock once, and a second thread is refused as another process would be.
_held: dict[tuple[str, int], int] = {}
_held_guard = threading.Lock()


def holds_lock(path: Path) -> bool:
    """Whether this process holds the lock file at `path` (a writer reads its own latest writes)."""
    with _held_guard:
        return any(held == str(path) for held, _ in _held)


class WriterBusy(VindexError):
    """Another writer holds the lock (and the caller would not wait)."""


def holder(path: Path) -> str:
    """Who holds the lock at `path`, as its holder wrote it ("pid 12, since 2024-05-01 10:00:00")."""
    try:
        text = path.read_text().strip()
    except OSError:
        return ""
    return text or "pid unknown"


class WriterLock:
    """The writer lock of the index in `folder`, held from `acquire()` to `release()`.

    Another holder makes `acquire` fail at once with one line, or, with `wait`, wait for it. An
    OSError from the lock file itself (a read-only folder) is left to the caller, which knows how
    to explain it.
    """

    def __init__(self, folder: Path, label: str | None = None):
        self.path = folder / LOCK_FILE
        self.label = label or str(folder)
        self._key = (str(self.path), threading.get_ident())
        self._descriptor: int | None = None

    def acquire(self, wait: bool = False) -> WriterLock:
        import fcntl

        with _held_guard:
            if self._key in _held:
                _held[self._key] += 1
                return self
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(descriptor)
            raise WriterBusy(
                f"another vindex is writing to {self.label} ({holder(self.path)}): wait for it or pass --wait"
            ) from None
        since = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()}, since {since}\n".encode(), 0)
        self._descriptor = descriptor
        with _held_guard:
            _held[self._key] = 1
        return self

    def release(self) -> None:
        with _held_guard:
            _held[self._key] -= 1
            if _held[self._key]:
                return
            del _held[self._key]
        if self._descriptor is not None:
            # Emptied before unlocking, so a finished writer is never named as the holder.
            os.ftruncate(self._descriptor, 0)
            os.close(self._descriptor)
            self._descriptor = None

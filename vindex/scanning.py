"""Find video files under a root and fingerprint them.

Only `os.scandir` is used, so an unchanged file costs a single `stat` (which `scandir`
already returns on Linux without an extra system call).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import xxhash

from vindex.errors import os_reason
from vindex.locations import stored_path

VIDEO_EXTENSIONS = frozenset(
    {
        ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv",
        ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".3gp", ".ogv", ".gif",
    }
)
HASH_CHUNK_BYTES = 4 << 20


@dataclass(frozen=True)
class VideoFile:
    """A video file found under the root, as `stat` saw it."""

    path: str  # relative to the root, always with "/" separators, in its stored form (valid UTF-8)
    abs_path: str  # the path `os` functions take
    size: int
    mtime_ns: int

    @property
    def channel(self) -> str:
        return channel_of(self.path)


def channel_of(relative_path: str) -> str:
    """The channel is the first folder under the root; files directly in the root have none."""
    head, sep, _ = relative_path.partition("/")
    return head if sep else ""


def is_outside_root(relative_path: str) -> bool:
    """Rows of files that `vindex organize` moved out of the root keep a path like "../x/y.mp4"."""
    return relative_path == ".." or relative_path.startswith("../")


def is_video_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def scan(root: Path, subdir: Path | None = None,
         unreadable: list[tuple[str, str]] | None = None) -> Iterator[VideoFile]:
    """Yield every video file under `subdir` (default: `root`), paths relative to `root` in their
    stored form (`vindex.locations.stored_path`).

    Hidden files and folders (such as `.vindex` or `.DS_Store`) are skipped. Symlinks are
    followed only when they resolve to a file inside the root, so a link can never pull files
    from outside the collection in, and folder links cannot create loops. A folder that cannot
    be listed, or whose files cannot be looked at, is appended to `unreadable` as (stored path
    relative to the root, "" for the root itself; reason): its files are unknown, not gone.
    """
    root = root.resolve()
    start = (subdir or root).resolve()
    stack = [start]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed while the walk was under way: gone indeed
        except OSError as error:
            _note_unreadable(unreadable, root, folder, error)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                    continue
                if not is_video_name(entry.name):
                    continue
                if entry.is_symlink():
                    target = Path(os.path.realpath(entry.path))
                    if not target.is_file() or not target.is_relative_to(root):
                        continue
                    info = target.stat()
                elif entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                else:
                    continue
            except FileNotFoundError:
                continue
            except OSError as error:
                # A folder that may be listed but not entered (mode r--): its files cannot be stat'ed.
                _note_unreadable(unreadable, root, folder, error)
                continue
            relative = stored_path(Path(entry.path).relative_to(root).as_posix())
            yield VideoFile(relative, entry.path, info.st_size, info.st_mtime_ns)


def _note_unreadable(unreadable: list[tuple[str, str]] | None, root: Path, folder: Path, error: OSError) -> None:
    relative = "" if folder == root else stored_path(folder.relative_to(root).as_posix())
    if unreadable is not None and all(path != relative for path, _ in unreadable):
        unreadable.append((relative, os_reason(error)))


class NotRegularFile(OSError):
    """A FIFO, a device or a folder where a video file was expected: reading it could block or never end."""


def open_regular(path: str) -> int:
    """A read-only descriptor of the regular file at `path`; raises NotRegularFile for anything else.

    O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer; the check is
    on the opened descriptor, so the file cannot be swapped between the check and the read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise NotRegularFile(0, f"not a video file ({kind})", path)
    return fd


def hash_file(path: str) -> str:
    """xxh3-128 of the whole content: fast enough (~10 GB/s) that no sampling shortcut is needed.

    Reads at most the size the file had when opened, so a file that grows while it is read (or a
    special file posing as one) cannot keep it reading forever.
    """
    digest = xxhash.xxh3_128()
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        left = os.fstat(fd).st_size
        while left > 0 and (chunk := handle.read(min(HASH_CHUNK_BYTES, left))):
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()

"""The filesystem primitives of `organize`: renames that never overwrite, verified copies,
links, folder creation and removal, and the fsyncs that make them durable.

They take absolute paths, but act relative to descriptors of the folders involved, each reached
one component at a time from `/` without following a symlink (`open_folder`): the callers check
names and folders first (see `plan.folder_problem`), and a folder swapped for a symlink after
that check makes the step fail instead of sending a file through the link.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Callable, Iterator

import xxhash

from vindex.scanning import HASH_CHUNK_BYTES, hash_file

# Hidden, so `vindex add` never indexes a half-written copy; named by entry, so a re-run finds it.
PARTIAL_PREFIX = ".vindex-partial-"

# Called with a point's name ("before-transfer", "mid-copy", "before-unlink", "after-transfer",
# "after-index") as a run reaches it: the seam through which tests kill a run mid-way.
Checkpoint = Callable[[str], None]

# O_PATH (Linux) needs no read permission on the folder, only the search permission a path needs.
_FOLDER_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def no_checkpoint(point: str) -> None:
    """The checkpoint of every real run: nothing happens."""


class CopyMismatch(Exception):
    """A copy whose bytes are not what they should be; it is deleted and the source kept."""


def _load_renameat2():
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


_RENAMEAT2 = _load_renameat2()
_AT_FDCWD, _RENAME_NOREPLACE = -100, 1


def open_folder(path: str) -> int:
    """A descriptor of the folder at `path`, reached from `/` one component at a time, none of
    them followed if it is a symlink (OSError naming the folder if one is, or is not a folder)."""
    descriptor = os.open("/", _FOLDER_FLAGS)
    try:
        for part in Path(os.path.abspath(path)).parts[1:]:
            try:
                inner = os.open(part, _FOLDER_FLAGS, dir_fd=descriptor)
            except OSError as error:
                if error.errno not in (errno.ENOTDIR, errno.ELOOP):
                    raise
                raise OSError(error.errno, f"{path} is a symlink or not a folder (not followed)", path) from None
            os.close(descriptor)
            descriptor = inner
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


@contextmanager
def folder_of(path: str) -> Iterator[tuple[int, str]]:
    """The descriptor of the folder `path` is in (see `open_folder`), and the name of `path` there."""
    descriptor = open_folder(os.path.dirname(path))
    try:
        yield descriptor, os.path.basename(path)
    finally:
        os.close(descriptor)


def rename_at(source_folder: int, source: str, target_folder: int, target: str) -> None:
    """Rename within or between folder descriptors, failing with FileExistsError (never
    overwriting) when `target` exists.

    Linux's renameat2(RENAME_NOREPLACE) makes the check and the rename one atomic step; where
    it is missing (other systems, some filesystems) the check comes just before the rename.
    """
    if _RENAMEAT2 is not None:
        if _RENAMEAT2(source_folder, os.fsencode(source), target_folder, os.fsencode(target), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), source, None, target)
    source_fd, target_fd = (None if fd == _AT_FDCWD else fd for fd in (source_folder, target_folder))
    with suppress(FileNotFoundError):
        os.stat(target, dir_fd=target_fd, follow_symlinks=False)
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), target)
    os.rename(source, target, src_dir_fd=source_fd, dst_dir_fd=target_fd)


def rename_no_replace(source: str, target: str) -> None:
    """Rename by path, never overwriting (see `rename_at`); for files of the index's own folder."""
    rename_at(_AT_FDCWD, source, _AT_FDCWD, target)


def fsync_folder(folder: str, dir_fd: int | None = None) -> None:
    """Make renames and new names in `folder` (relative to `dir_fd`) durable (a no-op where the
    filesystem cannot)."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY, dir_fd=dir_fd)
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(descriptor)


def make_folder(path: str) -> None:
    """Create one folder and make its name durable in its parent."""
    with folder_of(path) as (parent, name):
        os.mkdir(name, dir_fd=parent)
    fsync_folder(os.path.dirname(path))


def remove_empty_folder(path: str) -> bool:
    """Remove `path` if it is an empty folder; False when it is not (or is gone already)."""
    try:
        with folder_of(path) as (parent, name):
            os.rmdir(name, dir_fd=parent)
    except OSError:
        return False
    return True


def unlink_file(path: str) -> None:
    """Remove a file (never following a symlinked folder to it)."""
    with folder_of(path) as (parent, name):
        os.unlink(name, dir_fd=parent)


def partial_name(entry: int) -> str:
    return f"{PARTIAL_PREFIX}{entry}"


def discard_partial(target: str, entry: int) -> None:
    """Remove the half-made copy a killed run may have left beside `target`."""
    with suppress(OSError):  # no folder (or no longer a real one): no copy of ours in it
        unlink_file(os.path.join(os.path.dirname(target), partial_name(entry)))


def same_content(a: str, b: str, content_hash: str | None = None) -> bool:
    """Both regular files with equal bytes (and, when given, this xxh3 content hash)."""
    try:
        info_a, info_b = os.lstat(a), os.lstat(b)
        if not (stat.S_ISREG(info_a.st_mode) and stat.S_ISREG(info_b.st_mode)) or info_a.st_size != info_b.st_size:
            return False
        digest = hash_file(b)
        return digest == (content_hash or hash_file(a))
    except OSError:
        return False


def placed_identity(path: str) -> list[int] | None:
    """What tells this very file apart later without reading it: device, inode and change time
    (which no one can set back) as it is right after the step put it at `path`."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return [info.st_dev, info.st_ino, info.st_ctime_ns]


def is_placed_file(path: str, size: int, mtime_ns: int, placed: list[int] | None, content_hash: str | None) -> bool:
    """Is the file at `path` the one a step put there? The same inode, unchanged since, is;
    otherwise a regular file of the same size is when its content has the indexed hash."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_size != size:
        return False
    if placed == [info.st_dev, info.st_ino, info.st_ctime_ns] and info.st_mtime_ns == mtime_ns:
        return True
    if not content_hash:
        return info.st_mtime_ns == mtime_ns  # nothing better to go by
    try:
        return hash_file(path) == content_hash
    except OSError:
        return False


def is_link_to(source: str, target: str) -> bool:
    """`target` is a hard link to or a symlink at `source`."""
    try:
        if os.path.islink(target):
            return os.readlink(target) == source
        return os.path.samefile(source, target)
    except OSError:
        return False


def _hash_at(folder: int, name: str) -> str:
    digest = xxhash.xxh3_128()
    with open(os.open(name, os.O_RDONLY | _FILE_FLAGS, dir_fd=folder), "rb") as reader:
        while chunk := reader.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def copy_verified(source: tuple[int, str], target: tuple[int, str], partial: str, content_hash: str | None,
                  checkpoint: Checkpoint = no_checkpoint) -> None:
    """Copy (folder descriptor, name) `source` to a hidden partial file beside `target`, keep
    its mode and times, fsync it, check size and xxh3 hash (read back), then rename it to
    `target` without overwriting. On any failure the partial file is removed."""
    (source_folder, source_name), (target_folder, target_name) = source, target
    digest = xxhash.xxh3_128()
    try:
        with open(os.open(source_name, os.O_RDONLY | _FILE_FLAGS, dir_fd=source_folder), "rb") as reader, \
                open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FILE_FLAGS, 0o600,
                             dir_fd=target_folder), "wb") as writer:
            while chunk := reader.read(HASH_CHUNK_BYTES):
                writer.write(chunk)
                digest.update(chunk)
                checkpoint("mid-copy")
            writer.flush()
            info = os.fstat(reader.fileno())
            os.chmod(writer.fileno(), stat.S_IMODE(info.st_mode))
            os.utime(writer.fileno(), ns=(info.st_atime_ns, info.st_mtime_ns))
            os.fsync(writer.fileno())
            copied = os.fstat(writer.fileno()).st_size
        if content_hash and digest.hexdigest() != content_hash:
            raise CopyMismatch("its content differs from the index (run `vindex add` first)")
        if copied != info.st_size or _hash_at(target_folder, partial) != digest.hexdigest():
            raise CopyMismatch("the copy did not verify (size or hash differs)")
        rename_at(target_folder, partial, target_folder, target_name)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(partial, dir_fd=target_folder)
        raise
    fsync_folder(".", target_folder)


def transfer(source: str, target: str, mode: str, partial: str, content_hash: str | None,
             checkpoint: Checkpoint = no_checkpoint) -> str:
    """Move, copy or link one file; returns how. Never overwrites: FileExistsError if `target`
    exists. `partial` names the hidden file a copy is made in, beside `target`. The caller
    fsyncs the folders of a rename or link; a copy is made durable here, before its source is
    deleted."""
    with folder_of(source) as (source_folder, source_name), folder_of(target) as (target_folder, target_name):
        if mode == "link":
            try:
                os.link(source_name, target_name, src_dir_fd=source_folder, dst_dir_fd=target_folder,
                        follow_symlinks=False)
                return "hardlink"
            except FileExistsError:
                raise
            except OSError:  # another filesystem, or one without hard links
                os.symlink(source, target_name, dir_fd=target_folder)
                return "symlink"
        if mode == "move":
            try:
                rename_at(source_folder, source_name, target_folder, target_name)
                return "rename"
            except OSError as error:
                if error.errno != errno.EXDEV:
                    raise
        copy_verified((source_folder, source_name), (target_folder, target_name), partial, content_hash, checkpoint)
        if mode == "move":
            checkpoint("before-unlink")
            try:
                os.unlink(source_name, dir_fd=source_folder)
            except OSError:
                os.unlink(target_name, dir_fd=target_folder)  # the verified copy we just made: the file stays
                raise
    return "copy"


def transfer_finished(source: str, target: str, mode: str) -> bool:
    """After a kill between journaling a step and its end: did the file get there? A verified
    cross-filesystem copy whose source was not deleted yet is finished here."""
    if not os.path.lexists(target):
        return False
    if mode == "link":
        return is_link_to(source, target)
    if mode == "copy":
        return same_content(source, target)
    if not os.path.lexists(source):
        return True
    if same_content(source, target):
        unlink_file(source)
        fsync_folder(os.path.dirname(source))
        return True
    return False  # the name was taken by another file: the step is done again under a new name

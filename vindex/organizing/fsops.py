"""The filesystem primitives of `organize`: renames that never overwrite, verified copies,
links, folder creation and removal, and the fsyncs that make them durable.

They take paths; the callers check names and folders first (see `plan.folder_problem`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import stat
from contextlib import suppress
from typing import Callable

import xxhash

from vindex.scanning import HASH_CHUNK_BYTES, hash_file

# Hidden, so `vindex add` never indexes a half-written copy; named by entry, so a re-run finds it.
PARTIAL_PREFIX = ".vindex-partial-"

# Called with a point's name ("before-transfer", "mid-copy", "before-unlink", "after-transfer",
# "after-index") as a run reaches it: the seam through which tests kill a run mid-way.
Checkpoint = Callable[[str], None]


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


def rename_no_replace(source: str, target: str) -> None:
    """Rename, failing with FileExistsError (never overwriting) when `target` exists.

    Linux's renameat2(RENAME_NOREPLACE) makes the check and the rename one atomic step; where
    it is missing (other systems, some filesystems) the check comes just before the rename.
    """
    if _RENAMEAT2 is not None:
        if _RENAMEAT2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), source, None, target)
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), target)
    os.rename(source, target)


def fsync_folder(folder: str) -> None:
    """Make renames and new names in `folder` durable (a no-op where the filesystem cannot)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(descriptor)


def make_folder(path: str) -> None:
    """Create one folder and make its name durable in its parent."""
    os.mkdir(path)
    fsync_folder(os.path.dirname(path))


def remove_empty_folder(path: str) -> bool:
    """Remove `path` if it is an empty folder; False when it is not (or is gone already)."""
    try:
        os.rmdir(path)
    except OSError:
        return False
    return True


def discard(path: str) -> None:
    """Remove a file if it is there."""
    with suppress(FileNotFoundError):
        os.unlink(path)


def partial_path(folder: str, entry: int) -> str:
    return os.path.join(folder, f"{PARTIAL_PREFIX}{entry}")


def discard_partial(target: str, entry: int) -> None:
    """Remove the half-made copy a killed run may have left beside `target`."""
    discard(partial_path(os.path.dirname(target), entry))


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


def is_link_to(source: str, target: str) -> bool:
    """`target` is a hard link to or a symlink at `source`."""
    try:
        if os.path.islink(target):
            return os.readlink(target) == source
        return os.path.samefile(source, target)
    except OSError:
        return False


def copy_verified(source: str, target: str, partial: str, content_hash: str | None,
                  checkpoint: Checkpoint = no_checkpoint) -> None:
    """Copy to a hidden partial file, fsync it, check size and xxh3 hash (read back), then
    rename it to `target` without overwriting. On any failure the partial file is removed."""
    digest = xxhash.xxh3_128()
    try:
        with open(source, "rb") as reader, open(partial, "xb") as writer:
            while chunk := reader.read(HASH_CHUNK_BYTES):
                writer.write(chunk)
                digest.update(chunk)
                checkpoint("mid-copy")
            writer.flush()
            os.fsync(writer.fileno())
        shutil.copystat(source, partial)
        if content_hash and digest.hexdigest() != content_hash:
            raise CopyMismatch("its content differs from the index (run `vindex add` first)")
        if os.path.getsize(partial) != os.path.getsize(source) or hash_file(partial) != digest.hexdigest():
            raise CopyMismatch("the copy did not verify (size or hash differs)")
        rename_no_replace(partial, target)
    except BaseException:
        discard(partial)
        raise
    fsync_folder(os.path.dirname(target))


def transfer(source: str, target: str, mode: str, partial: str, content_hash: str | None,
             checkpoint: Checkpoint = no_checkpoint) -> str:
    """Move, copy or link one file; returns how. Never overwrites: FileExistsError if `target`
    exists. The caller fsyncs the folders of a rename or link; a copy is made durable here,
    before its source is deleted."""
    if mode == "link":
        try:
            os.link(source, target, follow_symlinks=False)
            return "hardlink"
        except FileExistsError:
            raise
        except OSError:  # another filesystem, or one without hard links
            os.symlink(source, target)
            return "symlink"
    if mode == "move":
        try:
            rename_no_replace(source, target)
            return "rename"
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
    copy_verified(source, target, partial, content_hash, checkpoint)
    if mode == "move":
        checkpoint("before-unlink")
        try:
            os.unlink(source)
        except OSError:
            os.unlink(target)  # the verified copy we just made: the file stays where it was
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
        os.unlink(source)
        fsync_folder(os.path.dirname(source))
        return True
    return False  # the name was taken by another file: the step is done again under a new name

"""What the index's storage can fail with, said so a user can act on it: an index they may not
write, a full disk, damaged table files (and which version), a server's answer, never the
Rust source lines LanceDB quotes. `reads` and `writes` put the store's methods behind it."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from pathlib import Path

from vindex.errors import VindexError, first_line
from vindex.locations import is_remote

U64_MAX = 2**64 - 1
# Where a LanceDB error quotes the library's own source (", /root/.cargo/.../utils.rs:172:20").
RUST_SOURCE = re.compile(r",? ?/\S+\.rs:\d+:\d+")
LANCE_PREFIX = re.compile(r"^(lance error: )?(LanceError\(\w+\): )?")
# What Lance says when a table's manifest or data file is truncated, garbled or gone (seen by
# truncating, garbling and removing each kind of file; tests/test_store_reliability.py does it).
DAMAGE_SIGNS = (
    "file size is too small", "does not have sufficient data", "failed to fill whole buffer", "outside file of size",
    "corrupt", "invalid range", "not found:", "panicked", "unexpected eof", "failed to decode", "invalid manifest",
    "does not appear to be a lance file", "invalid magic", "was not found",  # (its versions folder is gone)
)


def storage_reason(error: BaseException) -> str:
    """The part of a LanceDB/object-store error a user can act on, not the Rust debug dump around it.

    S3-style servers explain themselves in an XML body (<Code>NoSuchBucket</Code>); connection
    failures end in `message: "Connection refused"`.
    """
    text = str(error)
    code, message = re.search(r"<Code>(.*?)</Code>", text), re.search(r"<Message>(.*?)</Message>", text)
    if code or message:
        return ": ".join(m.group(1) for m in (code, message) if m)
    found = re.findall(r'message: "([^"]+)"', text)
    if found:
        return found[-1]
    # "lance error: LanceError(IO): file size is too small, /root/.cargo/.../utils.rs:172:20"
    text = RUST_SOURCE.sub("", first_line(error, 1000))
    return LANCE_PREFIX.sub("", text)[:160] or type(error).__name__


def storage_error(uri: str, error: BaseException, writing: bool, table: str | None = None) -> VindexError | None:
    """The one-line error, with what to do, for a LanceDB failure whose cause a user can fix: an
    index they may not write (or read), a full disk, or damaged table files. None for any other
    failure, which is left as it is (a bug, not the user's to fix). `table`: the table being read,
    when the error does not name it."""
    text = str(error)
    if "Permission denied" in text or "os error 13" in text or "Read-only file system" in text:
        cause = "read-only file system" if "Read-only" in text else "permission denied"
        if writing:
            return VindexError(f"cannot write to {uri}: {cause} (read-only disk?): "
                               "copy it somewhere writable or fix permissions")
        return VindexError(f"cannot read {uri}: {cause}: fix the permissions of the index folder")
    if "No space left" in text or "os error 28" in text:
        return VindexError(f"cannot write to {uri}: the disk is full: free some space and run the command again")
    lowered = text.lower()
    if not is_remote(uri) and any(sign in lowered for sign in DAMAGE_SIGNS):
        named = re.search(r"(\w+)\.lance/", text)
        name = table or (named.group(1) if named else None)
        return damaged(uri, name, latest_version_on_disk(uri, name) if name else None, storage_reason(error))
    return None


def damaged(uri: str, table: str | None, version: int | None, reason: str) -> VindexError:
    what = f"{table} version {version}" if table and version else table or "a table"
    return VindexError(f"the index at {uri} is damaged ({what} cannot be read: {reason}): "
                       "run `vindex check --repair`")


def latest_version_on_disk(uri: str, table: str) -> int | None:
    """The newest version of a local table that has a manifest file, readable or not."""
    folder = Path(uri) / f"{table}.lance" / "_versions"
    try:
        names = [entry.name for entry in os.scandir(folder) if entry.name.endswith(".manifest")]
    except OSError:
        return None
    return max((manifest_version(name) for name in names), default=None)


def manifest_version(name: str) -> int:
    """The version a manifest file is for: Lance names them `N.manifest`, or (its newer scheme,
    so the newest sorts first) `(2**64 - 1 - N).manifest`."""
    number = int(name.split(".")[0])
    return U64_MAX - number if number > U64_MAX // 2 else number


def _guarded(writing: bool) -> Callable:
    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):  # self: the Store, which has a `uri`
            outermost = writing and not getattr(self, "_writing_depth", 0)
            try:
                if writing:
                    self._writing_depth = getattr(self, "_writing_depth", 0) + 1
                try:
                    result = method(self, *args, **kwargs)
                finally:
                    if writing:
                        self._writing_depth -= 1
                if outermost:  # a whole write step done: readers may see it now
                    from vindex.store.versions import publish_tables

                    publish_tables(getattr(self, "store", self))  # a table wrapper (CurationLog): its store
                return result
            except VindexError:
                raise
            except Exception as error:
                from vindex.store.versions import reopened_at_newer_set

                if not writing and reopened_at_newer_set(self):  # the table read was replaced, not damaged
                    return guarded(self, *args, **kwargs)
                explained = storage_error(self.uri, error, writing)
                if explained is None:
                    raise
                raise explained from None

        return guarded

    return decorate


# The store's methods that touch table files: a LanceDB failure a user can fix becomes one line.
reads, writes = _guarded(writing=False), _guarded(writing=True)

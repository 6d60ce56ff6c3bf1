"""Errors a user can act on: the CLI prints their message as one line and exits non-zero."""

from __future__ import annotations

import os


class VindexError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class DecodeError(VindexError):
    """A file that cannot be decoded as a video."""


def first_line(error: BaseException | str, limit: int = 200) -> str:
    """The first non-empty line of an error's text (its type's name when it has none), at most `limit` characters."""
    text = str(error).strip()
    if not text:
        return type(error).__name__ if isinstance(error, BaseException) else ""
    return text.splitlines()[0][:limit]


def os_reason(error: BaseException) -> str:
    """What an OSError says happened ("Permission denied"), without the errno and path around it."""
    return getattr(error, "strerror", None) or first_line(error)


def os_error_line(error: OSError) -> str:
    """An OSError met on a path (a `stat` or `realpath` refused, say) as one line naming the path:
    "/media/x: Permission denied", never the errno and the exception's name."""
    names = [name for name in (error.filename, error.filename2) if name is not None]
    where = " -> ".join(os.fsdecode(name) if isinstance(name, bytes) else str(name) for name in names)
    reason = os_reason(error)
    if isinstance(error, PermissionError):
        reason += " (check the permissions of that path and the folders above it)"
    return f"{where}: {reason}" if where else reason

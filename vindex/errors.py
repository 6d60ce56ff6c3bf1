"""Errors a user can act on: the CLI prints their message as one line and exits non-zero."""


class VindexError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class DecodeError(VindexError):
    """A file that cannot be decoded as a video."""

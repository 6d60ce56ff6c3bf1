"""Where things are: local paths or object-store URIs, and paths joined under an index root.

A file name need not be valid UTF-8 (bytes from an old archive or a Samba share), but the index
stores text. Python gives such a name with each undecodable byte as a surrogate U+DC80..U+DCFF
(PEP 383); the stored form writes that byte as NUL and two hex digits instead ("caf\\x00e9.mp4"),
which is valid UTF-8, loses nothing, and cannot be taken for a real name: no POSIX path holds NUL.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from vindex.defaults import INDEX_FOLDER
from vindex.errors import VindexError

# Python's surrogateescape stands for byte 0xXY by the character U+DCXY (0x80 <= XY <= 0xFF).
ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
STORED_BYTE = re.compile("\x00([89a-f][0-9a-f])")
REPLACEMENT = "\ufffd"


def is_remote(uri: str | Path) -> bool:
    """An object-store URI (s3://, gs://, az://, memory://) rather than a local path."""
    return "://" in str(uri)


def stored_path(relative: str) -> str:
    """The form of a relative path that the index stores: valid UTF-8 whatever the name's bytes."""
    return ESCAPED_BYTE.sub(lambda m: f"\x00{ord(m.group()) - 0xDC00:02x}", relative)


def disk_path(stored: str) -> str:
    """The path that `os` functions take for a stored path (the inverse of `stored_path`)."""
    return STORED_BYTE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), stored) if "\x00" in stored else stored


def shown_path(path: str) -> str:
    """A stored or on-disk path as people and JSON see it: U+FFFD for each byte that is not UTF-8."""
    return ESCAPED_BYTE.sub(REPLACEMENT, STORED_BYTE.sub(REPLACEMENT, path) if "\x00" in path else path)


def join_root(root: str, relative_path: str) -> str:
    """A file's location on disk from the index root and its (stored) path relative to that root."""
    relative_path = disk_path(relative_path)
    return f"{root.rstrip('/')}/{relative_path}" if is_remote(root) else str(Path(root) / relative_path)


def resolve_db(db: str | None, root: Path | None = None) -> str:
    """Where the index lives: `--db`, else $VINDEX_DB, else a `.vindex` folder found from the
    working directory upward, else (when adding) a new `.vindex` beside the scanned folder."""
    if db:
        return _expand(db)
    if os.environ.get("VINDEX_DB"):
        return _expand(os.environ["VINDEX_DB"])
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / INDEX_FOLDER).is_dir():
            return str(folder / INDEX_FOLDER)
    if root is not None:
        return str(root.resolve().parent / INDEX_FOLDER)
    raise VindexError("no index found here: run `vindex add FOLDER` first, or pass --db PATH (or set VINDEX_DB)")


def _expand(uri: str) -> str:
    return uri if is_remote(uri) else str(Path(uri).expanduser().absolute())

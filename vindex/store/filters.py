"""`--under FOLDER` and `--name GLOB` as one SQL filter on the videos table.

Every command that takes them (query, similar, show, dupes) builds its `where` here, so the
filter goes into LanceDB's query (a prefilter) rather than trimming a top-k afterwards. Stored
paths are relative to the index root, posix, with bytes that are not UTF-8 escaped
(`vindex.locations.stored_path`); the filter speaks that form.

A folder is a `starts_with` on the path. A glob becomes a `regexp_like` on the path's last
component: LIKE cannot say "no slash", which `*` needs to match within the file name only. Every
character that is not a letter or digit goes into the pattern as `\\x{HEX}`, so neither a regex
nor an SQL quote can come from a file name.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from vindex.errors import VindexError
from vindex.locations import is_remote, stored_path

# One character of a stored name: an escaped byte (NUL and two hex digits) or any other but `/`.
ANY_CHARACTER = r"(?:\x{0}[89a-f][0-9a-f]|[^/])"


def video_filter(root: str | None, under: str | Path | None = None, name: str | None = None) -> str | None:
    """The `where` clause on the videos table for these filters, or None when there is none."""
    clauses = []
    if under is not None and str(under) != "":
        prefix = under_prefix(root, under)
        if prefix:
            clauses.append(f"starts_with(path, {sql_text(prefix + '/')})")
    if name is not None:
        clauses.append(f"regexp_like(path, {sql_text(glob_regex(name))})")
    return all_of(*clauses)


def all_of(*clauses: str | None) -> str | None:
    """The clauses joined with AND (None ones left out); None when none is left."""
    present = [f"({clause})" for clause in clauses if clause]
    return " AND ".join(present) or None


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def under_prefix(root: str | None, under: str | Path) -> str:
    """The stored form of the folder `under`, relative to the root ("" for the root itself).

    `under` is a real folder (absolute, or relative to the working directory) when it lies inside
    the root, and otherwise read as relative to the root, the way stored paths are written.
    """
    if not root:
        raise VindexError("the index records no root folder: --under needs one (run `vindex add FOLDER`)")
    text = os.fspath(under)
    if is_remote(root):
        base = root.rstrip("/") + "/"
        if text.rstrip("/") + "/" == base:
            return ""
        if text.startswith(base):
            return _relative(text[len(base):], under, root)
        if is_remote(text) or text.startswith("/"):
            raise _outside(under, root)
        return _relative(text, under, root)
    given = Path(text).expanduser()
    if given.is_absolute() or text.startswith(("./", "../", "~")) or text in (".", ".."):
        return _inside(given, under, root)
    on_disk = Path.cwd() / given
    if on_disk.exists():
        try:
            return _inside(on_disk, under, root)
        except VindexError:
            pass  # a folder of that name here, outside the root: read `under` as relative to the root
    return _relative(text, under, root)


def _inside(folder: Path, under: str | Path, root: str) -> str:
    """`folder`'s path relative to `root`, as written or with links resolved; outside is an error."""
    for path, base in ((Path(os.path.abspath(folder)), Path(os.path.abspath(root))),
                       (folder.resolve(), Path(root).resolve())):
        if path.is_relative_to(base):
            relative = path.relative_to(base).as_posix()
            return "" if relative == "." else stored_path(relative)
    raise _outside(under, root)


def _relative(text: str, under: str | Path, root: str) -> str:
    relative = posixpath.normpath(text.replace(os.sep, "/")).strip("/")
    if relative.split("/")[0] == "..":
        raise _outside(under, root)
    return "" if relative == "." else stored_path(relative)


def _outside(under: str | Path, root: str) -> VindexError:
    return VindexError(f"--under {os.fspath(under)}: that folder is outside the index root {root}")


def glob_regex(glob: str) -> str:
    """A regular expression (Rust `regex` syntax, as LanceDB runs it) matching stored paths whose
    file name matches `glob`: `*` any run of characters, `?` one, `[abc]`/`[!abc]` a set, as
    Python's fnmatch and shell globs read them, case-sensitive."""
    if not glob:
        raise VindexError("--name is empty: give a file name pattern such as '*beach*'")
    if "/" in glob:
        raise VindexError(f"--name {glob}: the pattern matches file names only; use --under for folders")
    glob = stored_path(glob)
    parts, position = [], 0
    while position < len(glob):
        character = glob[position]
        position += 1
        if character == "*":
            parts.append(f"{ANY_CHARACTER}*")
        elif character == "?":
            parts.append(ANY_CHARACTER)
        elif character == "[" and (end := _set_end(glob, position)) is not None:
            parts.append(_character_set(glob[position:end]))
            position = end + 1
        else:
            parts.append(_literal(character))
    return "(^|/)" + "".join(parts) + "$"


def _set_end(glob: str, start: int) -> int | None:
    """Where the `]` closing a set opened just before `start` is (None: the `[` is literal)."""
    position = start + (glob[start:start + 1] == "!")
    position += glob[position:position + 1] == "]"  # a `]` first in the set is a member
    end = glob.find("]", position)
    return end if end >= 0 else None


def _character_set(members: str) -> str:
    negated = members.startswith("!")
    members = members[1:] if negated else members
    items, position = [], 0
    while position < len(members):
        if position + 2 < len(members) and members[position + 1] == "-":
            items.append(f"{_literal(members[position])}-{_literal(members[position + 2])}")
            position += 3
        else:
            items.append(_literal(members[position]))
            position += 1
    return f"[^/{''.join(items)}]" if negated else f"[{''.join(items)}]"


def _literal(character: str) -> str:
    return character if character.isascii() and character.isalnum() else f"\\x{{{ord(character):x}}}"

"""Names `organize` creates: cluster folders and file names that are safe on any filesystem,
and the path arithmetic that keeps every target inside --dest."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

UNSORTED = "unsorted"
NO_CHANNEL = "no-channel"
NAME_MAX_BYTES = 255  # the limit of one path component on ext4, XFS, btrfs, APFS and NTFS (in UTF-16 units)
SLUG_MAX_BYTES = 100  # leaves room for the cluster id and a file name below NAME_MAX_BYTES
EXTENSION_MAX_BYTES = 32  # a longer "extension" is part of the name (`a.very-long-dotted-title`)
RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
)


def byte_length(text: str) -> int:
    return len(os.fsencode(text))


def fit(stem: str, tail: str = "", limit: int = NAME_MAX_BYTES) -> str:
    """`stem + tail`, with the stem shortened until it fits in `limit` bytes."""
    while stem and byte_length(stem + tail) > limit:
        stem = stem[:-1]
    return stem + tail


def slug(text: str | None) -> str:
    """Lower-case letters and digits (of any script) joined by single dashes; nothing else survives."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    text = re.sub(r"-{2,}", "-", "".join(c if c.isalnum() else "-" for c in text)).strip("-")
    return fit(text, limit=SLUG_MAX_BYTES).strip("-")


def folder_name(cluster: int, name: str | None) -> str:
    """`<id>-<name-slug>`, `cluster_<id>` when the cluster has no usable name, `unsorted` for noise."""
    if cluster < 0:
        return UNSORTED
    text = slug(name)
    return f"{cluster}-{text}" if text else f"cluster_{cluster}"


def readable(name: str | None) -> str:
    """A name the user chose, kept as typed where filesystems allow (`Zoë's favourite clips`): no
    separators, no characters Windows refuses, no control characters, not hidden, not too long."""
    text = unicodedata.normalize("NFC", name or "")
    text = "".join(" " if c in '/\\:*?"<>|' or unicodedata.category(c) in ("Cc", "Cf") else c for c in text)
    text = fit(" ".join(text.split()).lstrip("."), limit=SLUG_MAX_BYTES).strip(" .")
    if text.split(".")[0].upper() in RESERVED_NAMES:
        text = "_" + text
    return text


def cluster_folders(names: dict[int, str], chosen: set[int]) -> dict[int, str]:
    """The folder of every cluster: the user's own name as typed for the clusters in `chosen`
    (`Beach trips`), `<id>-<name-slug>` for the others; a name that would collide with another
    folder (case-insensitively) gets its cluster id, ` (3)`."""
    folders: dict[int, str] = {}
    taken = {UNSORTED}
    for cluster in sorted(names, key=lambda c: (c not in chosen, c)):
        folder = readable(names[cluster]) if cluster in chosen else ""
        folder = folder if folder and folder.casefold() not in taken else ""
        folders[cluster] = folder or folder_name(cluster, names[cluster])
        if folders[cluster].casefold() in taken:
            folders[cluster] = fit(readable(names[cluster]) or f"cluster_{cluster}", f" ({cluster})")
        taken.add(folders[cluster].casefold())
    return folders


def safe_name(name: str, fallback: str) -> str:
    """One path component that is safe to create: no separators or control characters, not
    hidden (nor `.`/`..`), not a reserved device name, at most 255 bytes with its extension kept."""
    name = "".join("_" if c in "/\\" or unicodedata.category(c) == "Cc" else c for c in name)
    name = re.sub(r"^\.+", "_", name.strip().rstrip(". "))
    if not name.strip("_"):
        return fallback
    if name.split(".")[0].upper() in RESERVED_NAMES:
        name = "_" + name
    stem, extension = os.path.splitext(name)
    if byte_length(extension) > EXTENSION_MAX_BYTES:
        stem, extension = name, ""
    return fit(stem, extension)


def numbered(name: str, number: int) -> str:
    """`clip.mp4` → `clip-2.mp4`, still within the length limit."""
    stem, extension = os.path.splitext(name)
    return fit(stem, f"-{number}{extension}")


def numbered_path(path: str, number: int) -> str:
    """`path` with its file name numbered (`number` 0 is `path` itself)."""
    if not number:
        return path
    folder, name = os.path.split(path)
    return os.path.join(folder, numbered(name, number))


def inside(folder: str, path: str) -> bool:
    return os.path.commonpath([folder, path]) == folder


def claim_key(path: str) -> str:
    # Names that differ only by case collide on case-insensitive filesystems.
    return path.casefold()


def relative(path: str, root: str) -> str:
    return Path(os.path.relpath(path, root)).as_posix()

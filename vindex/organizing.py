"""`organize`: move (or copy, or link) indexed videos into one folder per cluster, safely.

A plan maps each clustered video to DEST/<id>-<name-slug>/<file name>. Applying it is
journaled in the index folder: the whole plan is written first, then every step is recorded
and fsynced before it is taken, so a run killed at any point can be finished (`--apply` again)
or rolled back (`--undo`) with every file present exactly once. A move is a rename within a
filesystem and copy + verify + delete across filesystems; nothing is ever overwritten. The
index follows the files: rows get their new path and stat, their vectors stay as they are.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import shutil
import signal
import stat
import time
import unicodedata
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import xxhash

from vindex.errors import VindexError
from vindex.indexing import apply_copies, video_id
from vindex.results import ProgressHook
from vindex.scanning import HASH_CHUNK_BYTES, VideoFile, hash_file, is_outside_root
from vindex.store import Store

MODES = ("move", "copy", "link")
NOISE_POLICIES = ("move", "keep")
UNSORTED = "unsorted"
NO_CHANNEL = "no-channel"
JOURNAL_FOLDER = "organize"
JOURNAL_VERSION = 1
# Hidden, so `vindex add` never indexes a half-written copy; named by entry, so a re-run finds it.
PARTIAL_PREFIX = ".vindex-partial-"
NAME_MAX_BYTES = 255
SLUG_MAX_BYTES = 100
INDEX_EVERY = 256
# Steps journaled together: their "started" events share one fsync, their folders another.
STEP_BATCH = 128
RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
)
# For tests only: "POINT:N" makes the process SIGKILL itself the Nth time it reaches `checkpoint(POINT)`.
CRASH_ENV = "VINDEX_ORGANIZE_CRASH_AT"
_checkpoints_reached: Counter = Counter()


def checkpoint(point: str) -> None:
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    name, _, count = wanted.partition(":")
    if name == point:
        _checkpoints_reached[point] += 1
        if _checkpoints_reached[point] == int(count or 1):
            os.kill(os.getpid(), signal.SIGKILL)


# -- names ------------------------------------------------------------------------------------

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
    if byte_length(extension) > 32:
        stem, extension = name, ""
    return fit(stem, extension)


def numbered(name: str, number: int) -> str:
    """`clip.mp4` → `clip-2.mp4`, still within the length limit."""
    stem, extension = os.path.splitext(name)
    return fit(stem, f"-{number}{extension}")


def inside(folder: str, path: str) -> bool:
    return os.path.commonpath([folder, path]) == folder


def claim_key(path: str) -> str:
    # Names that differ only by case collide on case-insensitive filesystems.
    return path.casefold()


def relative(path: str, root: str) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


# -- the plan ---------------------------------------------------------------------------------

@dataclass
class Move:
    """One file of the plan: where it is, where it goes, and what the index says it holds."""

    id: str
    source: str
    target: str
    wanted: str  # the target before any numbered suffix
    folder: str
    cluster: int
    size: int
    mtime_ns: int
    content_hash: str

    @property
    def suffixed(self) -> bool:
        return self.target != self.wanted


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class FolderSummary:
    folder: str
    cluster: int
    name: str | None
    files: int
    samples: list[str]


@dataclass
class OrganizePlan:
    """What `--apply` would do. `left`: noise kept in place and never-clustered videos."""

    root: str
    dest: str
    mode: str
    noise: str
    keep_channel: bool
    names: dict[int, str] = field(default_factory=dict)
    moves: list[Move] = field(default_factory=list)
    in_place: int = 0
    left: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def folders(self) -> list[FolderSummary]:
        groups: dict[str, FolderSummary] = {}
        for move in self.moves:
            summary = groups.setdefault(
                move.folder, FolderSummary(move.folder, move.cluster, self.names.get(move.cluster), 0, [])
            )
            summary.files += 1
            if len(summary.samples) < 3:
                summary.samples.append(os.path.basename(move.target))
        return sorted(groups.values(), key=lambda s: (s.cluster < 0, s.cluster))

    def to_dict(self) -> dict:
        return {
            "root": self.root, "dest": self.dest, "mode": self.mode, "noise": self.noise,
            "keep_channel": self.keep_channel, "in_place": self.in_place, "left": self.left,
            "folders": [asdict(f) for f in self.folders()],
            "moves": [
                {"id": m.id, "source": m.source, "target": m.target, "cluster": m.cluster, "folder": m.folder,
                 "suffixed": m.suffixed}
                for m in self.moves
            ],
            "skipped": [asdict(s) for s in self.skipped],
        }


def check_dest(dest: str | Path, root: str, index_uri: str) -> str:
    """The resolved --dest, refused where the files would be lost to the index or the index itself."""
    resolved = os.path.realpath(os.path.expanduser(str(dest)))
    if os.path.exists(resolved) and not os.path.isdir(resolved):
        raise VindexError(f"--dest {dest} is a file, not a folder")
    index = os.path.realpath(index_uri)
    if inside(index, resolved):
        raise VindexError(f"--dest {dest} is inside the index folder {index}: choose another folder")
    if inside(root, resolved) and any(part.startswith(".") for part in Path(relative(resolved, root)).parts):
        raise VindexError(
            f"--dest {dest} is a hidden folder inside the indexed root, which `vindex add` skips: "
            "choose a visible folder"
        )
    return resolved


def source_problem(source: str, size: int, mtime_ns: int) -> str | None:
    """Why this indexed file must not be moved, or None."""
    try:
        info = os.lstat(source)
    except FileNotFoundError:
        return "missing (run `vindex add` to update the index)"
    except OSError as error:
        return f"unreadable: {error.strerror or error}"
    if stat.S_ISLNK(info.st_mode):
        return "a symlink (not followed)"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if os.path.realpath(os.path.dirname(source)) != os.path.dirname(source):
        return "inside a symlinked folder (not followed)"
    if (info.st_size, info.st_mtime_ns) != (size, mtime_ns):
        return "changed since it was indexed (run `vindex add` first)"
    return None


def folder_problem(dest: str, folder: str) -> str | None:
    """Why files cannot go into `folder` (inside `dest`), or None; it may not exist yet."""
    path = dest
    for part in Path(relative(folder, dest)).parts:
        path = os.path.join(path, part)
        if os.path.islink(path):
            return f"{path} is a symlink (not followed)"
        if os.path.lexists(path) and not os.path.isdir(path):
            return f"{path} exists and is not a folder"
    return None


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


def already_present(move: Move, candidate: str, mode: str) -> bool:
    """A copy or link made by an earlier run (copy and link modes only)."""
    if mode == "link":
        return is_link_to(move.source, candidate)
    return same_content(move.source, candidate, move.content_hash)


def free_target(move: Move, claimed: set[str], mode: str) -> tuple[str, bool]:
    """The first free name among `wanted`, `wanted-1`, … and whether the file is already there."""
    candidate, number = move.wanted, 0
    while True:
        if claim_key(candidate) not in claimed:
            if not os.path.lexists(candidate):
                return candidate, False
            if mode != "move" and already_present(move, candidate, mode):
                return candidate, True
        number += 1
        candidate = os.path.join(os.path.dirname(move.wanted), numbered(os.path.basename(move.wanted), number))


def make_plan(store: Store, dest: str | Path, mode: str = "move", noise: str = "move",
              keep_channel: bool = False) -> OrganizePlan:
    """Decide where every clustered video goes. Reads the disk (stat, and hashes in copy mode), writes nothing."""
    if mode not in MODES:
        raise VindexError(f"unknown organize mode {mode!r}: use one of {', '.join(MODES)}")
    if noise not in NOISE_POLICIES:
        raise VindexError(f"--noise must be one of {', '.join(NOISE_POLICIES)}, not {noise!r}")
    store.require_videos()
    root = store.meta["root"]
    rows = store.catalog(["id", "path", "channel", "size", "mtime_ns", "content_hash", "cluster"]).to_pylist()
    if all(row["cluster"] is None for row in rows):
        raise VindexError("the index has no clusters yet: run `vindex cluster` first")
    plan = OrganizePlan(root, check_dest(dest, root, store.uri), mode, noise, keep_channel, store.cluster_names())
    claimed: set[str] = set()
    pending: list[Move] = []
    folder_problems: dict[str, str | None] = {}
    for row in sorted(rows, key=lambda r: r["path"]):
        cluster = row["cluster"]
        if cluster is None or (cluster < 0 and noise == "keep"):
            plan.left += 1
            continue
        source = os.path.normpath(os.path.join(root, row["path"]))
        folder = folder_name(cluster, plan.names.get(cluster))
        parts = [folder, safe_name(row["channel"] or "", NO_CHANNEL)] if keep_channel else [folder]
        target = os.path.join(plan.dest, *parts, safe_name(os.path.basename(source), "video"))
        if not inside(plan.dest, target):  # unreachable after sanitising: the last line of defence
            raise VindexError(f"refusing a target outside {plan.dest}: {target}")
        parent = os.path.dirname(target)
        if parent not in folder_problems:
            folder_problems[parent] = folder_problem(plan.dest, parent)
        problem = source_problem(source, row["size"], row["mtime_ns"]) or folder_problems[parent]
        if problem:
            plan.skipped.append(Skipped(source, problem))
            continue
        move = Move(row["id"], source, target, target, folder, cluster,
                    row["size"], row["mtime_ns"], row["content_hash"])
        if source == target or (mode != "move" and os.path.lexists(target) and already_present(move, target, mode)):
            plan.in_place += 1
            claimed.add(claim_key(target))
            continue
        pending.append(move)
    # Files already in place claim their names first, so nothing else is planned onto them.
    for move in pending:
        move.target, present = free_target(move, claimed, mode)
        claimed.add(claim_key(move.target))
        if present:
            plan.in_place += 1
        else:
            plan.moves.append(move)
    return plan


# -- the journal ------------------------------------------------------------------------------

@dataclass
class Entry:
    """A planned file and the state the journal records for it."""

    move: Move
    state: str = "planned"  # started, done, present, skipped, failed; undo-started, undone, undo-failed
    how: str | None = None  # rename, copy, hardlink, symlink
    restore: str | None = None  # where undo puts the file back; None while nothing was put back
    new_id: str | None = None  # the index row of a copy or link under the root
    reason: str | None = None


class Journal:
    """One organize run as JSON lines: a header, the plan (one line per file, then an end
    marker), then events; the event announcing a step is on disk (fsynced) before the step."""

    def __init__(self, path: Path, header: dict, entries: list[Entry]):
        self.path = path
        self.header = header
        self.entries = entries
        self.folders: list[str] = []  # folders this run created, in order
        self.status = "applying"  # applying, complete, undoing, undone
        self._handle = None

    @property
    def dest(self) -> str:
        return self.header["dest"]

    @property
    def mode(self) -> str:
        return self.header["mode"]

    @classmethod
    def create(cls, path: Path, plan: OrganizePlan) -> "Journal":
        """Write the header and plan to a temporary file and rename it into place: a journal
        either holds the whole plan or does not exist."""
        header = {
            "vindex_organize": JOURNAL_VERSION, "created": datetime.now(timezone.utc).isoformat(),
            "root": plan.root, "dest": plan.dest, "mode": plan.mode, "noise": plan.noise,
            "keep_channel": plan.keep_channel,
        }
        lines = [header, *({"move": asdict(m)} for m in plan.moves), {"end_of_plan": len(plan.moves)}]
        temporary = path.with_name(f".{path.name}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
            handle.flush()
            os.fsync(handle.fileno())
        rename_no_replace(str(temporary), str(path))
        fsync_folder(str(path.parent))
        return cls(path, header, [Entry(m) for m in plan.moves])

    @classmethod
    def load(cls, path: Path) -> "Journal":
        lines = path.read_bytes().split(b"\n")
        records = []
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                if any(rest.strip() for rest in lines[number + 1 :]):
                    raise VindexError(f"the organize journal {path} is damaged at line {number + 1}") from None
                break  # the last write of a killed run, torn: that event never completed
        if not records or records[0].get("vindex_organize") != JOURNAL_VERSION:
            raise VindexError(f"{path} is not an organize journal this vindex can read")
        end = next((i for i, r in enumerate(records) if "end_of_plan" in r), None)
        if end is None:
            raise VindexError(f"the organize journal {path} has no complete plan")
        journal = cls(path, records[0], [Entry(Move(**r["move"])) for r in records[1:end]])
        for event in records[end + 1 :]:
            journal._replay(event)
        return journal

    def _replay(self, event: dict) -> None:
        if "folder" in event:
            self.folders.append(event["folder"])
            return
        if "run" in event:
            self.status = event["run"]
            return
        entry = self.entries[event["e"]]
        entry.state = state = event["state"]
        if state.startswith("undo") and self.status in ("applying", "complete"):
            self.status = "undoing"
        if state in ("started", "present"):
            entry.move.target = event["target"]
        elif state == "done":
            entry.how, entry.new_id = event["how"], event.get("new_id")
        elif state == "undo-started":
            entry.restore = event["restore"]
        elif state in ("skipped", "failed", "undo-failed"):
            entry.reason = event["reason"]

    def record(self, sync: bool = True, **event) -> None:
        """Append one event; with `sync`, make it (and all before it) durable before returning."""
        if self._handle is None:
            self._handle = open(self.path, "r+b")
            # A killed run may have left half a line: cut it, so the next line starts clean.
            data = self._handle.read()
            self._handle.truncate(data.rfind(b"\n") + 1)
            self._handle.seek(0, os.SEEK_END)
        self._handle.write(json.dumps(event).encode() + b"\n")
        self._replay(event)
        if sync:
            self.sync()

    def sync(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def journal_folder(store: Store) -> Path:
    if "://" in store.uri:
        raise VindexError(f"organize keeps its journal in the index folder, so it needs a local index, not {store.uri}")
    return Path(store.uri) / JOURNAL_FOLDER


def journal_paths(folder: Path) -> list[Path]:
    return sorted(folder.glob("[0-9]*.jsonl")) if folder.is_dir() else []


def latest_journal(folder: Path, statuses: tuple[str, ...]) -> Journal | None:
    """The newest journal whose status is one of `statuses`, not looking past an unfinished one."""
    for path in reversed(journal_paths(folder)):
        journal = Journal.load(path)
        if journal.status in statuses:
            return journal
        if journal.status in ("applying", "undoing"):
            return None
    return None


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """One organize at a time per index; the lock dies with the process, even on kill -9."""
    import fcntl

    folder.mkdir(exist_ok=True)
    descriptor = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise VindexError("another `vindex organize` is running on this index") from None
        yield
    finally:
        os.close(descriptor)


def interrupted_message(journal: Journal) -> str:
    if journal.status == "undoing":
        return "an organize undo was interrupted: run `vindex organize --undo` to finish it"
    done = sum(e.state in ("done", "present") for e in journal.entries)
    return (
        f"an organize into {journal.dest} was interrupted ({done} of {len(journal.entries)} files done): "
        f"run `vindex organize --dest {journal.dest} --apply` to finish it, or `vindex organize --undo` "
        "to roll it back"
    )


# -- moving files -----------------------------------------------------------------------------

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


def partial_path(folder: str, entry: int) -> str:
    return os.path.join(folder, f"{PARTIAL_PREFIX}{entry}")


def copy_verified(source: str, target: str, partial: str, content_hash: str | None) -> None:
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
        with suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    fsync_folder(os.path.dirname(target))


def transfer(source: str, target: str, mode: str, partial: str, content_hash: str | None) -> str:
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
    copy_verified(source, target, partial, content_hash)
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


# -- apply and undo ---------------------------------------------------------------------------

@dataclass
class OrganizeResult:
    """What `--apply` did. `moved` counts files moved (or copied, linked) by the whole plan."""

    root: str
    dest: str
    mode: str
    journal: str | None = None
    resumed: bool = False
    moved: int = 0
    in_place: int = 0
    left: int = 0
    suffixed: list[dict] = field(default_factory=list)  # {"source", "target"}: took a numbered name
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class UndoResult:
    journal: str
    dest: str
    mode: str
    restored: int = 0
    suffixed: list[dict] = field(default_factory=list)  # {"from", "to"}: the original name was taken
    failed: list[Skipped] = field(default_factory=list)
    folders_removed: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def refuse_if_interrupted(store: Store) -> None:
    """Half-organised files must be finished or put back before anything else reads the index
    (`vindex add` would take files the journal still tracks for missing)."""
    if "://" in store.uri:
        return
    pending = latest_journal(journal_folder(store), ("applying", "undoing"))
    if pending is not None:
        raise VindexError(interrupted_message(pending))


def preview(store: Store, dest: str | Path, mode: str = "move", noise: str = "move",
            keep_channel: bool = False) -> OrganizePlan:
    refuse_if_interrupted(store)
    journal_folder(store)  # an index that apply could not journal into is refused up front
    return make_plan(store, dest, mode, noise, keep_channel)


def apply(store: Store, dest: str | Path, mode: str = "move", noise: str = "move", keep_channel: bool = False,
          progress: ProgressHook | None = None) -> OrganizeResult:
    """Carry out a new plan, or finish the interrupted one for the same --dest."""
    started = time.perf_counter()
    folder = journal_folder(store)
    with locked(folder):
        pending = latest_journal(folder, ("applying", "undoing"))
        if pending is not None:
            if pending.status == "undoing" or os.path.realpath(os.path.expanduser(str(dest))) != pending.dest:
                raise VindexError(interrupted_message(pending))
            result = OrganizeResult(pending.header["root"], pending.dest, pending.mode, resumed=True)
            journal = pending
        else:
            plan = make_plan(store, dest, mode, noise, keep_channel)
            result = OrganizeResult(plan.root, plan.dest, mode, in_place=plan.in_place, left=plan.left,
                                    skipped=list(plan.skipped))
            if not plan.moves:
                result.seconds = round(time.perf_counter() - started, 3)
                return result
            number = int(journal_paths(folder)[-1].stem) + 1 if journal_paths(folder) else 1
            journal = Journal.create(folder / f"{number:04d}.jsonl", plan)
        try:
            Runner(store, journal, progress).apply()
        finally:
            journal.close()
    result.journal = str(journal.path)
    for entry in journal.entries:
        move = entry.move
        if entry.state == "done":
            result.moved += 1
            if move.suffixed:
                result.suffixed.append({"source": move.source, "target": move.target})
        elif entry.state == "present":
            result.in_place += 1
        elif entry.state == "skipped":
            result.skipped.append(Skipped(move.source, entry.reason))
        elif entry.state == "failed":
            result.failed.append(Skipped(move.source, entry.reason))
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def undo(store: Store, progress: ProgressHook | None = None) -> UndoResult:
    """Put back every file of the latest organize that is not undone yet (or finish an undo)."""
    started = time.perf_counter()
    folder = journal_folder(store)
    with locked(folder):
        journal = latest_journal(folder, ("applying", "complete", "undoing"))
        if journal is None:
            raise VindexError("nothing to undo: no organize has been applied with this index (or all are undone)")
        try:
            Runner(store, journal, progress).undo()
        finally:
            journal.close()
    result = UndoResult(str(journal.path), journal.dest, journal.mode)
    for entry in journal.entries:
        if entry.state == "undone" and entry.restore is not None:
            result.restored += 1
            if journal.mode == "move" and entry.restore != entry.move.source:
                result.suffixed.append({"from": entry.move.target, "to": entry.restore})
        elif entry.state == "undo-failed":
            result.failed.append(Skipped(entry.move.target, entry.reason))
    result.folders_removed = sum(not os.path.lexists(path) for path in journal.folders)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


class Runner:
    """Takes the steps of one journal, forward (apply) or backward (undo), keeping the index in step.

    Steps go in batches: the "started" events of a batch are fsynced together before any of
    its files is touched, the folders it changed are fsynced once after, then its "done"
    events. A kill anywhere leaves some steps "started"; the next run settles each of them by
    looking at the disk.
    """

    def __init__(self, store: Store, journal: Journal, progress: ProgressHook | None):
        self.store = store
        self.journal = journal
        self.root = journal.header["root"]
        self.mode = journal.mode
        self.progress = progress
        self._taken_ids: set[str] | None = None

    def batches(self, numbers: list[int], stage: str) -> Iterator[list[int]]:
        for start in range(0, len(numbers), STEP_BATCH):
            yield numbers[start : start + STEP_BATCH]
            if self.progress:
                self.progress(stage, min(start + STEP_BATCH, len(numbers)), len(numbers))

    def finish_batch(self, finished: list[int], folders: set[str], state: str) -> None:
        """Make the batch's renames durable, then record its steps as finished."""
        for folder in sorted(folders):
            with suppress(FileNotFoundError):
                fsync_folder(folder)
        for number in finished:
            entry = self.journal.entries[number]
            if state == "done":
                self.journal.record(e=number, state="done", how=entry.how, new_id=self.new_row_id(entry.move),
                                    sync=False)
            else:
                self.journal.record(e=number, state=state, sync=False)
        self.journal.sync()

    # -- forward ------------------------------------------------------------------------------
    def apply(self) -> None:
        entries = self.journal.entries
        claimed = {claim_key(e.move.target) for e in entries}
        # Steps an interrupted run finished may not have reached the index yet.
        unindexed = [e for e in entries if e.state == "done"]
        todo = [number for number, e in enumerate(entries) if e.state in ("planned", "started")]
        for batch in self.batches(todo, "organizing"):
            unindexed += self.apply_batch(batch, claimed)
            if len(unindexed) >= INDEX_EVERY:
                self.index_applied(unindexed)
                unindexed = []
        self.index_applied(unindexed)
        checkpoint("after-index")
        self.store.optimize()
        self.journal.record(run="complete")

    def apply_batch(self, numbers: list[int], claimed: set[str]) -> list[Entry]:
        entries = self.journal.entries
        settled, ready = [], []
        for number in numbers:
            entry = entries[number]
            if entry.state == "started":
                if transfer_finished(entry.move.source, entry.move.target, self.mode):
                    entry.how = "resumed"
                    settled.append(number)
                    continue
                with suppress(FileNotFoundError):
                    os.unlink(partial_path(os.path.dirname(entry.move.target), number))
            if self.choose_target(number, entry, claimed):
                ready.append(number)
        self.journal.sync()
        finished = [number for number in ready if self.take_step(number, entries[number], claimed)]
        folders = {os.path.dirname(p) for n in finished for p in (entries[n].move.source, entries[n].move.target)}
        self.finish_batch(settled + finished, folders, "done")
        return [entries[number] for number in settled + finished]

    def choose_target(self, number: int, entry: Entry, claimed: set[str]) -> bool:
        """Check the file, pick a free name and journal the step; False when there is nothing to do."""
        move, record = entry.move, self.journal.record
        problem = source_problem(move.source, move.size, move.mtime_ns)
        if problem:
            record(e=number, state="skipped", reason=problem, sync=False)
            return False
        claimed.discard(claim_key(move.target))
        target, present = free_target(move, claimed, self.mode)
        claimed.add(claim_key(target))
        if present:
            record(e=number, state="present", target=target, sync=False)
            return False
        problem = self.make_folders(os.path.dirname(target))
        if problem:
            record(e=number, state="skipped", reason=problem, sync=False)
            return False
        record(e=number, state="started", target=target, sync=False)
        return True

    def take_step(self, number: int, entry: Entry, claimed: set[str]) -> bool:
        move, record = entry.move, self.journal.record
        while True:
            checkpoint("before-transfer")
            try:
                entry.how = transfer(move.source, move.target, self.mode,
                                     partial_path(os.path.dirname(move.target), number), move.content_hash)
            except FileExistsError:  # the name was taken since it was checked: journal the next one
                if not self.choose_target(number, entry, claimed):
                    return False
                self.journal.sync()
                continue
            except CopyMismatch as error:
                record(e=number, state="skipped", reason=str(error), sync=False)
                return False
            except OSError as error:
                record(e=number, state="failed", reason=error.strerror or str(error), sync=False)
                return False
            checkpoint("after-transfer")
            return True

    def make_folders(self, folder: str) -> str | None:
        """Create the missing folders down to `folder`, each journaled first so undo removes it."""
        problem = folder_problem(self.journal.dest, folder)
        if problem:
            return problem
        missing, path = [], folder
        while not os.path.isdir(path):
            missing.append(path)
            path = os.path.dirname(path)
        for path in reversed(missing):
            self.journal.record(folder=path)
            try:
                os.mkdir(path)
            except OSError as error:
                return f"cannot create {path}: {error.strerror or error}"
            fsync_folder(os.path.dirname(path))
        return None

    def new_row_id(self, move: Move) -> str | None:
        """A copy or link under the root gets its own index row (as `vindex add` would give it)."""
        if self.mode == "move":
            return None
        path = relative(move.target, self.root)
        # A symlink is only followed by `vindex add` when it points inside the root.
        if is_outside_root(path) or (os.path.islink(move.target) and is_outside_root(relative(move.source, self.root))):
            return None
        if self._taken_ids is None:
            self._taken_ids = set(self.store.catalog(["id"]).column("id").to_pylist())
            self._taken_ids.update(e.new_id for e in self.journal.entries if e.new_id)
        return video_id(path, move.content_hash, self._taken_ids)

    def index_applied(self, entries: list[Entry]) -> None:
        """Point the rows of moved files at their new place; give copies and links their rows."""
        if not entries:
            return
        if self.mode == "move":
            self.store.update_rows(self.locations({e.move.id: e.move.target for e in entries}))
            return
        sources = set(self.store.videos_by_id(sorted({e.move.id for e in entries}), ["id"]).column("id").to_pylist())
        copies = []
        for entry in entries:
            if entry.new_id and entry.move.id in sources:
                with suppress(OSError):
                    info = os.stat(entry.move.target)
                    copy = VideoFile(relative(entry.move.target, self.root), entry.move.target,
                                     info.st_size, info.st_mtime_ns)
                    copies.append((entry.move.id, entry.new_id, copy, False))
        apply_copies(self.store, copies)

    def locations(self, paths: dict[str, str]) -> dict[str, dict]:
        """Row changes for files now at `paths` (by video id): path relative to the root, and stat."""
        changes = {}
        for video, path in paths.items():
            with suppress(OSError):
                info = os.stat(path)
                changes[video] = {"path": relative(path, self.root), "size": info.st_size, "mtime_ns": info.st_mtime_ns}
        return changes

    # -- backward -----------------------------------------------------------------------------
    def undo(self) -> None:
        entries = self.journal.entries
        sources = {claim_key(e.move.source) for e in entries}
        todo = [n for n in reversed(range(len(entries)))
                if entries[n].state in ("started", "done", "undo-started", "undo-failed")]
        for batch in self.batches(todo, "restoring"):
            if self.mode == "move":
                self.undo_moves(batch, sources)
            else:
                self.undo_copies(batch)
        for folder in reversed(self.journal.folders):
            with suppress(OSError):  # only folders this run made, and only when empty
                os.rmdir(folder)
        undone = [e for e in entries if e.state == "undone"]
        if self.mode == "move":
            self.store.update_rows(self.locations({e.move.id: e.restore for e in undone if e.restore}))
        else:
            self.store.delete_videos([e.new_id for e in undone if e.new_id])
        checkpoint("after-index")
        self.store.optimize()
        self.journal.record(run="undone")

    def undo_moves(self, numbers: list[int], sources: set[str]) -> None:
        entries = self.journal.entries
        ready = [n for n in numbers if self.needs_restore(n, entries[n]) and self.choose_restore(n, entries[n], sources)]
        self.journal.sync()
        finished = [number for number in ready if self.restore(number, entries[number], sources)]
        folders = {os.path.dirname(p) for n in finished for p in (entries[n].move.target, entries[n].restore)}
        self.finish_batch(finished, folders, "undone")

    def needs_restore(self, number: int, entry: Entry) -> bool:
        """Settle what a killed run left in flight; True when the file is still to be moved back."""
        move, record = entry.move, self.journal.record
        if entry.state == "started" and not transfer_finished(move.source, move.target, "move"):
            with suppress(FileNotFoundError):
                os.unlink(partial_path(os.path.dirname(move.target), number))
            record(e=number, state="undone", sync=False)  # it never left its place
            return False
        if entry.state == "undo-started":
            if transfer_finished(move.target, entry.restore, "move"):
                record(e=number, state="undone", sync=False)
                return False
            with suppress(FileNotFoundError):
                os.unlink(partial_path(os.path.dirname(entry.restore), number))
        if not os.path.lexists(move.target):
            record(e=number, state="undo-failed", reason=f"not found at {move.target}", sync=False)
            return False
        return True

    def choose_restore(self, number: int, entry: Entry, sources: set[str]) -> bool:
        """The original path, or a numbered name beside it when that was taken; journaled."""
        folder, name = os.path.split(entry.move.source)
        candidate, suffix = entry.move.source, 0
        while os.path.lexists(candidate) or (suffix and claim_key(candidate) in sources):
            suffix += 1
            candidate = os.path.join(folder, numbered(name, suffix))
        try:
            os.makedirs(folder, exist_ok=True)  # the user's own folder, if it was removed meanwhile
        except OSError as error:
            self.journal.record(e=number, state="undo-failed", reason=f"cannot create {folder}: {error.strerror}",
                                sync=False)
            return False
        sources.add(claim_key(candidate))
        self.journal.record(e=number, state="undo-started", restore=candidate, sync=False)
        return True

    def restore(self, number: int, entry: Entry, sources: set[str]) -> bool:
        while True:
            checkpoint("before-transfer")
            try:
                transfer(entry.move.target, entry.restore, "move",
                         partial_path(os.path.dirname(entry.restore), number), None)
            except FileExistsError:
                if not self.choose_restore(number, entry, sources):
                    return False
                self.journal.sync()
                continue
            except (OSError, CopyMismatch) as error:
                reason = getattr(error, "strerror", None) or str(error)
                self.journal.record(e=number, state="undo-failed", reason=reason, sync=False)
                return False
            checkpoint("after-transfer")
            return True

    def undo_copies(self, numbers: list[int]) -> None:
        """Remove copies and links, but only while the original is still there with the same bytes."""
        entries, record = self.journal.entries, self.journal.record
        ready = []
        for number in numbers:
            move = entries[number].move
            with suppress(FileNotFoundError):
                os.unlink(partial_path(os.path.dirname(move.target), number))
            if not os.path.lexists(move.target):
                record(e=number, state="undone", sync=False)
            elif is_link_to(move.source, move.target) if self.mode == "link" else same_content(move.source, move.target):
                record(e=number, state="undo-started", restore=move.source, sync=False)
                ready.append(number)
            elif entries[number].state == "started":  # the step never happened: that file is not ours
                record(e=number, state="undone", sync=False)
            else:
                record(e=number, state="undo-failed", reason="kept: the original is gone or differs from it",
                       sync=False)
        self.journal.sync()
        finished = []
        for number in ready:
            checkpoint("before-transfer")
            try:
                os.unlink(entries[number].move.target)
            except OSError as error:
                record(e=number, state="undo-failed", reason=error.strerror or str(error), sync=False)
                continue
            checkpoint("after-transfer")
            finished.append(number)
        self.finish_batch(finished, {os.path.dirname(entries[n].move.target) for n in finished}, "undone")

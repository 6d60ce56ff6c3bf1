"""The plan: where every clustered video goes, what is skipped and why. Reads the disk (stat,
and hashes in copy mode), writes nothing."""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from vindex.defaults import NOISE_POLICIES, NOISE_POLICY, ORGANIZE_MODES
from vindex.errors import VindexError, os_reason
from vindex.locations import join_root
from vindex.organizing.fsops import is_link_to, same_content
from vindex.organizing.names import (
    NO_CHANNEL, claim_key, cluster_folders, folder_name, inside, numbered_path, relative, safe_name,
)
from vindex.results import Result, plain
from vindex.store import Store

SAMPLES_PER_FOLDER = 3  # file names shown per folder in the preview: enough to recognise it


@dataclass
class Move(Result):
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
class Skipped(Result):
    path: str
    reason: str


@dataclass
class FolderSummary(Result):
    folder: str
    cluster: int
    name: str | None
    files: int
    samples: list[str]


@dataclass
class OrganizePlan(Result):
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
            if len(summary.samples) < SAMPLES_PER_FOLDER:
                summary.samples.append(os.path.basename(move.target))
        return sorted(groups.values(), key=lambda s: (s.cluster < 0, s.cluster))

    def to_dict(self) -> dict:
        # The folders are derived; a move is shown by where it goes, not by what the index holds.
        return {
            "root": self.root, "dest": self.dest, "mode": self.mode, "noise": self.noise,
            "keep_channel": self.keep_channel, "in_place": self.in_place, "left": self.left,
            "folders": plain(self.folders()),
            "moves": [
                {"id": m.id, "source": m.source, "target": m.target, "cluster": m.cluster, "folder": m.folder,
                 "suffixed": m.suffixed}
                for m in self.moves
            ],
            "skipped": plain(self.skipped),
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


def check_dest_writable(dest: str) -> None:
    """Refuse a --dest where no folder can be made (read-only, a pseudo filesystem such as /proc)
    before anything is journaled: otherwise every move is skipped one by one and the run "succeeds"."""
    base = dest
    while not os.path.isdir(base) and os.path.dirname(base) != base:
        base = os.path.dirname(base)
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".vindex-probe-", dir=base))
    except OSError as error:
        raise VindexError(f"--dest {dest}: cannot create folders in {base} ({os_reason(error)})") from None


def source_problem(source: str, size: int, mtime_ns: int) -> str | None:
    """Why this indexed file must not be moved, or None."""
    try:
        info = os.lstat(source)
    except FileNotFoundError:
        return "missing (run `vindex add` to update the index)"
    except OSError as error:
        return f"unreadable: {os_reason(error)}"
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


def already_present(move: Move, candidate: str, mode: str) -> bool:
    """A copy or link made by an earlier run (copy and link modes only)."""
    if mode == "link":
        return is_link_to(move.source, candidate)
    return same_content(move.source, candidate, move.content_hash)


def free_target(move: Move, claimed: set[str], mode: str) -> tuple[str, bool]:
    """The first free name among `wanted`, `wanted-1`, … and whether the file is already there."""
    number = 0
    while True:
        candidate = numbered_path(move.wanted, number)
        if claim_key(candidate) not in claimed:
            if not os.path.lexists(candidate):
                return candidate, False
            if mode != "move" and already_present(move, candidate, mode):
                return candidate, True
        number += 1


def check_options(mode: str, noise: str) -> None:
    if mode not in ORGANIZE_MODES:
        raise VindexError(f"unknown organize mode {mode!r}: use one of {', '.join(ORGANIZE_MODES)}")
    if noise not in NOISE_POLICIES:
        raise VindexError(f"--noise must be one of {', '.join(NOISE_POLICIES)}, not {noise!r}")


def user_named(store: Store, names: dict[int, str]) -> set[int]:
    """The clusters whose name the user chose (`vindex cluster rename`): their folders keep it as typed."""
    from vindex.clustering.decisions import replay
    from vindex.store.curation import CurationLog

    chosen = replay(CurationLog(store).rows()).names
    return {cluster for cluster, name in chosen.items() if names.get(cluster) == name}


def make_plan(store: Store, dest: str | Path, mode: str = ORGANIZE_MODES[0], noise: str = NOISE_POLICY,
              keep_channel: bool = False) -> OrganizePlan:
    """Decide where every clustered video goes."""
    check_options(mode, noise)
    store.require_videos()
    root = store.meta.root
    rows = store.catalog(["id", "path", "channel", "size", "mtime_ns", "content_hash", "cluster"]).to_pylist()
    if all(row["cluster"] is None for row in rows):
        raise VindexError("the index has no clusters yet: run `vindex cluster` first")
    plan = OrganizePlan(root, check_dest(dest, root, store.uri), mode, noise, keep_channel, store.cluster_names())
    folders = cluster_folders(plan.names, user_named(store, plan.names))
    claimed: set[str] = set()
    pending: list[Move] = []
    folder_problems: dict[str, str | None] = {}
    for row in sorted(rows, key=lambda r: r["path"]):
        cluster = row["cluster"]
        if cluster is None or (cluster < 0 and noise == "keep"):
            plan.left += 1
            continue
        source = os.path.normpath(join_root(root, row["path"]))
        folder = folders.get(cluster) or folder_name(cluster, plan.names.get(cluster))
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

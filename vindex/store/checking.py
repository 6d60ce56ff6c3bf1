"""`vindex check`: verify what a user cannot see, and (`--repair`) fix what can be fixed.

Checked: each table opens at its latest version and every row of it reads; every video row has
its frames and only those (frame indexes 0..num_frames-1, once each); no frames without a video;
no id or path twice; vector sizes match the index's model, and every vector is finite and of unit
length; every file is on disk (a warning:
`vindex add` drops deleted files). A repair never deletes a video file: it moves an unreadable
manifest aside (into INDEX/damaged), restores the newest readable version of a table, drops
orphan and duplicate rows, and re-queues videos whose frames are missing or wrong for the next
`vindex add` (num_frames 0 is what makes `add` embed a file again).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pyarrow as pa

from vindex.errors import VindexError
from vindex.locations import is_remote, join_root
from vindex.locking import WriterBusy
from vindex.results import Result, count
from vindex.schema import CLUSTERS, FRAMES, META, VIDEOS, vectors_of
from vindex.store import Store, chunked, writer_lock
from vindex.store.sound import sound_rows
from vindex.store.versions import publish_tables
from vindex.store.failures import latest_version_on_disk, manifest_version, storage_reason
from vindex.store.meta import IndexMeta

DAMAGED_FOLDER = "damaged"  # in the index folder: manifests a repair moved aside, kept for inspection
SCAN_BATCH = 1 << 14  # rows per batch when every row of a table is read back
SHOWN_PER_KIND = 20  # per-video problems listed of each kind before "and N more"


@dataclass
class CheckResult(Result):
    db: str
    ok: bool
    videos: int
    frames: int
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)  # paths in the index that are not on disk
    repaired: list[str] = field(default_factory=list)  # what --repair did, one line each
    not_repaired: list[str] = field(default_factory=list)  # what --repair could not fix, with the way out


@dataclass
class Findings:
    """What is wrong, by kind, as a repair needs it."""

    unreadable: dict[str, str] = field(default_factory=dict)  # table -> why it cannot be read
    stale: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> (opened, newest on disk)
    rows: list[dict] = field(default_factory=list)  # id, path, num_frames, indexed_at of every video row
    frames: int = 0
    frame_indexes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # video id -> indexes
    bad_dims: list[str] = field(default_factory=list)
    bad_vectors: Counter = field(default_factory=Counter)  # video id -> its vectors not finite or not unit length
    bad_video_vectors: set[str] = field(default_factory=set)  # videos whose own (mean) vector is among them
    missing: list[str] = field(default_factory=list)

    def duplicate_ids(self) -> list[str]:
        return sorted(video for video, n in Counter(row["id"] for row in self.rows).items() if n > 1)

    def duplicate_paths(self) -> dict[str, list[str]]:
        ids = defaultdict(set)
        for row in self.rows:
            ids[row["path"]].add(row["id"])
        return {path: sorted(found) for path, found in sorted(ids.items()) if len(found) > 1}

    def orphans(self) -> list[str]:
        return sorted(set(self.frame_indexes) - {row["id"] for row in self.rows})

    def per_video(self) -> tuple[dict[str, int], dict[str, dict], list[str]]:
        """Extra (duplicate) frame rows per video, videos whose frames are wrong (by id), and the
        videos queued for embedding again (num_frames 0, no frames)."""
        extra, wrong, queued = {}, {}, []
        for row in {row["id"]: row for row in self.rows}.values():
            indexes = self.frame_indexes.get(row["id"], [])
            expected = row["num_frames"] or 0
            if len(indexes) > len(set(indexes)):
                extra[row["id"]] = len(indexes) - len(set(indexes))
            if set(indexes) != set(range(expected)):
                wrong[row["id"]] = dict(row, found=len(set(indexes)))
            elif not expected:
                queued.append(row["id"])
        return extra, wrong, queued


def check_index(uri: str, repair: bool = False, wait: bool = False) -> CheckResult:
    """Check the index at `uri`; with `repair`, holding the writer lock, fix it first, then check again."""
    if not is_remote(uri) and not Path(uri).is_dir():
        raise VindexError(f"no index at {uri}: run `vindex add FOLDER` first, or pass --db PATH")
    if not repair:
        # Holding the lock, a check never takes a writer's half-done work for damage. An index
        # whose lock file cannot be made is read-only, so no writer can be half-way either.
        with ExitStack() as held:
            try:
                held.enter_context(writer_lock(uri, wait))
            except WriterBusy:
                raise
            except VindexError:
                pass
            return report(uri, inspect(uri))
    with writer_lock(uri, wait):
        done, failed = repair_tables(uri)
        findings = inspect(uri)
        if not findings.unreadable:
            done += repair_rows(Store(uri), findings)
            findings = inspect(uri)
            # A restored table is a new version: readers during the next writer start from it.
            publish_tables(Store(uri))
    result = report(uri, findings)
    result.repaired, result.not_repaired = done, failed
    return result


# -- looking --------------------------------------------------------------------------------------
def connect(uri: str):
    os.environ.setdefault("LANCE_LOG", "error")
    os.environ.setdefault("LANCEDB_LOG", "error")
    import lancedb

    return lancedb.connect(uri, read_consistency_interval=timedelta(0))


def scan(table, keep: list[str], unsound: Counter | None = None, owner: str = "id") -> pa.Table:
    """Read every row of `table` (all columns, so a damaged data file shows), keeping `keep`;
    `unsound` counts, by the `owner` column, the vectors that are not finite or not of unit length
    (a data file damaged in its vector bytes still reads)."""
    parts = []
    for batch in table.search().limit(None).to_batches(SCAN_BATCH):
        if unsound is not None:
            bad = ~sound_rows(vectors_of(batch.column("vector")))
            unsound.update(pa.array(batch.column(owner)).filter(pa.array(bad)).to_pylist())
        parts.append(batch.select(keep))
    return pa.Table.from_batches(parts) if parts else table.schema.empty_table().select(keep)


def table_problem(uri: str, db, name: str, keep: list[str],
                  unsound: Counter | None = None) -> tuple[str | None, pa.Table | None]:
    """Why table `name` cannot be read at its latest version (None when it can), and its `keep`
    columns; with `unsound`, its damaged vectors are counted by video (see `scan`)."""
    try:
        table = db.open_table(name)
    except Exception as error:
        version = latest_version_on_disk(uri, name) if not is_remote(uri) else None
        at = f" at version {version}" if version else ""
        return f"{name}: cannot be opened{at} ({storage_reason(error)})", None
    try:
        return None, scan(table, keep, unsound, "video_id" if name == FRAMES else "id")
    except Exception as error:
        return f"{name}: version {table.version} cannot be read ({storage_reason(error)})", None


def inspect(uri: str) -> Findings:
    found = Findings()
    db = connect(uri)
    names = set(db.list_tables().tables)
    columns = {VIDEOS: ["id", "path", "num_frames", "indexed_at"], FRAMES: ["video_id", "frame_index"],
               META: ["key"], CLUSTERS: ["id"]}
    tables: dict[str, pa.Table] = {}
    unsound = {VIDEOS: Counter(), FRAMES: Counter()}
    for name in sorted(names):
        problem, rows = table_problem(uri, db, name, columns.get(name, []), unsound.get(name))
        if problem:
            found.unreadable[name] = problem
            continue
        tables[name] = rows
        newest = latest_version_on_disk(uri, name) if not is_remote(uri) else None
        opened = db.open_table(name).version
        if newest and newest > opened:
            found.stale[name] = (opened, newest)
    if META not in names and names & {VIDEOS, FRAMES}:
        found.unreadable[META] = (f"{META}: missing (the model and settings the vectors were made with are lost): "
                                  f"{rebuild_advice(uri)}")
    if found.unreadable:
        return found
    store = Store(uri)
    if VIDEOS in tables:
        found.rows = tables[VIDEOS].to_pylist()
    if FRAMES in tables:
        frames = tables[FRAMES]
        found.frames = frames.num_rows
        for video, index in zip(frames.column("video_id").to_pylist(), frames.column("frame_index").to_pylist()):
            found.frame_indexes[video].append(index)
    # A video re-queued for embedding (no frames) keeps its old vector until then.
    waiting = {row["id"] for row in found.rows if not row["num_frames"]}
    found.bad_video_vectors = set(unsound[VIDEOS]) - waiting
    found.bad_vectors = unsound[FRAMES] + Counter({video: unsound[VIDEOS][video] for video in found.bad_video_vectors})
    dim = store.meta.dim
    for name, table, column in ((VIDEOS, store.videos, "vector"), (FRAMES, store.frames, "vector"),
                                (CLUSTERS, store.clusters, "centroid")):
        size = table.schema.field(column).type.list_size if table is not None else dim
        if dim and size != dim:
            found.bad_dims.append(f"{name}: vectors of size {size}, but the index's model makes {dim}: "
                                  "rebuild it with `vindex add FOLDER --reembed`")
    root = store.meta.root
    if root and not is_remote(root):
        found.missing = sorted({row["path"] for row in found.rows if not os.path.lexists(join_root(root, row["path"]))})
    return found


def report(uri: str, found: Findings) -> CheckResult:
    problems = sorted(found.unreadable.values())
    problems += [f"{name}: opens at version {opened}, but version {newest} exists"
                 for name, (opened, newest) in sorted(found.stale.items())]
    problems += found.bad_dims
    problems += [f"video id {video} is in more than one row" for video in found.duplicate_ids()]
    problems += [f"{path} is in {len(ids)} rows (ids {', '.join(ids)})" for path, ids in found.duplicate_paths().items()]
    orphans = found.orphans()
    if orphans:
        lost = sum(len(found.frame_indexes[video]) for video in orphans)
        problems.append(f"{count(lost, 'frame')} {'belongs' if lost == 1 else 'belong'} to no video "
                        f"({count(len(orphans), 'video id')} no longer in the index)")
    extra, wrong, queued = found.per_video()
    paths = {row["id"]: row["path"] for row in found.rows}
    problems += shown([f"{paths[video]}: {count(n, 'duplicate frame')}" for video, n in sorted(extra.items())])
    problems += shown([f"{row['path']}: {row['found']} of its {count(row['num_frames'] or 0, 'frame')}"
                       + (" (and others that are not its own)" if row["found"] > (row["num_frames"] or 0) else "")
                       for row in sorted(wrong.values(), key=lambda row: row["path"])])
    problems += shown([f"{paths.get(video, video)}: {count(n, 'vector')} not finite or not of unit length (damaged)"
                       for video, n in sorted(found.bad_vectors.items(), key=lambda item: paths.get(item[0], ""))])
    warnings = []
    if queued:
        warnings.append(f"{count(len(queued), 'video')} {'waits' if len(queued) == 1 else 'wait'} "
                        "to be embedded again by the next `vindex add`")
    if found.missing:
        warnings.append(f"{count(len(found.missing), 'file')} in the index {'is' if len(found.missing) == 1 else 'are'} not on disk: "
                        "`vindex add FOLDER` drops them")
    return CheckResult(db=uri, ok=not problems, videos=len({row["id"] for row in found.rows}), frames=found.frames,
                       problems=problems, warnings=warnings, missing_files=found.missing)


def shown(lines: list[str]) -> list[str]:
    if len(lines) <= SHOWN_PER_KIND:
        return lines
    return lines[:SHOWN_PER_KIND] + [f"... and {len(lines) - SHOWN_PER_KIND} more like these"]


# -- repairing ------------------------------------------------------------------------------------
def repair_tables(uri: str) -> tuple[list[str], list[str]]:
    """Bring every table back to its newest version that opens and reads: what was done, and what could not be."""
    done, failed = [], []
    db = connect(uri)
    for name in sorted(db.list_tables().tables):
        problem, _ = table_problem(uri, db, name, [])
        if problem is None:
            continue
        if not is_remote(uri):
            done += move_unopenable_manifests(uri, db, name)
        if table_problem(uri, db, name, [])[0] is not None:
            line, restored = restore_readable_version(uri, db, name, problem)
            (done if restored else failed).append(line)
    return done, failed


def move_unopenable_manifests(uri: str, db, name: str) -> list[str]:
    """Move the newest manifests of a table that does not open aside until it opens."""
    versions = Path(uri) / f"{name}.lance" / "_versions"
    aside = Path(uri) / DAMAGED_FOLDER / f"{name}.lance" / time.strftime("%Y%m%d-%H%M%S")
    done = []
    while True:
        try:
            table = db.open_table(name)
        except Exception as error:
            manifests = sorted(versions.glob("*.manifest"), key=lambda path: manifest_version(path.name))
            if not manifests:
                return done
            newest = manifests[-1]
            aside.mkdir(parents=True, exist_ok=True)
            shutil.move(str(newest), str(aside / newest.name))
            done.append(f"{name}: version {manifest_version(newest.name)} could not be opened "
                        f"({storage_reason(error)}): moved its manifest to {aside}")
            continue
        if done:
            done.append(f"{name}: opens at version {table.version} now")
        return done


def rebuild_advice(uri: str) -> str:
    """The command that rebuilds the index from its videos, with the folder and model it was made
    with when its metadata still says them. `add --reembed` sets aside any table it cannot open."""
    try:
        rows = connect(uri).open_table(META).to_arrow().to_pylist()
        meta = IndexMeta.parse({row["key"]: json.loads(row["value"]) for row in rows})
    except Exception:  # the metadata is part of the damage
        meta = IndexMeta()
    folder = meta.root or "FOLDER"
    model = f" --model {meta.model}" if meta.model else " --model MODEL (the one it was built with)"
    return f"rebuild the index with `vindex add {folder} --reembed{model}`"


def set_aside_unopenable(uri: str) -> list[str]:
    """Move each table that does not open (its versions or manifests gone) out of the index, into
    INDEX/damaged, so that `add --reembed` can build it again. Nothing is deleted."""
    if is_remote(uri) or not Path(uri).is_dir():
        return []
    db, done = connect(uri), []
    for name in sorted(db.list_tables().tables):
        try:
            db.open_table(name)
        except Exception as error:
            aside = Path(uri) / DAMAGED_FOLDER / f"{name}.lance" / time.strftime("%Y%m%d-%H%M%S-table")
            aside.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(Path(uri) / f"{name}.lance"), str(aside))
            done.append(f"{name}: could not be opened ({storage_reason(error)}): moved to {aside} and built again")
    return done


def restore_readable_version(uri: str, db, name: str, problem: str) -> tuple[str, bool]:
    """Make the newest version of table `name` whose every row reads its latest (LanceDB keeps them):
    what happened, and whether it did."""
    try:
        table = db.open_table(name)
        versions = sorted((v["version"] for v in table.list_versions()), reverse=True)
    except Exception as error:
        return f"{name}: cannot be opened ({storage_reason(error)}): {rebuild_advice(uri)}", False
    for version in versions[1:]:
        table.checkout(version)
        try:
            scan(table, [])
        except Exception:  # this version reads a damaged file too: try an older one
            continue
        table.restore()
        return f"{problem}: restored version {version} (now version {table.version})", True
    return f"{name}: no version of it reads: {rebuild_advice(uri)}", False


def repair_rows(store: Store, found: Findings) -> list[str]:
    """Drop duplicate and orphan rows, and re-queue videos whose frames are wrong."""
    done = []
    for video in found.duplicate_ids():
        rows = store.videos_by_id([video]).to_pylist()
        kept = max(rows, key=lambda row: row["indexed_at"] or 0)
        store.delete_rows(VIDEOS, "id", [video])
        store.append(VIDEOS, pa.Table.from_pylist([kept], store.videos.schema))
        done.append(f"video id {video}: removed {len(rows) - 1} duplicate rows, kept the newest")
    dropped = set()
    for path, ids in found.duplicate_paths().items():
        newest = {row["id"]: row["indexed_at"] for row in found.rows if row["path"] == path}
        kept = max(ids, key=lambda video: (newest[video] is not None, newest[video] or 0, video))
        removed = [video for video in ids if video != kept]
        store.delete_videos(removed)
        dropped.update(removed)
        done.append(f"{path}: removed {count(len(removed), 'row')} that repeated it (kept {kept}, the newest)")
    orphans = found.orphans()
    store.delete_rows(FRAMES, "video_id", orphans)
    if orphans:
        done.append(f"removed the frames of {count(len(orphans), 'video id')} no longer in the index")
    # A row whose own vector is damaged cannot even be rewritten (LanceDB refuses NaN): it goes,
    # and the next add indexes its file as new. Damaged frames only: the video is re-queued.
    unsound = sorted(found.bad_video_vectors - dropped)
    store.delete_videos(unsound)
    dropped.update(unsound)
    if unsound:
        done.append(f"removed the rows of {count(len(unsound), 'video')} whose own vector was damaged: the next "
                    f"`vindex add FOLDER` indexes {'its file' if len(unsound) == 1 else 'their files'} again")
    extra, wrong, _ = found.per_video()
    requeue = sorted((set(wrong) | set(found.bad_vectors)) - dropped)
    deduplicate = sorted(set(extra) - set(wrong) - dropped)
    for chunk in chunked(deduplicate):
        frames = store.frames_by_video(chunk).to_pylist()
        once = {(frame["video_id"], frame["frame_index"]): frame for frame in frames}
        store.delete_rows(FRAMES, "video_id", chunk)
        store.append(FRAMES, pa.Table.from_pylist(list(once.values()), store.frames.schema))
    if deduplicate:
        done.append(f"removed {count(sum(extra[video] for video in deduplicate), 'duplicate frame')} of "
                    f"{count(len(deduplicate), 'video')}")
    store.delete_rows(FRAMES, "video_id", requeue)
    store.update_rows({video: {"num_frames": 0} for video in requeue})
    if requeue:
        done.append(f"re-queued {count(len(requeue), 'video')} whose frames were missing or wrong, or whose "
                    "vectors were damaged: "
                    f"the next `vindex add FOLDER` embeds {'it' if len(requeue) == 1 else 'them'} again")
    return done

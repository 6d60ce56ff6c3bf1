"""`add`: bring the index in line with a folder of videos, doing as little work as possible.

Unchanged files cost a `stat`; new or changed files are hashed; a hash already in the index
means a rename (the row follows the file) or a copy (vectors are reused); only content never
seen before is decoded and embedded. Decoding runs in threads (PyAV releases the GIL) while
the model embeds the previous batch, and rows are written in batches so memory stays flat.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np
import pyarrow as pa
import xxhash

from vindex.errors import DecodeError, VindexError
from vindex.frames import DecodedVideo, read_frames
from vindex.scanning import VIDEO_EXTENSIONS, VideoFile, hash_file, is_outside_root, scan
from vindex.store import Store

# (stage, done, total): the CLI draws it as a progress bar; the library never prints.
ProgressHook = Callable[[str, int, int], None]
WRITE_EVERY_VIDEOS = 256  # rows per write for renames/copies, and the default commit size
DEFAULT_BATCH_SIZE = 64


@dataclass
class Failure:
    path: str
    reason: str


@dataclass
class AddSummary:
    """What one `add` did. `added` counts new files (copies included), `embedded` the videos decoded."""

    root: str
    db: str
    added: int = 0
    reembedded: int = 0
    renamed: int = 0
    unchanged: int = 0
    removed: int = 0
    embedded: int = 0
    frames: int = 0
    failed: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k != "failed"}
        data["failed"] = [f.__dict__ for f in self.failed]
        return data


@dataclass
class EmbedJob:
    """Content to decode and embed once, and every row (path) that receives its vectors."""

    content_hash: str
    files: list[VideoFile]
    ids: list[str]
    changed: list[bool]  # per file: True when it replaces older content at the same path


class JobRunner(Protocol):
    """Decodes, embeds and writes the jobs' rows, counting what it did in `summary`.

    `run_jobs` is the local runner; `vindex.ray_engine` runs the same stages on a Ray cluster.
    """

    def __call__(self, store: Store, jobs: list[EmbedJob], load_embedder: Callable[[], object],
                 summary: AddSummary, progress: ProgressHook | None) -> None: ...


@dataclass
class Plan:
    unchanged: int = 0
    touched: list[tuple[str, VideoFile]] = field(default_factory=list)  # (id, file): same content, new stat
    renamed: list[tuple[str, VideoFile]] = field(default_factory=list)  # (id, file)
    copies: list[tuple[str, str, VideoFile, bool]] = field(default_factory=list)  # (source id, new id, file, changed)
    jobs: list[EmbedJob] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)


def video_id(path: str, content_hash: str, taken: set[str]) -> str:
    """Deterministic, so a run killed after writing frames reuses the same id next time."""
    salt = 0
    while True:
        candidate = xxhash.xxh3_64_hexdigest(f"{path}\0{content_hash}\0{salt}".encode())
        if candidate not in taken:
            taken.add(candidate)
            return candidate
        salt += 1


def plan(store: Store, root: Path, subdir: Path, progress: ProgressHook | None = None) -> Plan:
    """Compare the folder with the index; hash only files whose `stat` changed or that are new."""
    result = Plan()
    files = sorted(scan(root, subdir), key=lambda f: f.path)
    catalog = store.catalog().to_pylist()
    by_path = {row["path"]: row for row in catalog}
    by_hash: dict[str, list[dict]] = defaultdict(list)
    for row in catalog:
        by_hash[row["content_hash"]].append(row)
    taken = {row["id"] for row in catalog}
    prefix = subdir_prefix(root, subdir)
    seen = {f.path for f in files}
    # Files organised out of the root are not scanned here, so they are never "missing".
    missing = {
        row["path"]: row for row in catalog
        if row["path"].startswith(prefix) and not is_outside_root(row["path"]) and row["path"] not in seen
    }

    if not prefix:
        # Files `vindex organize` moved out of the root still belong to this index: unchanged if
        # they are where the index says, with the same stat (one `stat` each, as in the root).
        for row in catalog:
            if is_outside_root(row["path"]):
                try:
                    info = os.stat(root / row["path"])
                except OSError:
                    continue
                if (info.st_size, info.st_mtime_ns) == (row["size"], row["mtime_ns"]):
                    result.unchanged += 1

    known_failures = store.meta.get("failed", {})
    to_hash = []
    for file in files:
        row = by_path.get(file.path)
        failure = known_failures.get(file.path)
        if row and row["size"] == file.size and row["mtime_ns"] == file.mtime_ns and row["num_frames"]:
            result.unchanged += 1
        elif failure and failure[:2] == [file.size, file.mtime_ns]:
            # A broken file that has not changed since it failed is not decoded again.
            result.failed.append(Failure(file.path, failure[2]))
        else:
            to_hash.append(file)

    missing_by_hash: dict[str, list[dict]] = defaultdict(list)
    for row in missing.values():
        missing_by_hash[row["content_hash"]].append(row)
    new_content: dict[str, EmbedJob] = {}
    for done, file in enumerate(to_hash, 1):
        if progress:
            progress("hashing", done, len(to_hash))
        try:
            digest = hash_file(file.abs_path)
        except OSError as error:
            result.failed.append(Failure(file.path, f"unreadable: {error.strerror or error}"))
            continue
        row = by_path.get(file.path)
        if row and row["content_hash"] == digest and row["num_frames"]:
            result.touched.append((row["id"], file))
        elif not row and missing_by_hash.get(digest):
            result.renamed.append((missing_by_hash[digest].pop()["id"], file))
        else:
            changed = row is not None
            # Rows of deleted files count too: they are removed only after copies are made.
            sources = [r for r in by_hash.get(digest, []) if r["num_frames"]]
            new_id = row["id"] if changed else video_id(file.path, digest, taken)
            if sources:
                result.copies.append((sources[0]["id"], new_id, file, changed))
            elif digest in new_content:
                job = new_content[digest]
                job.files.append(file)
                job.ids.append(new_id)
                job.changed.append(changed)
            else:
                new_content[digest] = EmbedJob(digest, [file], [new_id], [changed])
    result.jobs = list(new_content.values())
    renamed_ids = {video for video, _ in result.renamed}
    result.removed = [row["id"] for row in missing.values() if row["id"] not in renamed_ids]
    return result


def _now() -> datetime:
    return datetime.now(timezone.utc)


def file_columns(file: VideoFile) -> dict:
    """The columns of a video row that describe the file on disk rather than its content."""
    return dict(path=file.path, channel=file.channel, size=file.size, mtime_ns=file.mtime_ns)


def apply_moves(store: Store, moves: list[tuple[str, VideoFile]]) -> None:
    """Point existing rows at a new path/stat without touching their vectors."""
    changes = {video: file_columns(file) for video, file in moves}
    store.update_rows(changes, WRITE_EVERY_VIDEOS)


def apply_copies(store: Store, copies: list[tuple[str, str, VideoFile, bool]]) -> None:
    """Give files whose content is already indexed their own rows, with the stored vectors."""
    for start in range(0, len(copies), WRITE_EVERY_VIDEOS):
        batch = copies[start : start + WRITE_EVERY_VIDEOS]
        sources = {r["id"]: r for r in store.videos_by_id(sorted({c[0] for c in batch})).to_pylist()}
        source_frames = defaultdict(list)
        for frame in store.frames_by_video(list(sources)).to_pylist():
            source_frames[frame["video_id"]].append(frame)
        videos, frames = [], []
        for source, new_id, file, _ in batch:
            videos.append(dict(sources[source], **file_columns(file), id=new_id, indexed_at=_now(),
                               cluster=None, cluster_probability=None, x=None, y=None))
            frames.extend(dict(f, video_id=new_id) for f in source_frames[source])
        store.write(pa.Table.from_pylist(videos, store.videos.schema), pa.Table.from_pylist(frames, store.frames.schema))


def _decode_job(job: EmbedJob, frames_per_video: int, size: int, keyframes_only: bool) -> DecodedVideo:
    return read_frames(job.files[0].abs_path, frames_per_video, size, keyframes_only=keyframes_only)


def decode_ahead(jobs: list[EmbedJob], frames_per_video: int, size: int, workers: int,
                 keyframes_only: bool = False) -> Iterator[tuple[EmbedJob, DecodedVideo | DecodeError]]:
    """Decode in worker threads, at most a few videos ahead of the consumer, in job order."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vindex-decode") as pool:
        pending: list[tuple[EmbedJob, Future]] = []
        queue = iter(jobs)
        ahead = max(2, workers * 4)
        try:
            for job in queue:
                pending.append((job, pool.submit(_decode_job, job, frames_per_video, size, keyframes_only)))
                if len(pending) >= ahead:
                    yield _result(*pending.pop(0))
            while pending:
                yield _result(*pending.pop(0))
        finally:
            for _, future in pending:
                future.cancel()


def _result(job: EmbedJob, future: Future) -> tuple[EmbedJob, DecodedVideo | DecodeError]:
    try:
        return job, future.result()
    except DecodeError as error:
        return job, error


def mean_vector(frame_vectors: np.ndarray) -> np.ndarray:
    """Mean of the (unit) frame vectors, normalised again: the video's single vector."""
    mean = frame_vectors.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def embed_jobs(
    jobs: list[EmbedJob],
    embedder: Future,
    image_size: int,
    frames_per_video: int,
    batch_size: int,
    workers: int,
    failures: list[Failure],
    keyframes_only: bool = False,
) -> Iterator[tuple[EmbedJob, DecodedVideo, np.ndarray]]:
    """Yield (job, decoded frames, frame vectors), embedding frames of several videos per batch.

    `embedder` may still be loading: decoding starts at once and waits for it at the first batch.
    """
    waiting: list[tuple[EmbedJob, DecodedVideo]] = []

    def flush():
        model = embedder.result()
        images = np.concatenate([decoded.images for _, decoded in waiting])
        vectors = np.concatenate([model.embed_images(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])
        start = 0
        for job, decoded in waiting:
            count = len(decoded.images)
            yield job, decoded, vectors[start : start + count]
            start += count
        waiting.clear()

    for job, decoded in decode_ahead(jobs, frames_per_video, image_size, workers, keyframes_only):
        if isinstance(decoded, DecodeError):
            failures.extend(job_failures(job, str(decoded)))
            continue
        waiting.append((job, decoded))
        if sum(len(d.images) for _, d in waiting) >= batch_size:
            yield from flush()
    if waiting:
        yield from flush()


def job_failures(job: EmbedJob, reason: str) -> list[Failure]:
    """A job that cannot be decoded fails every file that holds its content."""
    return [Failure(f.path, reason) for f in job.files]


def count_embedded(summary: AddSummary, job: EmbedJob, frames: int) -> None:
    summary.embedded += 1
    summary.frames += frames
    summary.reembedded += sum(job.changed)
    summary.added += len(job.files) - sum(job.changed)


def rows_for(job: EmbedJob, decoded: DecodedVideo, vectors: np.ndarray) -> tuple[list[dict], list[dict]]:
    video_vector = mean_vector(vectors)
    now = _now()
    videos, frames = [], []
    for video, file in zip(job.ids, job.files):
        videos.append(
            dict(
                id=video, **file_columns(file), content_hash=job.content_hash,
                duration=decoded.duration, fps=decoded.fps, width=decoded.width, height=decoded.height, frame_count=decoded.frame_count,
                num_frames=len(vectors), vector=video_vector, indexed_at=now,
                cluster=None, cluster_probability=None, x=None, y=None,
            )
        )
        frames.extend(
            dict(video_id=video, frame_index=i, timestamp=t, vector=v)
            for i, (t, v) in enumerate(zip(decoded.timestamps, vectors))
        )
    return videos, frames


class BatchWriter:
    """Collects rows and writes them every `commit_every` videos, and once more at the end."""

    def __init__(self, store: Store, commit_every: int = WRITE_EVERY_VIDEOS):
        self.store = store
        self.commit_every = commit_every
        self.videos: list[dict] = []
        self.frames: list[dict] = []

    def add(self, videos: list[dict], frames: list[dict]) -> None:
        self.videos.extend(videos)
        self.frames.extend(frames)
        if len(self.videos) >= self.commit_every:
            self.flush()

    def flush(self) -> None:
        if self.videos:
            self.store.write(
                pa.Table.from_pylist(self.videos, self.store.videos.schema),
                pa.Table.from_pylist(self.frames, self.store.frames.schema),
            )
        self.videos, self.frames = [], []


def run_jobs(store: Store, jobs: list[EmbedJob], load_embedder: Callable[[], object], image_size: int | None,
             frames_per_video: int, batch_size: int, workers: int, summary: AddSummary,
             progress: ProgressHook | None, commit_every: int, keyframes_only: bool = False) -> None:
    """Decode, embed and write `jobs` in this process. The model loads (seconds: importing torch
    alone takes ~3 s) in a thread of its own while the first videos decode."""
    writer = BatchWriter(store, commit_every)
    failed_before = len(summary.failed)
    loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vindex-model")
    embedder = loader.submit(load_embedder)
    try:
        size = image_size or embedder.result().image_size
        for done, (job, decoded, vectors) in enumerate(
            embed_jobs(jobs, embedder, size, frames_per_video, batch_size, workers, summary.failed, keyframes_only), 1
        ):
            writer.add(*rows_for(job, decoded, vectors))
            count_embedded(summary, job, len(vectors))
            if progress:
                progress("embedding", done + len(summary.failed) - failed_before, len(jobs))
    finally:
        loader.shutdown(wait=True)
        # Also on Ctrl-C: what was embedded is kept, and the next run picks up from there.
        writer.flush()


def add_folder(
    store: Store,
    root: Path,
    subdir: Path,
    load_embedder: Callable[[], object],
    frames_per_video: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    progress: ProgressHook | None = None,
    commit_every: int = WRITE_EVERY_VIDEOS,
    runner: JobRunner | None = None,
    image_size: int | None = None,
    keyframes_only: bool = False,
) -> AddSummary:
    """Bring the index in line with the videos under `subdir` (a folder inside `root`).

    Planning, moves, copies and deletions happen here; `runner` (default: this process, with
    decoder threads) only decodes and embeds the new content and writes its rows.
    """
    started = time.perf_counter()
    summary = AddSummary(root=str(root), db=store.uri)
    changes = plan(store, root, subdir, progress)
    if not (changes.unchanged or changes.touched or changes.renamed or changes.copies or changes.jobs
            or changes.removed or changes.failed):
        raise VindexError(f"no videos found under {subdir} (looked for {', '.join(sorted(VIDEO_EXTENSIONS))})")
    summary.failed.extend(changes.failed)
    summary.unchanged = changes.unchanged + len(changes.touched)
    apply_moves(store, changes.touched + changes.renamed)
    summary.renamed = len(changes.renamed)
    apply_copies(store, changes.copies)
    summary.added += sum(1 for c in changes.copies if not c[3])
    summary.reembedded += sum(1 for c in changes.copies if c[3])
    if changes.jobs and runner is not None:
        runner(store, changes.jobs, load_embedder, summary, progress)
    elif changes.jobs:
        run_jobs(store, changes.jobs, load_embedder, image_size, frames_per_video, batch_size,
                 workers or os.cpu_count() or 1, summary, progress, commit_every, keyframes_only)
    store.delete_videos(changes.removed)
    summary.removed = len(changes.removed)
    if changes.jobs or changes.copies or changes.removed or changes.renamed or changes.touched:
        store.sweep_orphan_frames()
        store.optimize()
    remember_failures(store, subdir_prefix(root, subdir), summary.failed)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def subdir_prefix(root: Path, subdir: Path) -> str:
    return "" if subdir == root else subdir.relative_to(root).as_posix() + "/"


def remember_failures(store: Store, prefix: str, failures: list[Failure]) -> None:
    """Record failed files with their stat, so unchanged broken files are not decoded every run."""
    if not store.meta:
        return
    recorded = {path: value for path, value in store.meta.get("failed", {}).items() if not path.startswith(prefix)}
    for failure in failures:
        try:
            info = os.stat(Path(store.meta["root"]) / failure.path)
        except OSError:
            continue
        recorded[failure.path] = [info.st_size, info.st_mtime_ns, failure.reason]
    if recorded != store.meta.get("failed", {}):
        store.set_meta(failed=recorded)


def check_folder(folder: str | Path) -> Path:
    if "://" in str(folder):
        raise VindexError(
            f"cannot index {folder}: source folders on object storage are not supported yet; mount or sync "
            "the bucket to a local folder (s3fs, rclone) and add that (the index itself may live at --db s3://...)"
        )
    folder = Path(folder)
    if not folder.exists():
        raise VindexError(f"no such folder: {folder}")
    if not folder.is_dir():
        raise VindexError(f"{folder} is a file, not a folder: pass the folder that holds your channels")
    return folder.resolve()


def ensure_root(store: Store, folder: Path) -> tuple[Path, Path]:
    """The index's root and the folder being added, checked to lie inside it."""
    root = Path(store.meta.get("root") or folder)
    if not folder.is_relative_to(root):
        raise VindexError(
            f"the index at {store.uri} covers {root}, not {folder}: pass --db for a separate index"
        )
    return root, folder

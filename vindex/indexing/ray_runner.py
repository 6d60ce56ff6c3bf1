"""`vindex add --engine ray`: the decode and embed stages of `add`, run on Ray Data.

The driver plans exactly as with the local runner (`vindex.indexing.plan`), so only content the
index has never seen is sent out. Ray Data then runs a dataset of those jobs through decode tasks
(CPU, `vindex.frames.read_frames`) and an actor pool that holds the CLIP model
(`vindex.embedding.Embedder`, one GPU per actor where the cluster has GPUs). The vectors stream
back to the driver, which writes their rows with `write_outcomes` as the local runner does: the
writes stay ordered and upserted exactly as in the local path, and at ~10 KB per video they are
far from the bottleneck (docs/scaling.md has the arithmetic).

Ray is imported inside these functions, so it stays an optional extra (`pip install vindex[ray]`).
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import socket
import sys
import warnings
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, redirect_stdout
from typing import Iterator

import numpy as np

from vindex.defaults import SAMPLING
from vindex.embedding import Embedder, ModelShape, ModelSpec
from vindex.errors import DecodeError, VindexError, first_line, os_reason
from vindex.fingerprints import FINE_WORDS, from_stored, to_stored
from vindex.frames import DecodedVideo, read_frames
from vindex.indexing.pipeline import Outcome
from vindex.indexing.jobs import EmbedJob
from vindex.indexing.runners import ModelLoader, RunSettings, write_outcomes
from vindex.indexing.summary import AddSummary
from vindex.locations import disk_path, stored_path
from vindex.results import ProgressHook, count
from vindex.store import Store

DEFAULT_RAY_PORT = 6379
CONNECT_TIMEOUT_S = 5.0
# Small decode tasks keep every CPU busy to the end and let a lost worker cost little to redo;
# the cap keeps the number of Ray objects sane for millions of videos.
JOBS_PER_BLOCK = 8
MAX_BLOCKS = 4096
# On CPUs CLIP embeds several times faster than one core decodes (issue 3's figures: ~70 img/s
# per core in bf16 against ~20 frames/s decoded per core), so one model actor per 4 CPUs at most.
CPUS_PER_CPU_ACTOR = 4


def import_ray(with_data: bool = False):
    """Ray, checked cheaply before planning; Ray Data (slower to import) only when there is work."""
    try:
        import ray

        if with_data:
            import ray.data  # noqa: F401  (the [data] extra)
    except ImportError:
        raise VindexError("--engine ray needs Ray Data: pip install 'vindex[ray]'") from None
    return ray


def check_reachable(address: str) -> None:
    """Fail in seconds on an address nothing listens at (ray.init would retry for minutes)."""
    if address == "auto":
        return  # Ray itself answers at once when it finds no running instance
    host_port = address.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        host, port = host_port, str(DEFAULT_RAY_PORT)
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        raise VindexError(f"cannot connect to the Ray cluster at {address}: {os_reason(error)}") from None


class RayRunner:
    """Runs `add`'s embed jobs on Ray (the cluster at `address`, else a local instance): a `JobRunner`."""

    def __init__(self, settings: RunSettings, address: str | None = None):
        self.ray = import_ray()
        if address:
            check_reachable(address)
        self.settings = settings
        self.address = address

    def __call__(self, store: Store, jobs: list[EmbedJob], model: ModelLoader, summary: AddSummary,
                 progress: ProgressHook | None) -> None:
        import_ray(with_data=True)
        with ThreadPoolExecutor(max_workers=1) as pool:
            # Importing open_clip (and torch) takes seconds, and so does starting Ray: overlap them.
            model_code = pool.submit(importlib.import_module, "open_clip")
            with ray_session(self.ray, self.address):
                model_code.result()
                self.run(store, jobs, model.shape(), summary, progress)

    def run(self, store: Store, jobs: list[EmbedJob], model: ModelShape, summary: AddSummary,
            progress: ProgressHook | None) -> None:
        """Stream the jobs through the pipeline; write each video's rows as it comes back."""
        dataset = self.pipeline(jobs, model.spec, model.image_size)
        outcomes = ((jobs[index], outcome) for index, outcome in collect_videos(stream(self.ray, dataset)))
        write_outcomes(store, jobs, outcomes, self.settings.commit_every, summary, progress)

    def pipeline(self, jobs: list[EmbedJob], spec: ModelSpec, image_size: int):
        """jobs → decoded frames (CPU tasks) → vectors (model actors), as a lazy Ray dataset."""
        ray = self.ray
        # Arrow holds valid UTF-8 only: a name that is not travels in its stored form.
        items = [{"job": index, "path": stored_path(job.files[0].abs_path)} for index, job in enumerate(jobs)]
        pool = ray.data.ActorPoolStrategy
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        cpus = int(resources.get("CPU", 1))
        blocks = min(len(items), MAX_BLOCKS, max(2 * cpus, math.ceil(len(items) / JOBS_PER_BLOCK)))
        settings = self.settings
        requested = settings.device or "auto"
        if requested.startswith("cuda") and not gpus:
            raise VindexError(f"--device {requested} but the Ray cluster has no GPUs")
        if gpus and (requested == "auto" or requested.startswith("cuda")):
            # Ray gives each actor its own GPU and shows it to the actor as the only (first) one.
            actor_device, actors, actor_resources = "cuda", pool(size=gpus), {"num_gpus": 1, "num_cpus": 1}
        else:
            # CPU actors reserve no CPU: like the local runner's inference thread they share the
            # cores with the decode tasks, which keep every core busy while the model waits. (Asking
            # for the decoders' resources would also let Ray Data fuse decoding into these few actors.)
            actor_device = "cpu" if requested == "auto" else requested
            actors = pool(min_size=1, max_size=max(1, cpus // CPUS_PER_CPU_ACTOR))
            actor_resources = {"num_cpus": 0}
        return (
            ray.data.from_items(items, override_num_blocks=blocks)
            .map_batches(
                decode_videos, batch_size=1, num_cpus=1,
                fn_kwargs={"frames_per_video": settings.frames_per_video, "size": image_size,
                           "keyframes_only": settings.keyframes_only, "sampling": settings.sampling},
            )
            .map_batches(
                EmbedFrames, batch_size=settings.batch_size, compute=actors, **actor_resources,
                fn_constructor_kwargs={"spec": spec, "device": actor_device, "precision": settings.precision},
            )
        )


@contextmanager
def ray_session(ray, address: str | None) -> Iterator[None]:
    """Use the Ray instance already running in this process, else connect (or start one) for this run.

    Ray prints its notices about lost workers on stdout. They are diagnostics, and stdout is the
    command's output (--json), so they go to stderr while this run holds Ray.
    """
    with redirect_stdout(sys.stderr):
        started = not ray.is_initialized()
        if started:
            connect(ray, address)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the CLI draws its own
        context.enable_auto_log_stats = False
        # A failed run is reported as one line (`stream`); Ray Data would also log its stack traces.
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            if started:
                ray.shutdown()


def connect(ray, address: str | None) -> None:
    # Ray's C++ core prints notices (e.g. about actor restarts) on the terminal; errors that
    # matter reach us as exceptions. RAY_BACKEND_LOG_LEVEL=info brings the notices back.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    try:
        with warnings.catch_warnings():
            # Ray forks only to exec its own processes, which never touch LanceDB.
            warnings.filterwarnings("ignore", message="lancedb fork support", category=RuntimeWarning)
            ray.init(address=address, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    except Exception as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise VindexError(f"cannot connect to {where}: {first_line(error)}") from None


def stream(ray, dataset) -> Iterator[dict[str, np.ndarray]]:
    """The dataset's output blocks as they finish; a Ray failure becomes one clear line."""
    try:
        yield from dataset.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2)
    except ray.exceptions.RayError as error:
        raise VindexError(f"the Ray run failed: {root_reason(error)}") from None
    except Exception as error:
        if type(error).__module__.startswith("ray."):
            raise VindexError(f"the Ray run failed: {root_reason(error)}") from None
        raise


def root_reason(error: BaseException) -> str:
    """What went wrong on a worker, from the layers Ray wraps around it.

    Ray keeps a worker's exception as `.cause` (task errors) or only as the text of its traceback
    (actor creation errors), whose last line names it.
    """
    chain: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for candidate in chain:
        for inner in (getattr(candidate, "cause", None), candidate):
            if isinstance(inner, VindexError):
                return str(inner)
    for candidate in chain:
        lines = [line.strip() for line in str(candidate).splitlines() if line.strip()]
        if lines:
            name, separator, message = lines[-1].partition(": ")
            return (message if separator and name.endswith("VindexError") else lines[-1])[:200]
    return type(error).__name__


def decode_videos(batch: dict[str, np.ndarray], frames_per_video: int, size: int,
                  keyframes_only: bool = False, sampling: str = SAMPLING) -> dict[str, np.ndarray]:
    """Ray Data stage 1 (CPU tasks): each video → one row per frame, or one row with its error."""
    rows = defaultdict(list)
    for job, path in zip(batch["job"], batch["path"]):
        try:
            decoded = read_frames(disk_path(str(path)), frames_per_video, size, keyframes_only=keyframes_only,
                                  sampling=sampling)
        except DecodeError as error:
            failed = {"frame": -1, "frames": 0, "timestamp": 0.0, "video": "{}", "error": str(error) or "undecodable",
                      "phash": 0, "blank": False}
            for column, value in dict(failed, job=job, image=np.zeros((size, size, 3), np.uint8)).items():
                rows[column].append(value)
            continue
        video = json.dumps({
            "duration": decoded.duration, "fps": decoded.fps, "width": decoded.width, "height": decoded.height,
            "frame_count": decoded.frame_count, "fingerprints": to_stored(decoded.fingerprints).tolist(),
            "fingerprint_times": decoded.fingerprint_times.tolist(), "fingerprint_blank": decoded.fingerprint_blank.tolist(),
            "fingerprint_weak": decoded.fingerprint_weak.tolist(),
            "fingerprint_colours": to_stored(decoded.fingerprint_colours).tolist(),
            "fingerprint_fine": to_stored(decoded.fingerprint_fine).tolist(),
        })
        hashes = to_stored(decoded.phashes)
        for index, (timestamp, image) in enumerate(zip(decoded.timestamps, decoded.images)):
            frame = {"job": job, "frame": index, "frames": len(decoded.images), "timestamp": timestamp,
                     "video": video, "error": "", "image": image, "phash": hashes[index],
                     "blank": decoded.blanks[index]}
            for column, value in frame.items():
                rows[column].append(value)
    return {column: np.stack(values) if column == "image" else np.asarray(values) for column, values in rows.items()}


class EmbedFrames:
    """Ray Data stage 2 (an actor pool): holds one CLIP model and embeds frames in batches."""

    def __init__(self, spec: ModelSpec, device: str, precision: str):
        if device == "cpu":
            import torch

            # Ray starts workers with one thread; the local runner's model uses the cores too.
            torch.set_num_threads(max(1, min(CPUS_PER_CPU_ACTOR, os.cpu_count() or 1)))
        self.embedder = Embedder(spec, device, precision)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One model call per batch (Ray Data cuts them at --batch-size frames)."""
        batch = dict(batch)
        images = batch.pop("image")
        decoded = np.flatnonzero(batch["error"] == "")
        vectors = np.zeros((len(images), self.embedder.dim), np.float32)
        if len(decoded):
            vectors[decoded] = self.embedder.embed_images(images[decoded])
        batch["vector"] = vectors
        return batch


def collect_videos(batches: Iterator[dict[str, np.ndarray]]) -> Iterator[tuple[int, Outcome]]:
    """Reassemble each video from its frame rows, which may arrive in any order and any batch.

    Yields (job index, (decoded metadata, frame vectors)) per video, or (job index, reason) for a
    video its worker could not decode.
    """
    pending: dict[int, list[tuple[int, float, np.ndarray, int, bool]]] = defaultdict(list)
    for batch in batches:
        for row in range(len(batch["job"])):
            job = int(batch["job"][row])
            if batch["error"][row]:
                yield job, DecodeError(str(batch["error"][row]))
                continue
            frames = pending[job]
            frames.append((int(batch["frame"][row]), float(batch["timestamp"][row]), batch["vector"][row],
                           int(batch["phash"][row]), bool(batch["blank"][row])))
            if len(frames) < int(batch["frames"][row]):
                continue
            del pending[job]
            frames.sort(key=lambda frame: frame[0])
            video = json.loads(str(batch["video"][row]))
            decoded = DecodedVideo(
                # The pixels stayed on the workers; rows need only the metadata and timestamps.
                images=np.empty((0, 0, 0, 3), np.uint8), timestamps=[frame[1] for frame in frames],
                duration=video["duration"], fps=video["fps"], width=video["width"], height=video["height"],
                frame_count=video["frame_count"], phashes=from_stored([frame[3] for frame in frames]),
                blanks=np.array([frame[4] for frame in frames], bool),
                fingerprints=from_stored(video["fingerprints"]),
                fingerprint_times=np.array(video["fingerprint_times"], np.float32),
                fingerprint_blank=np.array(video["fingerprint_blank"], bool),
                fingerprint_weak=np.array(video["fingerprint_weak"], bool),
                fingerprint_colours=from_stored(video["fingerprint_colours"]),
                fingerprint_fine=from_stored(video["fingerprint_fine"]).reshape(-1, FINE_WORDS),
            )
            yield job, (decoded, np.stack([frame[2] for frame in frames]).astype(np.float32), None)
    if pending:
        raise VindexError(f"the Ray run lost frames of {count(len(pending), 'video')}; run the command again to finish")

"""Runners decode, embed and write the sync plan's embed jobs: `LocalRunner` in this process,
`RayRunner` (`vindex.indexing.ray_runner`) on a Ray cluster. Both take the same `RunSettings`,
are called the same way (`JobRunner`) and write their rows through `write_outcomes`;
`vindex.indexing.engines` picks one by name."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Protocol

from vindex.defaults import BATCH_SIZE, COMMIT_EVERY, FRAMES_PER_VIDEO, PRECISION, SAMPLING
from vindex.errors import DecodeError, VindexError
from vindex.indexing.distinct import DistinctInputs, model_seed
from vindex.indexing.pipeline import Outcome, embed_jobs
from vindex.indexing.jobs import EmbedJob
from vindex.indexing.rows import BatchWriter, rows_for
from vindex.indexing.summary import AddSummary
from vindex.results import ProgressHook
from vindex.store import Store

if TYPE_CHECKING:
    from vindex.sampling import FramePolicy
    from vindex.embedding import Embedder, ModelShape


@dataclass(frozen=True)
class RunSettings:
    """How a runner decodes and embeds: the user's `add` options.

    `sampling` is how frames are chosen ("uniform" or "shots", `vindex.frames.read_frames`);
    `workers` is the number of decoder threads (default: the CPU count) of the local runner;
    `device` and `precision` are those of the Ray runner's model actors (the local runner embeds
    with the model `ModelLoader.load` gives, which the caller made for its own device and precision).
    """

    frames_per_video: int | FramePolicy = FRAMES_PER_VIDEO  # a fixed count, or the policy (`sampling.decoder_count`)
    batch_size: int = BATCH_SIZE
    commit_every: int = COMMIT_EVERY
    workers: int | None = None
    keyframes_only: bool = False
    device: str | None = None
    precision: str = PRECISION
    sampling: str = SAMPLING
    fingerprints: bool = True  # the dense fingerprints `dupes` needs (off only to measure their cost)


@dataclass(frozen=True)
class ModelLoader:
    """The model a run embeds with, loaded only when there is content to embed.

    `image_size` is read from the model's config (None if unknown) so decoding can start during
    the seconds that `load` takes; `shape` is all a driver whose workers hold the model needs.
    """

    image_size: int | None
    load: Callable[[], Embedder]
    shape: Callable[[], ModelShape]


class JobRunner(Protocol):
    """Decodes, embeds and writes the jobs' rows, counting what it did in `summary`."""

    settings: RunSettings

    def __call__(self, store: Store, jobs: list[EmbedJob], model: ModelLoader, summary: AddSummary,
                 progress: ProgressHook | None) -> None: ...


def write_outcomes(store: Store, jobs: list[EmbedJob], outcomes: Iterator[tuple[EmbedJob, Outcome]],
                   commit_every: int, summary: AddSummary, progress: ProgressHook | None) -> None:
    """Write each embedded job's rows (every `commit_every` videos) and count it, or its failure."""
    writer = BatchWriter(store, commit_every)
    try:
        for done, (job, outcome) in enumerate(outcomes, 1):
            if isinstance(outcome, DecodeError):
                summary.count_failed(job, outcome)
            else:
                decoded, vectors, digests = outcome
                writer.add(*rows_for(job, decoded, vectors, digests))
                summary.count_embedded(job, len(vectors))
            if progress:
                progress("embedding", done, len(jobs))
    finally:
        # Also on Ctrl-C or a failed run: what was embedded is kept, and the next run picks up from there.
        writer.flush()


class LocalRunner:
    """Runs the jobs in this process: decoder threads ahead of one model (`vindex.indexing.pipeline`)."""

    def __init__(self, settings: RunSettings, address: str | None = None):
        if address:
            raise VindexError("--address is for --engine ray")
        self.settings = settings

    def __call__(self, store: Store, jobs: list[EmbedJob], model: ModelLoader, summary: AddSummary,
                 progress: ProgressHook | None) -> None:
        """The model loads (seconds: importing torch alone takes ~3 s) in a thread of its own
        while the first videos decode."""
        settings = self.settings
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vindex-model") as loader:
            embedder = loader.submit(model.load)
            size = model.image_size or embedder.result().image_size

            def seed() -> int:  # the model is known once it has loaded
                spec = embedder.result().spec
                return model_seed(spec.name, spec.weights)

            distinct = DistinctInputs(lambda images: embedder.result().embed_images(images), seed,
                                      store.vectors_of_inputs)
            outcomes = embed_jobs(jobs, distinct, size, settings.frames_per_video, settings.batch_size,
                                  settings.workers or os.cpu_count() or 1, settings.keyframes_only, settings.sampling,
                                  settings.fingerprints)
            try:
                write_outcomes(store, jobs, outcomes, settings.commit_every, summary, progress)
            finally:
                summary.frames_reused += distinct.reused
                summary.frames_from_index += distinct.from_index


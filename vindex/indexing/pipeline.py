"""The local embedding pipeline: decode-ahead threads feed a model that embeds frames of several
videos per call. PyAV releases the GIL, so decoding runs in threads while the model embeds the
previous batch."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Iterator, Optional, Union

import numpy as np

from vindex.defaults import SAMPLING
from vindex.errors import DecodeError
from vindex.frames import DecodedVideo, read_frames
from vindex.indexing.distinct import DistinctInputs

if TYPE_CHECKING:
    from vindex.indexing.jobs import EmbedJob

# What became of one job: its decoded video with the frame vectors and the frames' input digests
# (`vindex.indexing.distinct`; None where the pixels were not at hand), or the DecodeError that says
# why it could not be decoded (each of its files becomes a `Failure` in the summary).
Outcome = Union[tuple[DecodedVideo, np.ndarray, Optional[list[str]]], DecodeError]


def _decode_job(job: EmbedJob, frames_per_video: int, size: int, keyframes_only: bool, sampling: str,
                fingerprints: bool) -> DecodedVideo:
    return read_frames(job.files[0].abs_path, frames_per_video, size, keyframes_only=keyframes_only, sampling=sampling,
                       fingerprints=fingerprints)


def decode_ahead(jobs: list[EmbedJob], frames_per_video: int, size: int, workers: int,
                 keyframes_only: bool = False, sampling: str = SAMPLING, fingerprints: bool = True,
                 ) -> Iterator[tuple[EmbedJob, DecodedVideo | DecodeError]]:
    """Decode in worker threads, at most a few videos ahead of the consumer, in job order."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vindex-decode") as pool:
        pending: list[tuple[EmbedJob, Future]] = []
        ahead = max(2, workers * 4)  # enough to keep every thread busy, few enough to bound memory
        try:
            for job in jobs:
                pending.append((job, pool.submit(_decode_job, job, frames_per_video, size, keyframes_only, sampling,
                                                 fingerprints)))
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


def embed_jobs(
    jobs: list[EmbedJob],
    distinct: DistinctInputs,
    image_size: int,
    frames_per_video: int,
    batch_size: int,
    workers: int,
    keyframes_only: bool = False,
    sampling: str = SAMPLING,
    fingerprints: bool = True,
) -> Iterator[tuple[EmbedJob, Outcome]]:
    """Yield (job, (decoded frames, frame vectors, input digests)) or (job, DecodeError) for each job,
    embedding frames of several videos per model call of `batch_size` frames.

    `distinct` embeds each frame neither the run nor the index has met, with a model that may still
    be loading: decoding starts at once and waits for it at the first batch.
    """
    waiting: list[tuple[EmbedJob, DecodedVideo]] = []

    def flush() -> Iterator[tuple[EmbedJob, Outcome]]:
        images = np.concatenate([decoded.images for _, decoded in waiting])
        batches = [distinct(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        vectors = np.concatenate([batch_vectors for batch_vectors, _ in batches])
        digests = [digest for _, batch_digests in batches for digest in batch_digests]
        start = 0
        for job, decoded in waiting:
            count = len(decoded.images)
            yield job, (decoded, vectors[start : start + count], digests[start : start + count])
            start += count
        waiting.clear()

    for job, decoded in decode_ahead(jobs, frames_per_video, image_size, workers, keyframes_only, sampling, fingerprints):
        if isinstance(decoded, DecodeError):
            yield job, decoded
            continue
        waiting.append((job, decoded))
        if sum(len(d.images) for _, d in waiting) >= batch_size:
            yield from flush()
    if waiting:
        yield from flush()

"""Decode a few evenly spaced frames from a video, ready for the image encoder.

PyAV is used rather than OpenCV or an ffmpeg subprocess: it decodes every codec FFmpeg knows,
exposes exact presentation timestamps and rotation metadata, releases the GIL while decoding
(so decoder threads overlap with inference) and lets us resize in swscale. See docs/decisions.md
for the measurements behind the strategy below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from vindex.errors import DecodeError, os_reason
from vindex.fingerprints import fingerprint, hash_pictures
from vindex.sample_pictures import DenseSampler, grey_square, scaled, upright
from vindex.scanning import open_regular
from vindex.shot_frames import ShotFramePicker
from vindex.shots import ShotFinder, shot_times

# Below this length one sequential pass is cheaper than one seek per frame: each seek decodes
# from the previous keyframe anyway, and short clips have few keyframes (docs/decisions.md).
SEQUENTIAL_MAX_SECONDS = 30.0
# How far before a target every frame is decoded again; beyond this, non-reference frames are
# skipped. It covers the decoder's reordering delay (a few frames) with room to spare.
SKIP_MARGIN_SECONDS = 0.5
# Non-reference frames are skipped for the fingerprints only where the video shows at least this many
# frames per fingerprint spacing: at a frame a second (a slide show), a skipped B-frame is a whole
# second away from the next frame kept, and a clip kept 5 samples of 8 s (the sixth footage set).
SKIP_MIN_FRAMES_PER_SAMPLE = 2.0
# Formats with no duration in their headers, for which FFmpeg estimates one from the bitrate
# (15% off on a test MPEG-1 file): their packets are scanned instead.
GUESSED_DURATION_FORMATS = frozenset({"mpeg", "mpegts", "mpegvideo", "h264", "hevc", "m4v"})
# A single read that takes longer than this (a hung network mount) ends the file's decoding.
READ_TIMEOUT_SECONDS = 30.0
PROBE_BYTES = 8 << 20  # how much FFmpeg reads, at most, to recognise the format and find the streams
# Dense fingerprints: the first decoded frame at or after each multiple of the spacing. A copy
# trimmed by a fraction of a second, or at another frame rate, is sampled at other moments than its
# original; in fast motion (a diver, a visualizer) pictures 0.25 s apart already differ by more than
# the match distance, so short clips are sampled five times a second, from the reference frames the
# sequential pass decodes anyway (the next one at or after each sample time), and hashing one costs
# ~0.3 ms (scripts/bench_dupes.py, scripts/bench_add.py, docs/performance.md).
FINGERPRINT_SPACING = 0.2  # seconds, in the sequential pass (videos up to SEQUENTIAL_MAX_SECONDS)
# Longer videos: a steady pass of their own, decoding reference frames only (no B-frames, no
# deblocking), one sample a second, so a sub-clip cut anywhere finds frames to match, however far
# apart the keyframes are.
STEADY_FINGERPRINT_SPACING = 1.0  # seconds (longer videos)
KEYFRAME_FINGERPRINT_SPACING = 1.0  # seconds, at most one keyframe per spacing (--fast)


@dataclass(frozen=True)
class DecodePlan:
    """What one decode of a video yields, and for whom.

    CLIP frames: `count` of them, `size` pixels square (no RGB images when `size` is None, only
    their hashes), at even targets, in the longest shots (`sampling="shots"`: the shot finder is
    a consumer of its own) or at the given times `at` (seconds from the start); `keyframes_only`
    takes the keyframe nearest each target instead. Fingerprints (`fingerprints`): the dense
    samples for duplicate finding and the picture facts drawn from them.
    """

    count: int
    size: int | None
    keyframes_only: bool = False
    sampling: str = "uniform"
    at: tuple[float, ...] | None = None
    fingerprints: bool = True


@dataclass
class DecodedVideo:
    """The frames taken from one video, square and `size` pixels wide, with their metadata."""

    images: np.ndarray  # (n, size, size, 3) uint8 RGB
    timestamps: list[float]  # seconds from the start of the video, one per image
    duration: float | None
    fps: float | None
    width: int
    height: int
    frame_count: int | None
    phashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))  # per image (vindex.fingerprints)
    blanks: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # per image: near-uniform, never a match
    # Dense samples, five a second (one a second past SEQUENTIAL_MAX_SECONDS; keyframes with --fast),
    # time order, blank ones included: `fingerprint_blank` says which.
    fingerprints: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    fingerprint_times: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    fingerprint_blank: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    # Samples whose hash says little of the picture (a fine periodic pattern): footage, never matched.
    fingerprint_weak: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    # Per sample, its colour signature (vindex.fingerprints.colour_signatures): grey hashes alike, colours not.
    fingerprint_colours: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    # Per sample, its finer hash (vindex.fingerprints.fine_hashes): (n, 4) uint64.
    fingerprint_fine: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.uint64))
    # The share of the width and of the height that is picture, not bars (letterbox, pillarbox):
    # the median over the non-blank fingerprint samples; (1, 1) when there are none.
    picture_share: tuple[float, float] = (1.0, 1.0)


def target_times(start: float, duration: float, count: int) -> list[float]:
    """The centres of `count` equal slices of the video, so no frame is the black first or last one."""
    return [start + duration * (i + 0.5) / count for i in range(count)]


def read_frames(path: str, count: int, size: int, threaded: bool = False, keyframes_only: bool = False,
                sampling: str = "uniform", fingerprints: bool = True) -> DecodedVideo:
    """Decode `count` frames evenly spaced through the video at `path` (`sampling="shots"`: in its
    shots, `vindex.shots`; a frame policy's, past 30 s, picked in one pass: `vindex.shot_frames`).

    `threaded` lets FFmpeg decode one video on several cores (a long video's steady pass always is).
    `keyframes_only` decodes keyframes alone (several times faster) and takes the keyframe
    nearest each target: frames can be seconds off the even spacing, but their real
    timestamps are recorded.
    Raises DecodeError (with a short reason) for anything that is not a decodable video.
    Very short videos give fewer than `count` frames, never duplicates. `fingerprints=False`
    leaves the dense fingerprints out (only to measure what they cost: scripts/bench_add.py).
    """
    return decode(path, DecodePlan(count, size, keyframes_only, sampling, fingerprints=fingerprints), threaded)


def decode(path: str, plan: DecodePlan, threaded: bool = False) -> DecodedVideo:
    """What `plan` asks of the video at `path`. Raises DecodeError as `read_frames` says."""
    import av

    container = open_video(path)
    try:
        with container:
            stream = video_stream(container)
            if threaded:
                stream.thread_type = "AUTO"
            return _decode(path, container, stream, plan)
    except DecodeError:
        raise
    except (av.FFmpegError, OSError, ValueError, RuntimeError, MemoryError) as error:
        raise DecodeError(decode_reason(error)) from None


def read_fingerprints(path: str, timestamps: list[float]) -> DecodedVideo:
    """The fingerprints `read_frames` would have made for a video indexed before they existed:
    the dense ones, and the hashes of the frames shown at `timestamps` (the stored frames'
    times); no RGB images (`images` is empty). Raises DecodeError as `read_frames` does."""
    return decode(path, DecodePlan(len(timestamps), None, at=tuple(timestamps)))


def open_video(path: str):
    """A PyAV container for the regular file at `path`.

    A FIFO or a device (`/dev/zero`) is refused before FFmpeg sees it (FFmpeg would read it
    forever), and a read that stalls (a hung network mount) gives up after READ_TIMEOUT_SECONDS.
    FFmpeg opens the descriptor that was checked (through /proc on Linux), not the path again.
    """
    import av

    try:
        fd = open_regular(path)
    except OSError as error:
        raise DecodeError(os_reason(error)) from None
    checked = f"/proc/self/fd/{fd}"
    try:
        return av.open(checked if os.path.exists(checked) else path, metadata_errors="ignore",
                       timeout=READ_TIMEOUT_SECONDS, options={"probesize": str(PROBE_BYTES)})
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as error:
        raise DecodeError(decode_reason(error)) from None
    finally:
        os.close(fd)


def video_stream(container):
    """The container's first video stream; DecodeError when it has none (an audio file, say)."""
    if not container.streams.video:
        raise DecodeError("no video stream")
    return container.streams.video[0]


def decode_reason(error: BaseException) -> str:
    # FFmpeg errors carry "[Errno N] message: 'path'"; the message alone is what a user needs.
    return os_reason(error)[:200]


def _decode(path: str, container, stream, plan: DecodePlan) -> DecodedVideo:
    """The frames and fingerprints `plan` asks for. `path` is the file that `container` reads,
    opened again for the steady fingerprint pass of a long video."""
    count, size, keyframes_only, at = plan.count, plan.size, plan.keyframes_only, plan.at
    time_base = stream.time_base or Fraction(1, 1_000_000)
    start = float(stream.start_time * time_base) if stream.start_time is not None else 0.0
    duration = _duration(container, stream, time_base)
    if duration is None:
        duration = _duration_from_packets(container, stream, time_base, start)
    fps = float(stream.average_rate) if stream.average_rate else None

    from av.video.reformatter import VideoReformatter

    # One swscale context per video and output: made afresh for each frame, it costs more than
    # the scaling itself (3 ms against 0.07 ms for a 64x64 grey square of a 360p frame).
    grey, rgb, chroma = VideoReformatter(), VideoReformatter(), VideoReformatter()
    long = duration is not None and duration > SEQUENTIAL_MAX_SECONDS
    spacing = (KEYFRAME_FINGERPRINT_SPACING if keyframes_only else STEADY_FINGERPRINT_SPACING if long
               else FINGERPRINT_SPACING)
    sampler = DenseSampler(start, duration, spacing, grey, chroma) if plan.fingerprints else None
    kept = None  # (time, (picture, grey)) of each frame: chosen during the steady pass, or made below
    def convert(frame) -> tuple:
        return _to_square_rgb(frame, size, rgb) if size else None, grey_square(frame, grey)

    if duration is not None and duration > 0:
        # Past SEQUENTIAL_MAX_SECONDS the fingerprints come from a steady pass: its keyframes find the shots too,
        # and under the frame policy it picks the frames (without fingerprints as well: the frames must not
        # depend on whether fingerprints are made).
        steady = long and not keyframes_only
        if at is not None:
            # A stored frame's time is its own: a hair later is still that frame, never the one before.
            targets = [start + t + 1e-6 for t in at]
        elif steady and plan.sampling == "shots" and not isinstance(count, int):
            picker = ShotFramePicker(count, start, duration, convert)  # the policy's frames, from the pass itself
            _steady_pass(path, sampler, picker=picker)
            targets, kept = [], picker.finish()
        elif steady and sampler is not None and plan.sampling == "shots":
            finder = ShotFinder()
            _steady_pass(path, sampler, finder)
            targets = finder.targets(start, duration, count)
        elif plan.sampling == "shots":
            targets = shot_times(container, stream, start, duration, count)
        else:
            targets = target_times(start, duration, count)
        if kept is not None:
            picked = kept
        elif keyframes_only:
            picked = _nearest_keyframes(container, stream, targets, sampler)
        elif long:
            picked = _seek_each(container, stream, targets, time_base)
            if steady and sampler is not None and not (plan.sampling == "shots" and at is None):
                _steady_pass(path, sampler)
        else:
            picked = _sequential(container, stream, targets, sampler)
    else:
        picked = _sequential(container, stream, [start] * 1, sampler)

    if not picked:
        raise DecodeError("no decodable video frames")
    width, height = stream.codec_context.width, stream.codec_context.height
    if kept is None:
        width, height = width or picked[0].width, height or picked[0].height
        kept = [(frame_time(frame, time_base), convert(frame)) for frame in picked]
    images = np.stack([picture for _, (picture, _) in kept]) if size else np.zeros((0, 0, 0, 3), np.uint8)
    phashes, blanks = fingerprint(np.stack([grey_square for _, (_, grey_square) in kept]))
    timestamps = [max(0.0, time - start) for time, _ in kept]
    frame_count = stream.frames or (round(duration * fps) if duration and fps else None)
    decoded = DecodedVideo(images, timestamps, duration, fps, int(width), int(height), frame_count, phashes, blanks)
    if sampler is not None and sampler.greys:
        hashed = hash_pictures(np.stack(sampler.greys), np.stack(sampler.chromas), np.asarray(sampler.times))
        decoded.fingerprints, decoded.fingerprint_blank = hashed.hashes, hashed.blank
        decoded.fingerprint_weak, decoded.fingerprint_colours = hashed.weak, hashed.colours
        decoded.fingerprint_fine = hashed.fine
        decoded.fingerprint_times = np.asarray(sampler.times, np.float32)
        decoded.picture_share = hashed.picture_share()
    return decoded


def _duration(container, stream, time_base: Fraction) -> float | None:
    """The stated duration, where the container states one rather than guessing it."""
    if container.format.name in GUESSED_DURATION_FORMATS:
        return None
    if stream.duration:
        return float(stream.duration * time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _duration_from_packets(container, stream, time_base: Fraction, start: float) -> float | None:
    """Demux (without decoding) to find the last timestamp when the container states no duration."""
    last = None
    for packet in container.demux(stream):
        if packet.pts is not None:
            end = packet.pts + (packet.duration or 0)
            last = end if last is None else max(last, end)
    container.seek(0, stream=stream)
    return float(last * time_base) - start if last is not None else None


def frame_time(frame, time_base: Fraction) -> float:
    if frame.pts is not None:
        return float(frame.pts * (frame.time_base or time_base))
    return float(frame.time or 0.0)


def _sequential(container, stream, targets: list[float], sampler: DenseSampler | None = None) -> list:
    """One decoding pass, keeping the frame on screen at each target time; with a `sampler`, the
    pass offers it every decoded frame and goes on past the last target while it wants more."""
    picked: list = []
    wanted = iter(sorted(targets))
    target = next(wanted)
    previous = None
    context = stream.codec_context
    skippable = sampler is None or _dense_enough(stream, sampler.spacing)
    for frame in container.decode(stream):
        time = frame_time(frame, stream.time_base)
        if sampler is not None:
            sampler.offer(frame, time)
        while target is not None and time > target:
            _keep(picked, previous if previous is not None else frame)
            target = next(wanted, None)
        previous = frame
        if target is None and (sampler is None or not sampler.wants_more()):
            break
        # Frames no other frame refers to (most B-frames) need not be decoded far from a target: the
        # sampler takes the next reference frame instead, a frame or two later (matching allows
        # TIME_TOLERANCE), which saves 35-40 % of the decoding (scripts/bench_add.py).
        far = target is None or time < target - SKIP_MARGIN_SECONDS
        context.skip_frame = "NONREF" if skippable and far else "DEFAULT"
    if target is not None and previous is not None:
        # The stated duration outlasts the frames: the last frame stands in for the rest.
        _keep(picked, previous)
    return picked


def _seek_each(container, stream, targets: list[float], time_base: Fraction) -> list:
    """Seek to the keyframe before each target and decode forward to the frame on screen then."""
    picked: list = []
    for target in targets:
        container.seek(int(target / time_base), stream=stream, backward=True, any_frame=False)
        previous = None
        for frame in container.decode(stream):
            if frame_time(frame, time_base) > target:
                previous = previous if previous is not None else frame
                break
            previous = frame
        if previous is not None:
            _keep(picked, previous)
    return picked


def _nearest_keyframes(container, stream, targets: list[float], sampler: DenseSampler | None = None) -> list:
    """Decode keyframes only, keeping for each target the keyframe closest to it (and offering
    each to the `sampler`)."""
    stream.codec_context.skip_frame = "NONKEY"
    best: list = [None] * len(targets)
    for frame in container.decode(stream):
        time = frame_time(frame, stream.time_base)
        if sampler is not None:
            sampler.offer(frame, time)
        for i, target in enumerate(targets):
            if best[i] is None or abs(time - target) < abs(frame_time(best[i], stream.time_base) - target):
                best[i] = frame
    picked: list = []
    for frame in best:
        if frame is not None:
            _keep(picked, frame)
    return picked


def _dense_enough(stream, spacing: float) -> bool:
    """Whether the stream shows SKIP_MIN_FRAMES_PER_SAMPLE frames or more per `spacing` seconds (an
    unknown rate counts as enough), so skipping the frames no other refers to leaves a sample near
    each multiple of `spacing`."""
    rate = float(stream.average_rate) if stream.average_rate else None
    return rate is None or rate * spacing >= SKIP_MIN_FRAMES_PER_SAMPLE


def _steady_pass(path: str, sampler: DenseSampler | None, shots: ShotFinder | None = None, picker=None) -> None:
    """Offer the sampler every reference frame of a long video, the shot finder its keyframes, the
    `picker` (`vindex.shot_frames.ShotFramePicker`) every frame: one pass in a decoder of its own
    (frame threads: a lone long video would leave a core idle, and an hour of 720p H.264 took 133 s
    on FFmpeg's default slice threads against 100 s, for ~20 % more CPU where slices do split the
    work, scripts/bench_add.py) that skips the frames no other refers to (most B-frames) and
    deblocking. The sampler keeps one a second. Cost: scripts/bench_dupes.py."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"skip_loop_filter": "all"}
        if sampler is None or _dense_enough(stream, sampler.spacing):
            stream.codec_context.skip_frame = "NONREF"
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            time = frame_time(frame, stream.time_base)
            if sampler is not None:
                sampler.offer(frame, time)
            if shots is not None and frame.key_frame:
                shots.offer(frame, time)
            if picker is not None:
                picker.offer(frame, time)


def _keep(picked: list, frame) -> None:
    """Append unless it is the frame picked last (short videos have fewer frames than targets)."""
    if not picked or picked[-1].pts != frame.pts:
        picked.append(frame)


def _to_square_rgb(frame, size: int, reformatter=None) -> np.ndarray:
    """Resize the shorter side to `size` (bicubic, as CLIP's preprocessing does), then centre-crop.

    Rotation metadata (phone videos) is applied so the picture is upright.
    """
    width, height = frame.width, frame.height
    scale = size / min(width, height)
    new_width, new_height = max(size, round(width * scale)), max(size, round(height * scale))
    rgb = scaled(frame, reformatter, width=new_width, height=new_height, format="rgb24",
                 interpolation="BICUBIC").to_ndarray()
    rgb = upright(rgb, frame)
    h, w = rgb.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(rgb[top : top + size, left : left + size])


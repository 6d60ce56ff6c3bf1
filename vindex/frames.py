"""Decode a few evenly spaced frames from a video, ready for the image encoder.

PyAV is used rather than OpenCV or an ffmpeg subprocess: it decodes every codec FFmpeg knows,
exposes exact presentation timestamps and rotation metadata, releases the GIL while decoding
(so decoder threads overlap with inference) and lets us resize in swscale. See docs/decisions.md
for the measurements behind the strategy below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from vindex.errors import DecodeError, os_reason
from vindex.scanning import open_regular

# Below this length one sequential pass is cheaper than one seek per frame: each seek decodes
# from the previous keyframe anyway, and short clips have few keyframes (docs/decisions.md).
SEQUENTIAL_MAX_SECONDS = 30.0
# How far before a target every frame is decoded again; beyond this, non-reference frames are
# skipped. It covers the decoder's reordering delay (a few frames) with room to spare.
SKIP_MARGIN_SECONDS = 0.5
# Formats with no duration in their headers, for which FFmpeg estimates one from the bitrate
# (15% off on a test MPEG-1 file): their packets are scanned instead.
GUESSED_DURATION_FORMATS = frozenset({"mpeg", "mpegts", "mpegvideo", "h264", "hevc", "m4v"})
# A single read that takes longer than this (a hung network mount) ends the file's decoding.
READ_TIMEOUT_SECONDS = 30.0
PROBE_BYTES = 8 << 20  # how much FFmpeg reads, at most, to recognise the format and find the streams


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


def target_times(start: float, duration: float, count: int) -> list[float]:
    """The centres of `count` equal slices of the video, so no frame is the black first or last one."""
    return [start + duration * (i + 0.5) / count for i in range(count)]


def read_frames(path: str, count: int, size: int, threaded: bool = False, keyframes_only: bool = False) -> DecodedVideo:
    """Decode `count` frames evenly spaced through the video at `path`.

    `threaded` lets FFmpeg decode one video on several cores: right for a single video, but
    slower than one thread per video when several videos are decoded side by side.
    `keyframes_only` decodes keyframes alone (several times faster) and takes the keyframe
    nearest each target: frames can be seconds off the even spacing, but their real
    timestamps are recorded.
    Raises DecodeError (with a short reason) for anything that is not a decodable video.
    Very short videos give fewer than `count` frames, never duplicates.
    """
    import av

    container = open_video(path)
    try:
        with container:
            if not container.streams.video:
                raise DecodeError("no video stream")
            stream = container.streams.video[0]
            if threaded:
                stream.thread_type = "AUTO"
            return _decode(container, stream, count, size, keyframes_only)
    except DecodeError:
        raise
    except (av.FFmpegError, OSError, ValueError, RuntimeError, MemoryError) as error:
        raise DecodeError(_reason(error)) from None


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
        raise DecodeError(_reason(error)) from None
    finally:
        os.close(fd)


def _reason(error: BaseException) -> str:
    # FFmpeg errors carry "[Errno N] message: 'path'"; the message alone is what a user needs.
    return os_reason(error)[:200]


def _decode(container, stream, count: int, size: int, keyframes_only: bool) -> DecodedVideo:
    time_base = stream.time_base or Fraction(1, 1_000_000)
    start = float(stream.start_time * time_base) if stream.start_time is not None else 0.0
    duration = _duration(container, stream, time_base)
    if duration is None:
        duration = _duration_from_packets(container, stream, time_base, start)
    fps = float(stream.average_rate) if stream.average_rate else None

    if duration is not None and duration > 0:
        targets = target_times(start, duration, count)
        if keyframes_only:
            picked = _nearest_keyframes(container, stream, targets)
        elif duration > SEQUENTIAL_MAX_SECONDS:
            picked = _seek_each(container, stream, targets, time_base)
        else:
            picked = _sequential(container, stream, targets)
    else:
        picked = _sequential(container, stream, [start] * 1)

    if not picked:
        raise DecodeError("no decodable video frames")
    images = np.stack([_to_square_rgb(frame, size) for frame in picked])
    timestamps = [max(0.0, _frame_time(frame, time_base) - start) for frame in picked]
    first = picked[0]
    width, height = stream.codec_context.width or first.width, stream.codec_context.height or first.height
    frame_count = stream.frames or (round(duration * fps) if duration and fps else None)
    return DecodedVideo(images, timestamps, duration, fps, int(width), int(height), frame_count)


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


def _frame_time(frame, time_base: Fraction) -> float:
    if frame.pts is not None:
        return float(frame.pts * (frame.time_base or time_base))
    return float(frame.time or 0.0)


def _sequential(container, stream, targets: list[float]) -> list:
    """One decoding pass, keeping the frame on screen at each target time."""
    picked: list = []
    wanted = iter(sorted(targets))
    target = next(wanted)
    previous = None
    context = stream.codec_context
    for frame in container.decode(stream):
        time = _frame_time(frame, stream.time_base)
        while target is not None and time > target:
            _keep(picked, previous if previous is not None else frame)
            target = next(wanted, None)
        if target is None:
            break
        previous = frame
        # Frames no other frame refers to (most B-frames) need not be decoded far from a target.
        context.skip_frame = "NONREF" if time < target - SKIP_MARGIN_SECONDS else "DEFAULT"
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
            if _frame_time(frame, time_base) > target:
                previous = previous if previous is not None else frame
                break
            previous = frame
        if previous is not None:
            _keep(picked, previous)
    return picked


def _nearest_keyframes(container, stream, targets: list[float]) -> list:
    """Decode keyframes only, keeping for each target the keyframe closest to it."""
    stream.codec_context.skip_frame = "NONKEY"
    best: list = [None] * len(targets)
    for frame in container.decode(stream):
        time = _frame_time(frame, stream.time_base)
        for i, target in enumerate(targets):
            if best[i] is None or abs(time - target) < abs(_frame_time(best[i], stream.time_base) - target):
                best[i] = frame
    picked: list = []
    for frame in best:
        if frame is not None:
            _keep(picked, frame)
    return picked


def _keep(picked: list, frame) -> None:
    """Append unless it is the frame picked last (short videos have fewer frames than targets)."""
    if not picked or picked[-1].pts != frame.pts:
        picked.append(frame)


def _to_square_rgb(frame, size: int) -> np.ndarray:
    """Resize the shorter side to `size` (bicubic, as CLIP's preprocessing does), then centre-crop.

    Rotation metadata (phone videos) is applied so the picture is upright.
    """
    rotation = (getattr(frame, "rotation", 0) or 0) % 360
    width, height = frame.width, frame.height
    scale = size / min(width, height)
    new_width, new_height = max(size, round(width * scale)), max(size, round(height * scale))
    rgb = frame.reformat(width=new_width, height=new_height, format="rgb24", interpolation="BICUBIC").to_ndarray()
    if rotation:
        # FFmpeg's display matrix angle is counter-clockwise; np.rot90 rotates counter-clockwise too.
        rgb = np.rot90(rgb, k=rotation // 90)
    h, w = rgb.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(rgb[top : top + size, left : left + size])


def read_thumbnail(path: str, timestamp: float, width: int | None = 192) -> np.ndarray:
    """The frame shown at `timestamp` seconds (from the video's start), `width` pixels wide (None:
    its own size), upright.

    Raises DecodeError when the file cannot be read as a video.
    """
    import av

    try:
        with open_video(path) as container:
            if not container.streams.video:
                raise DecodeError("no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            time_base = stream.time_base or Fraction(1, 1_000_000)
            start = float(stream.start_time * time_base) if stream.start_time is not None else 0.0
            target = start + max(0.0, timestamp)
            container.seek(int(target / time_base), stream=stream, backward=True, any_frame=False)
            chosen = None
            for frame in container.decode(stream):
                chosen = frame
                if _frame_time(frame, time_base) >= target - 1e-3:
                    break
            if chosen is None:
                raise DecodeError("no decodable video frames")
            return _to_width_rgb(chosen, width)
    except DecodeError:
        raise
    except (av.FFmpegError, OSError, ValueError, RuntimeError, MemoryError, UnicodeDecodeError) as error:
        raise DecodeError(_reason(error)) from None


def _to_width_rgb(frame, width: int | None) -> np.ndarray:
    rotation = (getattr(frame, "rotation", 0) or 0) % 360
    shown_width, shown_height = (frame.height, frame.width) if rotation in (90, 270) else (frame.width, frame.height)
    width = width or shown_width
    height = max(2, round(shown_height * width / max(shown_width, 1)))
    size = (height, width) if rotation in (90, 270) else (width, height)
    rgb = frame.reformat(width=size[0], height=size[1], format="rgb24", interpolation="BICUBIC").to_ndarray()
    if rotation:
        rgb = np.rot90(rgb, k=rotation // 90)
    return np.ascontiguousarray(rgb)

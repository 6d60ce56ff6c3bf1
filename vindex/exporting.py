"""Cut a moment out of an indexed video: a short clip around it and a still frame (`vindex export`).

The clip is a stream copy by default: packets are copied from the keyframe at or before the
clip's start to its end, so nothing is re-encoded (no quality loss, milliseconds instead of
seconds) and the clip starts up to one keyframe interval early; the real start and end are
reported. The audio stream is copied alongside when there is one. A copy that the container
refuses falls back to re-encoding, and `reencode` asks for it: frames from the exact start,
encoded with libx264 into an .mp4, video only. The still is the frame on screen at the moment,
at full resolution and upright, as a JPEG. Nothing is ever overwritten: a taken name gets a
number (`clip@1m23s-2.mp4`), as `organize` does.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from vindex.clock import moment
from vindex.errors import DecodeError, VindexError, os_reason
from vindex.frames import open_video, video_stream
from vindex.stills import read_thumbnail
from vindex.locations import is_remote, join_root, shown_path, stored_path
from vindex.display import without_hidden
from vindex.organizing.names import fit, numbered, safe_name
from vindex.results import Result
from vindex.store import Store, StoredVideo

CLIP_FORMAT = ".mp4"  # of a re-encoded clip; a copied one keeps its source's container
JPEG_QUALITY = 92
TIME = re.compile(r"^(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?)$")  # [[H:]M:]S(.f)


@dataclass
class Export(Result):
    """What `export` wrote for one moment of one video."""

    video_id: str
    path: str  # relative to the index root
    at: float  # the moment, seconds from the video's start
    start: float  # where the clip really starts (a keyframe at or before the asked start when copied)
    end: float
    clip: str  # the files written
    still: str
    reencoded: bool
    audio: bool  # the clip carries the source's audio


def parse_time(text: str | float | int) -> float:
    """Seconds from `83`, `83.5`, `1:23` or `1:02:03`."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = TIME.match(text.strip())
        if not match:
            raise VindexError(f"--at {text}: give a time as seconds (83.5) or M:SS (1:23) or H:MM:SS")
        hours, minutes, rest = match.groups()
        if (minutes is not None and float(rest) >= 60) or (hours is not None and int(minutes) >= 60):
            raise VindexError(f"--at {text}: minutes and seconds after a colon run from 00 to 59 (1:23, 1:02:03)")
        seconds = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(rest)
    if seconds < 0:
        raise VindexError(f"--at {text}: a time cannot be negative")
    return seconds


def time_label(seconds: float) -> str:
    """`1m23s`, `1h02m03s`: a moment as a file name can say it."""
    whole = int(seconds)
    hours, minutes, rest = whole // 3600, whole % 3600 // 60, whole % 60
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s"


def find_video(store: Store, hit: str | Path) -> StoredVideo:
    """The index row of a video id, a file on disk under the root, or a path as the index shows it."""
    text = os.fspath(hit)
    found = store.video_with_id(stored_path(text))  # a name that is not UTF-8 is no id, and no query takes it raw
    for path in [] if found else _stored_paths(store, text):
        found = store.video_at(path)
        if found:
            break
    if found is None:
        raise VindexError(f"{text} is not in the index: give a video id (vindex query --json) or an indexed file")
    return found


def _stored_paths(store: Store, text: str) -> list[str]:
    """The stored paths `text` may name: a file under the root (as given, then with links
    resolved), or a path as the index shows it."""
    paths = []
    root = store.meta.root or ""
    file = Path(text).expanduser()
    if root and not is_remote(root) and file.exists():
        for path, base in ((Path(os.path.abspath(file)), Path(os.path.abspath(root))), (file.resolve(), Path(root).resolve())):
            if path.is_relative_to(base):
                paths.append(stored_path(path.relative_to(base).as_posix()))
    paths.append(stored_path(text))
    return paths


def export(store: Store, hit: str | Path, at: float | str | None, clip: float, out: str | Path,
           reencode: bool = False, span: tuple[float, float] | None = None) -> Export:
    """Write a clip of `clip` seconds around `at` (default: the start) of the video `hit` (a video
    id or an indexed file) into the folder `out`, and the still frame at `at`. `span` (start and
    end, seconds: a search hit's segment) is cut instead of `clip` seconds when given."""
    store.require_videos()
    row = find_video(store, hit)
    at = parse_time(at) if at is not None else 0.0
    if not clip > 0:
        raise VindexError(f"--clip {clip}: a clip lasts more than 0 seconds")
    root = store.meta.root or ""
    if is_remote(root):
        raise VindexError(f"export reads local files; the index's videos are at {root}")
    file, shown = join_root(root, row.path), shown_path(row.path)
    if not os.path.isfile(file):
        raise VindexError(f"the file of {shown} is missing: {file} (moved or deleted? run `vindex add`)")
    duration = row.duration
    if duration is not None and at > duration:
        raise VindexError(f"--at {moment(at)} is past the end of {shown} ({moment(duration)} long)")
    start, end = max(0.0, at - clip / 2), at + clip / 2
    if duration is not None and end > duration:
        start, end = max(0.0, duration - clip), duration
    if span is not None and span[1] > span[0]:
        start, end = max(0.0, span[0]), min(span[1], duration) if duration is not None else span[1]
    folder = Path(out).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VindexError(f"cannot create {folder}: {os_reason(error)}") from None
    source_extension = os.path.splitext(row.path)[1].lower() or CLIP_FORMAT
    base = safe_name(without_hidden(Path(shown).stem), "video") + "@" + time_label(at)
    clip_extension = CLIP_FORMAT if reencode else source_extension
    clip_path, still_path = _claim(folder, base, [clip_extension, ".jpg"])
    try:
        written = None if reencode else _copy_or_none(file, clip_path, start, end)
        if written is None:  # asked for, or the container refused the copy
            if clip_path.suffix != CLIP_FORMAT:
                clip_path.unlink()
                clip_path = _claim(folder, base, [CLIP_FORMAT])[0]
            (real_start, real_end), audio, reencoded = _reencode(file, clip_path, start, end), False, True
        else:
            (real_start, real_end), audio, reencoded = *written, False
        _write_still(file, at, still_path)
    except DecodeError as error:
        for path in (clip_path, still_path):
            path.unlink(missing_ok=True)
        raise VindexError(f"cannot read {shown} as a video: {error}") from None
    return Export(row.id, shown, round(at, 3), round(real_start, 3), round(real_end, 3), str(clip_path),
                  str(still_path), reencoded, audio)


def _claim(folder: Path, base: str, extensions: list[str]) -> list[Path]:
    """Create empty files `base<ext>` (numbered `base-2<ext>`... until every one of them is free), so
    that no existing file is overwritten, even by a run beside this one."""
    number = 0
    while True:
        claimed: list[Path] = []
        try:
            for extension in extensions:
                name = fit(base, extension)
                path = folder / (numbered(name, number) if number else name)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                claimed.append(path)
            return claimed
        except FileExistsError:
            for path in claimed:
                path.unlink()
            number = max(2, number + 1)
        except OSError as error:
            raise VindexError(f"cannot write into {folder}: {os_reason(error)}") from None


def _copy_or_none(file: str, target: Path, start: float, end: float):
    """((start, end), audio copied) of a stream copy into `target`, or None when the copy fails."""
    import av

    try:
        return _copy(file, target, start, end)
    except DecodeError:
        raise
    except (av.FFmpegError, ValueError, RuntimeError):
        return None


def _copy(file: str, target: Path, start: float, end: float) -> tuple[tuple[float, float], bool]:
    import av

    with open_video(file) as source:
        video = video_stream(source)
        audio = source.streams.audio[0] if source.streams.audio else None
        offset = _start_of(video)
        with av.open(str(target), "w") as sink:
            streams = {video: sink.add_stream_from_template(video)}
            if audio is not None:
                streams[audio] = sink.add_stream_from_template(audio)
            source.seek(int((start + offset) / video.time_base), stream=video, backward=True, any_frame=False)
            origin, last = None, None
            for packet in source.demux(list(streams)):
                if packet.dts is None or packet.pts is None:
                    continue
                time = float(packet.pts * packet.time_base)
                if packet.stream is video:
                    if origin is None and not packet.is_keyframe:
                        continue
                    origin = time if origin is None else origin
                    if float(packet.dts * packet.time_base) >= end + offset:
                        break
                    finish = time + float((packet.duration or 0) * packet.time_base)
                    last = finish if last is None else max(last, finish)
                elif origin is None or not origin <= time < end + offset:
                    continue
                shift = round(Fraction(origin) / packet.time_base)
                packet.pts, packet.dts = packet.pts - shift, packet.dts - shift
                packet.stream = streams[packet.stream]
                sink.mux(packet)
    if origin is None:
        raise DecodeError("no keyframe before the end of the clip")
    return (origin - offset, last - offset), audio is not None


def _reencode(file: str, target: Path, start: float, end: float) -> tuple[float, float]:
    """Decode from the keyframe before `start`, encode the frames from `start` to `end` (libx264)."""
    import av

    try:
        with open_video(file) as source:
            video = video_stream(source)
            video.thread_type = "AUTO"
            offset = _start_of(video)
            rate = video.average_rate or Fraction(25)
            with av.open(str(target), "w") as sink:
                stream = sink.add_stream("libx264", rate=rate)
                stream.width = video.codec_context.width // 2 * 2
                stream.height = video.codec_context.height // 2 * 2
                stream.pix_fmt = "yuv420p"
                stream.time_base = Fraction(1, 90000)
                source.seek(int((start + offset) / video.time_base), stream=video, backward=True, any_frame=False)
                first = last = None
                for frame in source.decode(video):
                    time = float(frame.pts * frame.time_base) - offset if frame.pts is not None else None
                    if time is None or time < start - 1e-3:
                        continue
                    if time >= end - 1e-3:
                        break
                    first = time if first is None else first
                    last = time + 1 / float(rate)
                    picture = frame.reformat(width=stream.width, height=stream.height, format="yuv420p")
                    picture.pts, picture.time_base = round((time - first) * 90000), Fraction(1, 90000)
                    for packet in stream.encode(picture):
                        sink.mux(packet)
                for packet in stream.encode():
                    sink.mux(packet)
    except (av.FFmpegError, ValueError, RuntimeError) as error:
        raise DecodeError(os_reason(error)) from None
    if first is None:
        raise DecodeError("no frames in that stretch of the video")
    return first, last


def _start_of(stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _write_still(file: str, at: float, target: Path) -> None:
    from PIL import Image

    Image.fromarray(read_thumbnail(file, at, width=None)).save(target, "JPEG", quality=JPEG_QUALITY)

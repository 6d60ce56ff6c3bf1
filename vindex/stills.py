"""One picture at a moment of a video, at any width, upright: the thumbnails of the report and
the web app, and the stills `vindex export` writes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from vindex.errors import DecodeError
from vindex.frames import decode_reason, frame_time, open_video, video_stream


def read_thumbnail(path: str, timestamp: float, width: int | None = 192) -> np.ndarray:
    """The frame shown at `timestamp` seconds (from the video's start), `width` pixels wide (None:
    its own size), upright.

    Raises DecodeError when the file cannot be read as a video.
    """
    import av

    try:
        with open_video(path) as container:
            stream = video_stream(container)
            stream.thread_type = "AUTO"
            time_base = stream.time_base or Fraction(1, 1_000_000)
            start = float(stream.start_time * time_base) if stream.start_time is not None else 0.0
            target = start + max(0.0, timestamp)
            container.seek(int(target / time_base), stream=stream, backward=True, any_frame=False)
            chosen = None
            for frame in container.decode(stream):
                chosen = frame
                if frame_time(frame, time_base) >= target - 1e-3:
                    break
            if chosen is None:
                raise DecodeError("no decodable video frames")
            return _to_width_rgb(chosen, width)
    except DecodeError:
        raise
    except (av.FFmpegError, OSError, ValueError, RuntimeError, MemoryError, UnicodeDecodeError) as error:
        raise DecodeError(decode_reason(error)) from None


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

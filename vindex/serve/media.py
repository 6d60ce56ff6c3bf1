"""Videos and thumbnails, served by video id only: the file is whatever the index says the id's
path is under its root, never a path from the request.

Thumbnails are decoded once and kept as JPEG files in a folder beside the index, bounded in
size: past the bound the least recently used are removed.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from pathlib import Path
from typing import Callable

import xxhash

from vindex.errors import DecodeError

THUMBNAIL_WIDTH = 320  # two columns of a 1280-pixel page at 1x, one at 2x
JPEG_QUALITY = 80
# Eviction removes files until the cache is this share of its bound, so it runs rarely.
EVICT_TO = 0.8
PLACEHOLDER = (Path(__file__).parent / "static" / "missing.svg").read_bytes()
# Containers a browser's <video> plays (others are served, and the page says it cannot play them).
VIDEO_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/mp4", ".webm": "video/webm",
               ".mkv": "video/x-matroska", ".ogv": "video/ogg", ".avi": "video/x-msvideo", ".mpg": "video/mpeg",
               ".mpeg": "video/mpeg", ".ts": "video/mp2t"}


def is_readable_file(path: Path | None) -> bool:
    """Whether `path` is a file this process can read; False (not an error) when it cannot even look."""
    try:
        return path is not None and path.is_file() and os.access(path, os.R_OK)
    except OSError:  # a folder on the way that it may not enter
        return False


def video_type(path: Path) -> str:
    return VIDEO_TYPES.get(path.suffix.lower(), "application/octet-stream")


def thumbnail_key(row: dict, timestamp: float, width: int) -> str:
    """Names one thumbnail: the video's content (so a changed file gets new ones), moment and width."""
    text = f"{row['id']}\0{row['content_hash']}\0{timestamp:.1f}\0{width}"
    return xxhash.xxh3_64_hexdigest(text.encode())


def render_thumbnail(file: Path, timestamp: float, width: int) -> bytes:
    """The frame at `timestamp` as JPEG bytes; raises DecodeError for an unreadable file."""
    from PIL import Image

    from vindex.stills import read_thumbnail

    picture = read_thumbnail(str(file), timestamp, width)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


class ThumbnailCache:
    """JPEG files named by key in one folder, at most `limit_bytes` in all."""

    def __init__(self, folder: Path | None, limit_bytes: int):
        self.folder = self._usable(folder)
        self.limit_bytes = limit_bytes
        self._lock = threading.Lock()
        self._making: dict[str, threading.Lock] = {}
        # Decoding is CPU-bound: more at once than cores only makes every thumbnail later.
        self._decoders = threading.Semaphore(os.cpu_count() or 2)
        self._used = sum(entry.stat().st_size for entry in os.scandir(self.folder) if entry.name.endswith(".jpg"))

    @staticmethod
    def _usable(folder: Path | None) -> Path:
        """`folder`, or a temporary one when there is none (remote index) or it cannot be written."""
        if folder is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                if os.access(folder, os.W_OK):
                    return folder
            except OSError:
                pass
        return Path(tempfile.mkdtemp(prefix="vindex-thumbnails-"))

    def get(self, key: str, make: Callable[[], bytes]) -> bytes:
        """The cached bytes under `key`, made (once, even under concurrent requests) if absent."""
        path = self.folder / f"{key}.jpg"
        cached = self._read(path)
        if cached is not None:
            return cached
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        with making:
            cached = self._read(path)
            if cached is not None:
                return cached
            with self._decoders:
                data = make()
            partial = path.with_suffix(f".{threading.get_ident()}.part")
            partial.write_bytes(data)
            os.replace(partial, path)  # readers see the whole file or none
        with self._lock:
            self._making.pop(key, None)
            self._used += len(data)
            if self._used > self.limit_bytes:
                self._evict()
        return data

    def _read(self, path: Path) -> bytes | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            os.utime(path)  # the mtime is the last use, for eviction
        except OSError:
            pass
        return data

    def _evict(self) -> None:
        entries = sorted((entry.stat().st_mtime_ns, entry.stat().st_size, entry.path)
                         for entry in os.scandir(self.folder) if entry.name.endswith(".jpg"))
        used = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if used <= self.limit_bytes * EVICT_TO:
                break
            try:
                os.unlink(path)
                used -= size
            except FileNotFoundError:
                used -= size
        self._used = used


def thumbnail_bytes(cache: ThumbnailCache, row: dict, file: Path | None, timestamp: float,
                    width: int = THUMBNAIL_WIDTH) -> tuple[bytes, str | None]:
    """(JPEG bytes, key) of the frame, or (the placeholder, None) when the file is missing or unreadable."""
    if not is_readable_file(file):
        return PLACEHOLDER, None
    key = thumbnail_key(row, timestamp, width)
    try:
        return cache.get(key, lambda: render_thumbnail(file, timestamp, width)), key
    except (DecodeError, OSError):
        return PLACEHOLDER, None

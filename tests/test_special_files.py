"""Files that are not regular files, or not videos, are answered at once, never read forever."""

import os
import threading
import time

import pytest

from vindex.errors import DecodeError
from vindex.frames import read_frames
from vindex.scanning import NotRegularFile, hash_file


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "stream.mp4"
    os.mkfifo(path)
    return path


def finishes_within(seconds: float, action) -> BaseException | None:
    """Run `action` in a thread; fail the test if it is still running after `seconds`."""
    outcome: list = []

    def target():
        try:
            action()
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 (handed back to the test)
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still reading after {seconds} s"
    return outcome[0]


def test_hashing_a_fifo_or_device_is_refused_at_once(fifo):
    for path in (fifo, "/dev/zero"):
        error = finishes_within(5, lambda: hash_file(str(path)))
        assert isinstance(error, NotRegularFile) and "not a video file" in str(error)


def test_decoding_a_fifo_or_device_is_refused_at_once(fifo):
    for path, kind in ((fifo, "FIFO"), ("/dev/zero", "device")):
        error = finishes_within(5, lambda: read_frames(str(path), 5, 32))
        assert isinstance(error, DecodeError) and kind in str(error)


def test_random_bytes_are_not_a_video_within_seconds(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(20 << 20))
    started = time.monotonic()
    with pytest.raises(DecodeError):
        read_frames(str(junk), 5, 32)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
def test_similar_on_a_special_file_is_one_line_at_once(indexed_copy, run, fifo, target):
    path = fifo if target == "fifo" else target
    started = time.monotonic()
    result = run("similar", path, expect=1)
    assert time.monotonic() - started < 10
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a video file" in lines[0], result.stderr

"""Decoding frames (`vindex.frames`): every common codec, very short and long videos, rotation."""

import numpy as np
import pytest


@pytest.mark.parametrize("codec", ["mpeg4", "libvpx-vp9", "mjpeg", "mpeg1video", "libx264"])
def test_every_common_codec_decodes_to_evenly_spaced_frames(codec, tmp_path):
    from vindex.demo import CONTAINERS, render, theme_for, write_video
    from vindex.frames import read_frames

    pictures = render(theme_for(2), 96, 64, 50, np.random.default_rng(1))
    path = write_video(tmp_path / f"clip{CONTAINERS[codec]}", pictures, 25, codec=codec)
    decoded = read_frames(str(path), 5, 32)
    assert decoded.images.shape == (5, 32, 32, 3)
    assert decoded.width == 96 and decoded.height == 64
    assert decoded.duration == pytest.approx(2.0, abs=0.1)
    assert np.allclose(decoded.timestamps, [0.2, 0.6, 1.0, 1.4, 1.8], atol=0.05)


def test_very_short_video_gives_fewer_frames_without_duplicates(tmp_path):
    from vindex.demo import render, theme_for, write_video
    from vindex.frames import read_frames

    path = write_video(tmp_path / "two.mp4", render(theme_for(0), 64, 48, 2, np.random.default_rng(0)), 10)
    decoded = read_frames(str(path), 5, 32)
    assert len(decoded.images) == 2 and len(set(decoded.timestamps)) == 2


class SeekCounter:
    """A PyAV container that records where it is asked to seek (in seconds) and otherwise acts as itself."""

    def __init__(self, container, seeks: list[float]):
        self._container, self._seeks = container, seeks

    def __enter__(self):
        self._container.__enter__()
        return self

    def __exit__(self, *details):
        return self._container.__exit__(*details)

    def seek(self, offset, *args, stream=None, **kwargs):
        self._seeks.append(float(offset * stream.time_base) if stream is not None else offset / 1e6)
        return self._container.seek(offset, *args, stream=stream, **kwargs)

    def __getattr__(self, name):
        return getattr(self._container, name)


@pytest.mark.parametrize("sequential_max, seeks_expected", [(1.0, True), (60.0, False)])
def test_long_video_uses_seeking_and_lands_near_targets(tmp_path, monkeypatch, sequential_max, seeks_expected):
    """Past SEQUENTIAL_MAX_SECONDS a frame is found by a seek to the keyframe before each target;
    below it, by one sequential pass with no seek past the start."""
    from vindex import frames
    from vindex.demo import render, theme_for, write_video

    seeks: list[float] = []
    open_video = frames.open_video
    monkeypatch.setattr(frames, "open_video", lambda path: SeekCounter(open_video(path), seeks))
    monkeypatch.setattr(frames, "SEQUENTIAL_MAX_SECONDS", sequential_max)
    path = write_video(tmp_path / "long.mp4", render(theme_for(1), 64, 48, 60, np.random.default_rng(0)), 10)
    decoded = frames.read_frames(str(path), 3, 32, sampling="uniform")
    assert np.allclose(decoded.timestamps, [1.0, 3.0, 5.0], atol=0.15)
    forward = [at for at in seeks if at > 0]
    if seeks_expected:
        assert forward == pytest.approx([1.0, 3.0, 5.0], abs=0.01)
    else:
        assert forward == []


def test_rotation_metadata_is_applied(tmp_path):
    from vindex.frames import _to_square_rgb

    class RotatedFrame:
        width, height, rotation = 8, 4, -90

        def reformat(self, width, height, **_):
            picture = np.zeros((height, width, 3), np.uint8)
            picture[:, : width // 2] = 255  # left half white
            return type("F", (), {"to_ndarray": lambda _self: picture})()

    square = _to_square_rgb(RotatedFrame(), 4)
    # Displayed 90 degrees clockwise, the white left half becomes the top half.
    assert square[0].min() == 255 and square[-1].max() == 0

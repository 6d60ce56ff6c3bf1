"""Containment across sampling rates and of still pictures: a clip sampled five times a second
against a long video sampled once a second is judged on the frames that can be compared, and a
still picture must match closely (`vindex.duplicates.fingerprint_match`); and the decoder offers the
fingerprints reference frames only, away from the CLIP frames (`vindex.frames`)."""

import numpy as np

from tests.test_dupes import flipped, random_hashes
from vindex.duplicates.fingerprint_match import STILL_MAX_DISTANCE, Fingerprints, containment


def test_a_subclip_of_fast_footage_sampled_five_times_a_second_is_found_in_a_long_video_sampled_once():
    rng = np.random.default_rng(3)
    long = Fingerprints(random_hashes(rng, 120), np.arange(120) + 0.4)  # 2 minutes, one a second
    times = np.arange(50) * 0.2  # a 10 s sub-clip cut at 60.0 s, five samples a second
    # Fast motion: only the clip's samples at the long video's moments show its pictures.
    hashes = random_hashes(rng, 50)
    at_long_samples = np.flatnonzero(np.isclose((times + 60.0 - 0.4) % 1.0, 0.0, atol=0.05))
    hashes[at_long_samples] = flipped(rng, long.hashes[60 + at_long_samples // 5], 3)
    found = containment(Fingerprints(hashes, times), long)
    # Its 10 samples at the long video's moments, and its last, 0.6 s from the long video's next sample.
    assert found.matched == 10 and found.compared == 11 and found.share >= 0.9
    assert abs(found.offset - 60.0) <= 0.2


def test_a_two_second_subclip_with_two_samples_of_the_long_video_to_compare_is_found_by_both():
    rng = np.random.default_rng(6)
    long = Fingerprints(random_hashes(rng, 80), np.arange(80) * 1.5)  # reference frames 1.5 s apart
    times = np.arange(10) * 0.2  # a 2 s cut at 60.0 s: its samples at 0.0 and 1.4 s meet the long video's
    hashes = random_hashes(rng, 10)
    hashes[[0, 7]] = flipped(rng, long.hashes[[40, 41]], 3)
    found = containment(Fingerprints(hashes, times), long)
    assert found.matched == 2 and found.compared == 2 and found.share == 1.0
    assert abs(found.offset - 60.0) <= 0.2
    hashes[7] = random_hashes(rng, 1)[0]  # one of the two differs: no evidence
    assert containment(Fingerprints(hashes, times), long).share == 0.0


def test_a_still_picture_must_match_closely():
    rng = np.random.default_rng(4)
    board = random_hashes(rng, 1)
    recording = Fingerprints(np.repeat(board, 60), np.arange(60) * 0.2)  # 12 s of a still screen
    copy = Fingerprints(np.repeat(flipped(rng, board, 2), 30), np.arange(30) * 0.2)
    later = Fingerprints(np.repeat(flipped(rng, board, int(STILL_MAX_DISTANCE) + 3), 30), np.arange(30) * 0.2)
    assert containment(copy, recording).share == 1.0
    assert containment(later, recording).share == 0.0  # the same board seconds later, a few tiles moved


def test_moving_footage_keeps_the_looser_match():
    rng = np.random.default_rng(5)
    long = Fingerprints(random_hashes(rng, 50), np.arange(50) * 0.2)
    copy = Fingerprints(flipped(rng, long.hashes[10:40], int(STILL_MAX_DISTANCE) + 3), np.arange(30) * 0.2)
    assert containment(copy, long).share == 1.0


def clip_with_b_frames(path, seconds: float = 4.0, fps: int = 30):
    """An H.264 clip whose B-frames no other frame refers to (no B-pyramid): all of them may be skipped."""
    import av

    from vindex.demo import render, theme_for

    pictures = render(theme_for(3), 128, 96, int(seconds * fps), np.random.default_rng(6))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"x264-params": "b-pyramid=none:bframes=2"})
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for picture in pictures:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_fingerprints_are_taken_from_reference_frames_away_from_the_clip_frames(tmp_path, monkeypatch):
    import av
    from av.video.frame import PictureType

    from vindex import frames, sample_pictures

    path = clip_with_b_frames(tmp_path / "clip.mp4")
    with av.open(str(path)) as container:
        b_frames = sum(frame.pict_type == PictureType.B for frame in container.decode(video=0))
    assert b_frames > 40  # the encoder made B-frames: the check below can fail
    offered: list[tuple[float, bool]] = []
    offer = sample_pictures.DenseSampler.offer
    monkeypatch.setattr(sample_pictures.DenseSampler, "offer",
                        lambda self, frame, time: (offered.append((time, frame.pict_type == PictureType.B)),
                                                   offer(self, frame, time)))
    decoded = frames.read_frames(str(path), 2, 32, sampling="uniform")
    targets = [1.0, 3.0]  # the two CLIP frames of a 4 s clip
    assert np.allclose(decoded.timestamps, targets, atol=0.05)
    # Within SKIP_MARGIN_SECONDS before a CLIP frame every frame is decoded; a frame or two more come
    # out of the decoder after each switch.
    far = [t for t, b_frame in offered
           if b_frame and not any(-0.1 <= target - t <= frames.SKIP_MARGIN_SECONDS + 0.05 for target in targets)]
    assert len(far) <= 4, far
    assert len(decoded.fingerprints) >= 18  # still five samples a second over the 4 s


def test_a_slide_show_at_a_frame_a_second_keeps_every_frame_as_a_sample(tmp_path):
    from vindex import frames

    path = clip_with_b_frames(tmp_path / "slides.mp4", seconds=8.0, fps=1)  # its B-frames a second apart
    decoded = frames.read_frames(str(path), 2, 32, sampling="uniform")
    assert np.allclose(decoded.fingerprint_times, np.arange(8.0))

"""Perceptual fingerprints: pHash-compatible hashes, robust to re-encodes, resizes and bars, blank
frames flagged, sampled five times a second (once a second past 30 s) through the whole video, stored, carried through
renames and copies, and filled in for an index made before they existed without re-embedding."""

import json
import shutil
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from tests.conftest import TINY
from vindex import schema
from vindex.fingerprints import distance, fingerprint, from_stored, to_stored
from vindex.frames import read_frames
from vindex.sample_pictures import GREY_SIZE
from vindex.store import Store


def smooth_pictures(seconds: float, fps: int, width: int, height: int, seed: int) -> np.ndarray:
    """RGB pictures that drift smoothly and change to a new random scene every second."""
    rng = np.random.default_rng(seed)
    scenes = [np.asarray(Image.fromarray(rng.integers(0, 256, (4, 5, 3), np.uint8)).resize((width, height),
                                                                                          Image.BICUBIC), np.float32)
              for _ in range(int(np.ceil(seconds)) + 1)]
    frames = []
    for index in range(int(seconds * fps)):
        now = index / fps
        scene = scenes[int(now)]
        shift = int(now % 1 * 4)  # a small pan within the second
        frames.append(np.roll(scene, shift, axis=1).astype(np.uint8))
    return np.stack(frames)


def encode(path, pictures: np.ndarray, fps: int, size: tuple[int, int] | None = None, bit_rate: int | None = None,
           gop: int | None = None, codec: str = "libx264"):
    """Encode with PyAV, scaled to `size` (width, height) by swscale when given."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height = size or (pictures.shape[2], pictures.shape[1])
        stream.pix_fmt = "yuv420p"
        if bit_rate:
            stream.bit_rate = bit_rate
        if gop:
            stream.codec_context.gop_size = gop
        for picture in pictures:
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            if size:
                frame = frame.reformat(width=size[0], height=size[1])
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def grey_textures(count: int, seed: int = 0) -> np.ndarray:
    """Smooth random grey pictures, GREY_SIZE square, with no flat border."""
    rng = np.random.default_rng(seed)
    return np.stack([np.asarray(Image.fromarray(rng.integers(30, 226, (5, 5), np.uint8)).resize(
        (GREY_SIZE, GREY_SIZE), Image.BICUBIC)) for _ in range(count)])


def reference_phash(grey: np.ndarray) -> int:
    """imagehash.phash, written out: PIL's Lanczos shrink to 32x32, scipy's DCT, bits above the median."""
    import scipy.fftpack

    pixels = np.asarray(Image.fromarray(grey).resize((32, 32), Image.LANCZOS), np.float64)
    low = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)[:8, :8]
    return int("".join("1" if bit else "0" for bit in (low > np.median(low)).flatten()), 2)


def test_hashes_agree_with_phash():
    pictures = grey_textures(60)
    hashes, blank = fingerprint(pictures)
    reference = np.array([reference_phash(p) for p in pictures], np.uint64)
    gaps = distance(hashes, reference)
    assert hashes.dtype == np.uint64 and not blank.any()
    # Box filter against Lanczos: a coefficient next to the median may fall on the other side.
    assert np.median(gaps) == 0 and gaps.max() <= 6


def test_stored_form_round_trips_every_bit():
    hashes = np.array([0, 1, 2**63, 2**64 - 1, 0x0123456789ABCDEF], np.uint64)
    stored = to_stored(hashes)
    assert stored.dtype == np.int64 and stored[2] < 0
    assert (from_stored(stored.tolist()) == hashes).all()


def test_letterbox_and_pillarbox_bars_are_cropped_first():
    pictures = grey_textures(20, seed=1)
    hashes, _ = fingerprint(pictures)
    inner = GREY_SIZE * 3 // 4
    shrunk = np.stack([np.asarray(Image.fromarray(p).resize((GREY_SIZE, inner), Image.BILINEAR)) for p in pictures])
    letterboxed = np.full_like(pictures, 16)  # video black
    letterboxed[:, 8 : 8 + inner] = shrunk
    pillarboxed = np.full_like(pictures, 2)  # full-range black, as a PC screen capture has
    pillarboxed[:, :, 8 : 8 + inner] = np.stack(
        [np.asarray(Image.fromarray(p).resize((inner, GREY_SIZE), Image.BILINEAR)) for p in pictures])
    for framed in (letterboxed, pillarboxed):
        framed_hashes, blank = fingerprint(framed)
        assert not blank.any()
        assert distance(hashes, framed_hashes).max() <= 6
    # Without the crop the bars alone move the hash a long way: the test can fail.
    uncropped = np.array([reference_phash(p) for p in letterboxed], np.uint64)
    assert np.median(distance(hashes, uncropped)) > 8


def test_blank_frames_are_flagged():
    size = (GREY_SIZE, GREY_SIZE)
    texture = grey_textures(1, seed=2)[0].astype(np.float32)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1.5, size)
    blanks = [
        np.zeros(size), np.full(size, 255.0), np.full(size, 140.0) + noise,  # black, white, one colour (noisy)
        16 + (texture - 16) * 0.04,  # the dark end of a fade to black
        235 - (235 - texture) * 0.04,  # a fade to white
    ]
    _, blank = fingerprint(np.clip(np.stack(blanks), 0, 255).astype(np.uint8))
    assert blank.all()
    _, not_blank = fingerprint(np.stack([texture, 16 + (texture - 16) * 0.5]).astype(np.uint8))
    assert not not_blank.any()


def test_a_terminal_of_small_text_is_footage_not_blank():
    rng = np.random.default_rng(3)
    terminal = np.full((GREY_SIZE, GREY_SIZE), 30.0)  # a dark, flat background
    for row in range(1, 17, 4):  # four lines of small text at the top left: a row of glyph dots each
        terminal[row, np.flatnonzero(rng.random(40) < 0.5)] = 90
    _, blank = fingerprint(terminal.astype(np.uint8)[None])
    assert not blank.any()  # its shrunk picture's contrast is 4.9 grey levels: blank under 6


def test_distinct_pictures_are_far_apart():
    hashes, _ = fingerprint(grey_textures(40, seed=3))
    gaps = distance(hashes[:, None], hashes[None, :])[~np.eye(40, dtype=bool)]
    assert np.median(gaps) >= 24 and gaps.min() >= 10


@pytest.fixture(scope="module")
def scene_videos(tmp_path_factory):
    """The same 6 s of pictures encoded three ways, and a different video."""
    folder = tmp_path_factory.mktemp("scenes")
    pictures = smooth_pictures(6, 10, 160, 120, seed=4)
    return {
        "original": encode(folder / "original.mp4", pictures, 10),
        "small": encode(folder / "small.mp4", pictures, 10, size=(96, 72), bit_rate=60_000),
        "mpeg4": encode(folder / "mpeg4.avi", pictures, 10, size=(128, 96), codec="mpeg4"),
        "other": encode(folder / "other.mp4", smooth_pictures(6, 10, 160, 120, seed=5), 10),
    }


def test_dense_fingerprints_are_five_a_second(scene_videos):
    decoded = read_frames(str(scene_videos["original"]), 5, 32)
    times = decoded.fingerprint_times
    assert len(times) == 30 and (np.diff(times) > 0.15).all()
    assert np.abs(times - np.round(times * 5) / 5).max() <= 0.05
    assert len(decoded.phashes) == len(decoded.blanks) == len(decoded.images) == 5
    assert not decoded.fingerprint_blank.any()


def test_fingerprints_survive_reencodes_and_resizes(scene_videos):
    original = read_frames(str(scene_videos["original"]), 5, 32)
    other = read_frames(str(scene_videos["other"]), 5, 32)
    # MPEG-4 part 2 at FFmpeg's default bitrate is blocky at this size: a few bits more.
    for name, median, most in (("small", 4, 8), ("mpeg4", 8, 12)):
        copy = read_frames(str(scene_videos[name]), 5, 32)
        assert len(copy.fingerprints) == len(original.fingerprints)
        gaps = distance(copy.fingerprints, original.fingerprints)
        assert np.median(gaps) <= median and gaps.max() <= most, (name, gaps)
        assert distance(copy.phashes, original.phashes).max() <= most, name
    assert distance(other.fingerprints, original.fingerprints).min() >= 12


def test_black_intro_seconds_are_flagged_blank(tmp_path):
    pictures = smooth_pictures(4, 10, 96, 72, seed=6)
    pictures[:20] = 0  # two seconds of black
    decoded = read_frames(str(encode(tmp_path / "intro.mp4", pictures, 10)), 3, 32)
    assert decoded.fingerprint_blank.tolist() == [True] * 10 + [False] * 10


def test_a_long_video_is_fingerprinted_throughout(tmp_path):
    """Past 30 s the decoder seeks to each CLIP frame, and the fingerprints come from keyframes."""
    pictures = smooth_pictures(45, 4, 64, 48, seed=7)
    path = encode(tmp_path / "long.mp4", pictures, 4, gop=4)
    decoded = read_frames(str(path), 5, 32)
    times = decoded.fingerprint_times
    assert decoded.duration > 30
    assert times[0] < 1 and times[-1] > decoded.duration - 2
    assert np.diff(times).max() <= 1.5 and len(times) >= 40
    # A 10 s stretch cut from the middle (20 s to 30 s), smaller, finds its fingerprints in the long video.
    clip = read_frames(str(encode(tmp_path / "clip.mp4", pictures[80:120], 4, size=(48, 36))), 3, 32)
    # The long video has a keyframe a second; the clip's samples at whole seconds show the same pictures.
    whole = np.abs(clip.fingerprint_times - np.round(clip.fingerprint_times)) < 0.1
    gaps = distance(clip.fingerprints[whole][:, None], decoded.fingerprints[None, :])
    assert whole.sum() == 10 and np.median(gaps.min(axis=1)) <= 6
    assert 19.5 <= times[gaps[0].argmin()] <= 20.5


def columns(db, table: str, names: list[str]) -> list[dict]:
    return getattr(Store(str(db)), table).to_arrow().select(names).to_pylist()


def test_rows_store_fingerprints_and_keep_them_through_renames_and_copies(tmp_path, run, isolated_index):
    root = tmp_path / "channels"
    pictures = smooth_pictures(3, 10, 96, 72, seed=8)
    pictures[:10] = 0  # a black first second: left out of the stored fingerprints
    (root / "a").mkdir(parents=True)
    encode(root / "a" / "one.mp4", pictures, 10)
    encode(root / "a" / "two.mp4", smooth_pictures(2, 10, 96, 72, seed=9), 10)
    run("add", root, *TINY, "-q")
    videos = {row["path"]: row for row in columns(isolated_index, "videos", ["id", "path", "fingerprints", "fingerprint_times"])}
    one = videos["a/one.mp4"]
    assert len(one["fingerprints"]) == 10 and one["fingerprint_times"][0] >= 0.9
    assert len(videos["a/two.mp4"]["fingerprints"]) == 10
    frames = sorted(columns(isolated_index, "frames", ["video_id", "frame_index", "phash", "blank"]),
                    key=lambda frame: (frame["video_id"], frame["frame_index"]))
    assert all(frame["phash"] is not None for frame in frames)
    # Frames at 0.3, 0.9, 1.5, 2.1 and 2.7 s: the first two are black.
    assert [f["blank"] for f in frames if f["video_id"] == one["id"]] == [True, True, False, False, False]

    (root / "a" / "one.mp4").rename(root / "a" / "renamed.mp4")
    shutil.copy(root / "a" / "two.mp4", root / "a" / "copy.mp4")
    run("add", root, *TINY, "-q")
    after = {row["path"]: row for row in columns(isolated_index, "videos", ["id", "path", "fingerprints", "fingerprint_times"])}
    assert after["a/renamed.mp4"]["fingerprints"] == one["fingerprints"]
    assert after["a/copy.mp4"]["fingerprints"] == videos["a/two.mp4"]["fingerprints"]
    frames = sorted(columns(isolated_index, "frames", ["video_id", "frame_index", "phash"]),
                    key=lambda frame: (frame["video_id"], frame["frame_index"]))
    copied = [f["phash"] for f in frames if f["video_id"] == after["a/copy.mp4"]["id"]]
    source = [f["phash"] for f in frames if f["video_id"] == after["a/two.mp4"]["id"]]
    assert copied == source and len(copied) == 5


def test_an_index_from_before_fingerprints_gets_them_without_reembedding(indexed_copy, corpus_template, run):
    store = Store(str(indexed_copy))
    before_videos = store.videos.to_arrow().sort_by("id")
    before_frames = store.frames.to_arrow().sort_by([("video_id", "ascending"), ("frame_index", "ascending")])
    # What migration 1 leaves: the columns dropped by hand, then added back null on open.
    store.videos.drop_columns([field.name for field in schema.VIDEO_COLUMNS_V2 + schema.VIDEO_COLUMNS_V4])
    store.frames.drop_columns([field.name for field in schema.FRAME_COLUMNS_V2])
    store.set_meta(schema_version=1)
    assert Store(str(indexed_copy)).videos.to_arrow().column("fingerprints").null_count == before_videos.num_rows

    summary = json.loads(run("add", corpus_template, *TINY, "--json").stdout)
    assert summary["embedded"] == 0 and summary["fingerprinted"] == before_videos.num_rows
    store = Store(str(indexed_copy))
    videos = store.videos.to_arrow().sort_by("id")
    frames = store.frames.to_arrow().sort_by([("video_id", "ascending"), ("frame_index", "ascending")])
    for name in ("id", "vector", "fingerprints", "fingerprint_times", "num_frames"):
        assert videos.column(name).equals(before_videos.column(name)), name
    for name in ("video_id", "frame_index", "timestamp", "vector", "phash", "blank"):
        assert frames.column(name).equals(before_frames.column(name)), name
    again = json.loads(run("add", corpus_template, *TINY, "--json").stdout)
    assert again["fingerprinted"] == 0


def test_keyframes_only_takes_one_keyframe_a_second_at_most(tmp_path):
    path = encode(tmp_path / "keys.mp4", smooth_pictures(5, 10, 96, 72, seed=10), 10, gop=5)  # a keyframe every 0.5 s
    fast = read_frames(str(path), 3, 32, keyframes_only=True)
    assert fast.fingerprint_times.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    full = read_frames(str(path), 3, 32)
    assert distance(fast.fingerprints, full.fingerprints[::5]).max() <= 4  # the same frames, decoded alike


def test_title_cards_and_frozen_ends_are_not_footage():
    from vindex.footage import content, content_seconds

    rng = np.random.default_rng(11)
    title, logo, last = (rng.integers(0, 1 << 63, dtype=np.int64).view(np.uint64) for _ in range(3))
    moving = rng.integers(0, 1 << 63, 20, dtype=np.int64).view(np.uint64)  # 4 s of footage
    hashes = np.r_[[np.uint64(0)] * 5, [title] * 10, [logo] * 6, moving, [last] * 10]
    times = np.arange(len(hashes)) * 0.2
    blank = np.r_[[True] * 5, [False] * (len(hashes) - 5)]  # 1 s of black, 2 s of title, a still logo
    kept = content(hashes, times, blank)
    assert kept.tolist() == [False] * 21 + [True] * 20 + [False] * 10  # ... and a 2 s frozen end
    assert content_seconds(times, kept, len(hashes) * 0.2) == pytest.approx(4.0)
    still = np.full(20, title)  # a video that is one still picture is all footage
    assert content(still, np.arange(20) * 0.2, np.zeros(20, bool)).all()

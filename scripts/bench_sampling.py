#!/usr/bin/env python
"""Uniform against shot-aware sampling (`vindex add --sampling`), side by side in one run.

    python scripts/bench_sampling.py                         # 10 videos of 20-60 s, 6-12 scenes each
    python scripts/bench_sampling.py --videos 16 --rounds 3 --frames 5

Each video joins 6-12 visually distinct scenes (the demo corpus's themes) of uneven lengths,
some short. The corpus is indexed once per sampling with the random-weight `vindex-tiny` model;
as text queries mean nothing with random weights, each scene is looked for with a clip of it
(`Index.similar`) and found when its video is in the top k. Figures: the hit rate for the scenes
that uniform sampling puts no frame in (and for all scenes), and the speed of `add` (videos/s,
best of --rounds, the two samplings taking turns) and of decoding alone.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from vindex import Index
from vindex.demo import PALETTES, PATTERNS, Theme, render, write_video
from vindex.embedding import ModelSpec
from vindex.frames import read_frames
from vindex.indexing import EmbedJob, decode_ahead
from vindex.scanning import scan

FPS = 15


def make_videos(folder: Path, videos: int, seed: int, size: tuple[int, int] = (192, 144)) -> list[dict]:
    """Write the multi-scene videos and one probe clip per scene; returns each scene's facts."""
    rng = np.random.default_rng(seed)
    themes = [Theme(pattern, palette) for pattern in PATTERNS for palette in PALETTES]
    scenes = []
    for number in range(videos):
        count = int(rng.integers(6, 13))
        seconds = rng.uniform(20, 60)
        weights = rng.pareto(1.2, count) + 0.15  # uneven: a few long scenes, several short ones
        lengths = np.maximum(1, np.round(weights / weights.sum() * seconds * FPS)).astype(int)
        chosen = rng.choice(len(themes), count, replace=False)
        pictures, start = [], 0
        path = folder / "channels" / "multi" / f"video_{number:02d}.mp4"
        for theme, frames in zip(chosen, lengths):
            clip = render(themes[theme], size[0], size[1], int(frames), rng)
            probe = write_video(folder / "probes" / f"video_{number:02d}_{start}.mp4", clip, FPS)
            scenes.append({"video": path, "start": start / FPS, "end": (start + frames) / FPS, "probe": probe})
            pictures.append(clip)
            start += frames
        write_video(path, np.concatenate(pictures), FPS)
    return scenes


def add_seconds(folder: Path, db: Path, sampling: str, frames: int) -> float:
    shutil.rmtree(db, ignore_errors=True)
    started = time.perf_counter()
    Index(str(db)).add(folder / "channels", model=ModelSpec("vindex-tiny"), frames=frames, sampling=sampling)
    return time.perf_counter() - started


def decode_seconds(folder: Path, sampling: str, frames: int, workers: int) -> float:
    jobs = [EmbedJob("", [file], [""], [False]) for file in scan(folder / "channels")]
    started = time.perf_counter()
    for _ in decode_ahead(jobs, frames, 64, workers, sampling=sampling):
        pass
    return time.perf_counter() - started


def hit_rates(db: Path, scenes: list[dict], top: int) -> tuple[int, int, int]:
    """How many scenes find their video: all of them, those uniform sampling leaves uncovered, and
    those of these that shots sampling covers."""
    index = Index(str(db))
    found = uncovered_found = rescued_found = 0
    for scene in scenes:
        hits = index.similar(scene["probe"], limit=top).hits
        hit = any(Path(h.file).resolve() == scene["video"].resolve() for h in hits)
        found += hit
        uncovered_found += hit and scene["uncovered"]
        rescued_found += hit and scene["uncovered"] and scene["shots"]
    return found, uncovered_found, rescued_found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=10)
    parser.add_argument("--frames", type=int, default=5, help="frames per video")
    parser.add_argument("--top", type=int, default=3, help="a scene is found when its video is in this top k")
    parser.add_argument("--rounds", type=int, default=2, help="timed adds per sampling (best kept)")
    parser.add_argument("--workers", type=int, default=2, help="decoder threads")
    parser.add_argument("--size", default="192x144", help="WIDTHxHEIGHT of the videos")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="vindex-sampling-"))
    try:
        size = tuple(int(side) for side in args.size.lower().split("x"))
        scenes = make_videos(folder, args.videos, args.seed, size)
        durations = {s["video"]: s["end"] for s in scenes}  # the last scene ends the video
        taken = {(video, sampling): read_frames(str(video), args.frames, 64, sampling=sampling).timestamps
                 for video in durations for sampling in ("uniform", "shots")}
        for scene in scenes:
            for sampling in ("uniform", "shots"):
                times = taken[scene["video"], sampling]
                scene[sampling] = any(scene["start"] <= t < scene["end"] for t in times)
            scene["uncovered"] = not scene["uniform"]
        uncovered = sum(s["uncovered"] for s in scenes)
        rescued = sum(s["uncovered"] and s["shots"] for s in scenes)
        print(f"{args.videos} videos, {len(scenes)} scenes: uniform sampling puts a frame in "
              f"{len(scenes) - uncovered}, shots in {sum(s['shots'] for s in scenes)}; of the {uncovered} with no "
              f"uniform frame, shots covers {rescued}")
        print(f"{sum(durations.values()):.0f} s of video at {size[0]}x{size[1]}, {FPS} fps; "
              f"{args.frames} frames per video, top {args.top}, {args.workers} decoder threads")
        samplings = ("uniform", "shots")
        Index(str(folder / "warm")).add(folder / "channels", model=ModelSpec("vindex-tiny"), frames=1)  # imports
        add = {s: [] for s in samplings}
        decode = {s: [] for s in samplings}
        for _ in range(args.rounds):
            for sampling in samplings:
                decode[sampling].append(decode_seconds(folder, sampling, args.frames, args.workers))
                add[sampling].append(add_seconds(folder, folder / f"db-{sampling}", sampling, args.frames))
        print(f"{'sampling':>9} {'uncovered found':>16} {'of them covered by shots':>25} {'all found':>10} "
              f"{'add videos/s':>13} {'decode videos/s':>16}")
        figures = {}
        for sampling in samplings:
            found, uncovered_found, rescued_found = hit_rates(folder / f"db-{sampling}", scenes, args.top)
            figures[sampling] = (args.videos / min(add[sampling]), args.videos / min(decode[sampling]))
            print(f"{sampling:>9} {uncovered_found:>7}/{uncovered} {uncovered_found / max(uncovered, 1):>6.0%}"
                  f" {rescued_found:>17}/{rescued} {rescued_found / max(rescued, 1):>5.0%}"
                  f" {found / len(scenes):>10.0%} {figures[sampling][0]:>13.2f} {figures[sampling][1]:>16.2f}")
        add_ratio = figures["uniform"][0] / figures["shots"][0]
        decode_ratio = figures["uniform"][1] / figures["shots"][1]
        print(f"shots takes {add_ratio:.2f}x the time of uniform to add ({(add_ratio - 1):+.0%}), "
              f"{decode_ratio:.2f}x to decode alone ({(decode_ratio - 1):+.0%})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Compare ways of taking N evenly spaced frames from clips of several lengths.

    python scripts/bench_decode.py [--folder /tmp/vindex-decode] [--frames 5]

Strategies: one sequential pass (skipping non-reference frames far from the targets), one seek
per frame, keyframes only (what `add --fast` does), and OpenCV seeking when cv2 is installed.
The crossover between the first two sets vindex.frames.SEQUENTIAL_MAX_SECONDS.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from vindex import frames
from vindex.defaults import FRAMES_PER_VIDEO
from vindex.demo import render, theme_for, write_video


def clip(folder: Path, seconds: int) -> Path:
    path = folder / f"clip_{seconds:03d}s.mp4"
    if not path.exists():
        rng = np.random.default_rng(seconds)
        pictures = render(theme_for(seconds % 8), 640, 360, seconds * 30, rng)
        write_video(path, pictures, 30)
    return path


def rate(function, path: Path, repeats: int) -> tuple[float, list[float]]:
    started = time.perf_counter()
    for _ in range(repeats):
        timestamps = function(str(path))
    return repeats / (time.perf_counter() - started), timestamps


def opencv_seek(count: int):
    import cv2

    def read(path: str) -> list[float]:
        capture = cv2.VideoCapture(path)
        total = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        fps = capture.get(cv2.CAP_PROP_FPS)
        times = []
        for i in range(count):
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(total * (i + 0.5) / count))
            ok, _ = capture.read()
            if ok:
                times.append(capture.get(cv2.CAP_PROP_POS_FRAMES) / fps)
        capture.release()
        return times

    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/vindex-decode"))
    parser.add_argument("--frames", type=int, default=FRAMES_PER_VIDEO)
    parser.add_argument("--lengths", default="5,10,30,60,120")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    strategies = {
        "sequential": lambda p: _pyav(p, args.frames, sequential=True),
        "seek each": lambda p: _pyav(p, args.frames, sequential=False),
        "keyframes (add --fast)": lambda p: frames.read_frames(p, args.frames, 224, keyframes_only=True).timestamps,
    }
    try:
        strategies["opencv seek"] = opencv_seek(args.frames)
    except ImportError:
        pass
    print(f"{args.frames} frames per clip, 640x360 H.264 at 30 fps, one decoding thread; clips per second:")
    print(f"{'length':>8} " + " ".join(f"{name:>19}" for name in strategies))
    for seconds in (int(s) for s in args.lengths.split(",")):
        path = clip(args.folder, seconds)
        repeats = max(1, 20 // seconds)
        rates = [rate(function, path, repeats) for function in strategies.values()]
        print(f"{seconds:>7}s " + " ".join(f"{r:19.2f}" for r, _ in rates))
        for name, (_, stamps) in zip(strategies, rates):
            print(f"{'':>9}{name}: frames at {', '.join(f'{t:.2f}' for t in stamps)}")


def _pyav(path: str, count: int, sequential: bool) -> list[float]:
    saved = frames.SEQUENTIAL_MAX_SECONDS
    frames.SEQUENTIAL_MAX_SECONDS = float("inf") if sequential else 0.0
    try:
        return frames.read_frames(path, count, 224).timestamps
    finally:
        frames.SEQUENTIAL_MAX_SECONDS = saved


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""The share of frames that need no forward pass of their own: `vindex add` embeds each distinct
model input once, within a run (bit-identical frames at the model's size: black and title frames,
static screens) and from the index (a frame whose input digest an earlier run stored).

    python scripts/bench_distinct.py FOLDER [FOLDER ...] [--model ViT-B-32] [--frames 5]

Each folder is added to a fresh index in three runs, in a working copy of its files:
  1. "first half": every other file (sorted by path);
  2. "second half": the other files, added to that index: what they share with the first half
     bit for bit comes from the index;
  3. "re-tagged copies": each file remuxed by ffmpeg (`-c copy`, another title tag: the same picture
     stream in other bytes, so a new content hash), added beside the originals: all of their frames
     should come from the index; those that do not decode to other pixels.
Prints per run the videos embedded, frames, and the frames reused within the run and from the index.

ViT-B-32 runs with random weights (saved once as a checkpoint): which frames are identical does not
depend on the weights, only on the input size (224 px).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_add import model_spec  # noqa: E402
from bench_cold_query import cpu_name  # noqa: E402

VIDEO_SUFFIXES = {".mp4", ".mkv", ".webm", ".avi", ".mov", ".ogv", ".ogg", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv"}


def add(folder: Path, db: Path, spec, frames: int) -> dict:
    command = [sys.executable, "-m", "vindex", "add", str(folder), "--db", str(db), "--model", spec.name,
               "--frames", str(frames), "--json", "-q"]
    command += ["--checkpoint", spec.checkpoint] if spec.checkpoint else []
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"vindex add {folder} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def remux(source: Path, target: Path) -> bool:
    """The same streams in a new file with another title tag; False where ffmpeg cannot."""
    target.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-map", "0", "-c", "copy",
                           "-metadata", "title=re-tagged", str(target)], capture_output=True)
    if done.returncode:
        target.unlink(missing_ok=True)
    return done.returncode == 0


def row(label: str, summary: dict) -> str:
    frames, reused, from_index = summary["frames"], summary["frames_reused"], summary["frames_from_index"]
    within = reused - from_index
    return (f"  {label:<18} {summary['embedded']:>6} {frames:>7} {within:>7} {within / max(frames, 1):6.1%}"
            f" {from_index:>7} {from_index / max(frames, 1):6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/vindex-bench-distinct"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    spec = model_spec(args.model, args.work)
    print(f"{args.model}, {args.frames} frames/video, on {cpu_name()}")
    print(f"  {'run':<18} {'videos':>6} {'frames':>7} {'within':>7} {'share':>6} {'index':>7} {'share':>6}")
    for folder in args.folders:
        print(folder)
        work = Path(tempfile.mkdtemp(dir=args.work))
        try:
            tree, db = work / "videos", work / "index.vindex"
            files = sorted(path for path in folder.rglob("*") if path.is_file())
            for number, half in enumerate(("first half", "second half")):
                for path in files[number::2]:
                    (tree / path.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, tree / path.relative_to(folder))
                print(row(half, add(tree, db, spec, args.frames)))
            videos = [path for path in files if path.suffix.lower() in VIDEO_SUFFIXES]
            remuxed = sum(remux(path, tree / "re-tagged" / path.relative_to(folder)) for path in videos)
            print(row("re-tagged copies", add(tree, db, spec, args.frames))
                  + f"   ({remuxed} of {len(videos)} files remuxed)")
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Benchmark `vindex add --engine ray` against the local engine on the same corpus, in one run.

    python scripts/bench_ray.py                              # bench_add.py's corpus: 60 videos of 10 s at ~360p
    python scripts/bench_ray.py --videos 12 --model vindex-tiny
    python scripts/bench_ray.py --address auto               # an already running Ray cluster
    python scripts/bench_ray.py --corpus /data/channels      # an existing folder of videos

Each engine indexes the corpus into a fresh index in its own `vindex add` process (as a user
runs it, Ray start-up included), then re-runs on the unchanged corpus. It prints videos/s for
each, their ratio (issue 7's target on a 2-CPU box: ray >= 0.8x local), and checks that both
indexes hold the same rows and the same vectors within float tolerance.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_add import build_corpus, model_spec, vindex_add  # noqa: E402

from vindex.defaults import BATCH_SIZE, FRAMES_PER_VIDEO, MODEL  # noqa: E402
from vindex.scanning import scan  # noqa: E402
from vindex.store import Store  # noqa: E402

VECTOR_TOLERANCE = 1e-4
ROW_COLUMNS = ["id", "path", "channel", "size", "mtime_ns", "content_hash", "duration", "fps", "width", "height",
               "frame_count", "num_frames"]


def differences(local: Store, other: Store) -> tuple[list[str], float]:
    """What differs between two indexes of the same corpus, and the largest vector difference."""
    problems: list[str] = []
    largest = 0.0
    for name, keys, columns in [("videos", ["id"], ROW_COLUMNS),
                                ("frames", ["video_id", "frame_index"], ["video_id", "frame_index", "timestamp"])]:
        a, b = (getattr(s, name).to_arrow().sort_by([(k, "ascending") for k in keys]) for s in (local, other))
        if a.num_rows != b.num_rows:
            problems.append(f"{name}: {a.num_rows} rows against {b.num_rows}")
            continue
        problems += [f"{name}.{c} differs" for c in columns if a.column(c).to_pylist() != b.column(c).to_pylist()]
        if a.num_rows:
            va, vb = (np.stack(t.column("vector").to_numpy(zero_copy_only=False)) for t in (a, b))
            largest = max(largest, float(np.abs(va - vb).max()))
    if largest > VECTOR_TOLERANCE:
        problems.append(f"vectors differ by up to {largest:.2e} (tolerance {VECTOR_TOLERANCE:.0e})")
    return problems, largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/vindex-bench"), help="corpus and indexes go here")
    parser.add_argument("--videos", type=int, default=60)
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--frames", type=int, default=FRAMES_PER_VIDEO)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--address", default=None, help="Ray cluster for the ray run (default: a local Ray)")
    parser.add_argument("--corpus", type=Path, default=None, help="index this folder instead of a generated corpus")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    root = args.corpus.resolve() if args.corpus else build_corpus(args.folder, args.videos)
    videos = sum(1 for _ in scan(root))
    spec = model_spec(args.model, args.folder)

    engines = {"local": [], "ray": ["--engine", "ray"] + (["--address", args.address] if args.address else [])}
    rates, indexes = {}, {}
    for engine, extra in engines.items():
        db = args.folder / f"index-{args.model}-compare-{engine}"
        subprocess.run(["rm", "-rf", str(db)], check=True)
        summary, wall = vindex_add(root, db, spec, args.frames, args.batch_size, extra)
        rerun, rerun_wall = vindex_add(root, db, spec, args.frames, args.batch_size, extra)
        rates[engine] = summary["embedded"] / summary["seconds"]
        indexes[engine] = Store(str(db))
        print(f"{engine:>5}: {rates[engine]:6.2f} videos/s ({summary['embedded']} videos in {summary['seconds']:.1f} s "
              f"of add, {wall:.1f} s for the whole command); unchanged re-run {rerun['seconds']:.2f} s "
              f"({rerun_wall:.1f} s whole), {rerun['embedded']} embedded", flush=True)

    ratio = rates["ray"] / rates["local"]
    print(f"\ncorpus: {videos} videos under {root}; {args.frames} frames/video; model {args.model}; "
          f"{os.cpu_count()} CPUs")
    print(f"ray / local: {ratio:.2f}x ({'meets' if ratio >= 0.8 else 'misses'} the 0.8x target)")
    problems, largest = differences(indexes["local"], indexes["ray"])
    if problems:
        print("tables differ: " + "; ".join(problems))
        sys.exit(1)
    print(f"tables equal: same rows in videos and frames, vectors within {largest:.1e}")


if __name__ == "__main__":
    main()

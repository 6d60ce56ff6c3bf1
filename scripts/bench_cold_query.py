#!/usr/bin/env python
"""Cold `vindex query` wall time per backend on a synthetic index (10,000 videos by default).

    python scripts/bench_cold_query.py                  # ViT-B-32 (random weights), torch and OpenVINO
    python scripts/bench_cold_query.py --videos 1000 --runs 5

The index is filled with synthetic vectors as in bench_search.py; the model is ViT-B-32 with random
weights saved as a checkpoint (loading costs the same as real weights). The first OpenVINO query
converts the model into the cache (once per machine) and is not timed. Also prints the slowest
imports of a cold OpenVINO query (`python -X importtime`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import build, cold_query_seconds, model_spec  # noqa: E402

from vindex.defaults import FRAMES_PER_VIDEO, MODEL  # noqa: E402


def slowest_imports(db: Path, count: int = 6) -> list[tuple[float, str]]:
    command = [sys.executable, "-X", "importtime", "-m", "vindex", "query", "a cat", "--db", str(db), "-n", "5"]
    result = subprocess.run(command, check=True, capture_output=True, text=True, env=dict(os.environ))
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit() and not name.startswith("  "):  # top-level imports only
                rows.append((int(cumulative) / 1e6, name.strip()))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/vindex-bench-search"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    db = args.out / f"index-{args.videos}"
    spec = model_spec(MODEL, args.out)
    if not db.is_dir():
        build(argparse.Namespace(videos=args.videos, frames=FRAMES_PER_VIDEO, dim=512, channels=100), db,
              args.out / f"channels-{args.videos}", spec)
    print(f"cold `vindex query` on {args.videos:,} videos ({MODEL}), median of {args.runs}:")
    for backend in ("torch", "openvino"):
        print(f"  --backend {backend:<8}: {cold_query_seconds(db, backend, args.runs):6.2f} s")
    print("slowest top-level imports of a cold query (auto backend), cumulative seconds:")
    for seconds, name in slowest_imports(db):
        print(f"  {seconds:6.2f}  {name}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Cold `vindex query` wall time per backend on a synthetic index (10,000 videos by default).

    python scripts/bench_cold_query.py                  # ViT-B-32 (random weights), torch and OpenVINO
    python scripts/bench_cold_query.py --videos 1000 --runs 5

The index is filled with synthetic vectors as in bench_search.py; the model is ViT-B-32 with random
weights saved as a checkpoint (loading costs the same as real weights). The first OpenVINO query
converts the model into the cache (once per machine) and is not timed. Also prints the slowest
imports of a cold OpenVINO query (`python -X importtime`), and the ratio of a cold OpenVINO query to
the bare imports it cannot do without (`python -c "import numpy, pyarrow, openvino"`), in wall time
and in CPU time (the steadier figure on a busy machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
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


BARE_IMPORTS = "import numpy, pyarrow, openvino"


def timed(command: list[str], runs: int) -> tuple[float, float]:
    """Median wall seconds and least CPU seconds of `command` over `runs` runs (after one untimed)."""
    environment = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    subprocess.run(command, check=True, capture_output=True, env=environment)
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=environment)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/vindex-bench-search"))
    parser.add_argument("--torch", action="store_true", help="also time --backend torch (needs vindex[torch])")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    db = args.out / f"index-{args.videos}"
    spec = model_spec(MODEL, args.out)
    if not db.is_dir():
        build(argparse.Namespace(videos=args.videos, frames=FRAMES_PER_VIDEO, dim=512, channels=100), db,
              args.out / f"channels-{args.videos}", spec)
    print(f"cold `vindex query` on {args.videos:,} videos ({MODEL}), median of {args.runs}:")
    if args.torch:
        print(f"  --backend torch   : {cold_query_seconds(db, 'torch', args.runs):6.2f} s")
    query = [sys.executable, "-m", "vindex", "query", "a cat on a sofa", "--db", str(db), "-n", "5", "--backend", "openvino"]
    query_wall, query_cpu = timed(query, args.runs)
    bare_wall, bare_cpu = timed([sys.executable, "-c", BARE_IMPORTS], args.runs)
    print(f"  --backend openvino: {query_wall:6.2f} s wall, {query_cpu:5.2f} s CPU")
    print(f"  `python -c \"{BARE_IMPORTS}\"`: {bare_wall:6.2f} s wall, {bare_cpu:5.2f} s CPU")
    print(f"  ratio cold query / bare imports: {query_wall / bare_wall:.2f}x wall, {query_cpu / bare_cpu:.2f}x CPU")
    print("slowest top-level imports of a cold query (auto backend), cumulative seconds:")
    for seconds, name in slowest_imports(db):
        print(f"  {seconds:6.2f}  {name}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Cold `vindex query` wall time per backend on a synthetic index (10,000 videos by default).

    python scripts/bench_cold_query.py                  # ViT-B-32 (random weights), torch and OpenVINO
    python scripts/bench_cold_query.py --videos 1000 --runs 5

The index is filled with synthetic vectors as in bench_search.py; the model is ViT-B-32 with random
weights saved as a checkpoint (loading costs the same as real weights). The first OpenVINO query
converts the model into the cache (once per machine) and is not timed. Also prints the slowest
imports of a cold OpenVINO query (`python -X importtime`), and the ratio of a cold OpenVINO query to
the bare imports it cannot do without (`python -c "import numpy, pyarrow, openvino"`), in wall time
and in CPU time (the steadier figure on a busy machine), both ways side by side: answered locally
(`VINDEX_NO_SERVER=1`) and by a running `vindex serve` of the index (found through INDEX/serve.json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import build, cold_query_seconds, model_spec  # noqa: E402

from vindex.defaults import FRAMES_PER_VIDEO, MODEL  # noqa: E402

# The script runs the vindex of this checkout, also in the processes it starts.
ENVIRONMENT = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))


def slowest_imports(db: Path, count: int = 6) -> list[tuple[float, str]]:
    command = [sys.executable, "-X", "importtime", "-m", "vindex", "query", "a cat", "--db", str(db), "-n", "5"]
    result = subprocess.run(command, check=True, capture_output=True, text=True,
                            env=dict(ENVIRONMENT, VINDEX_NO_SERVER="1"))
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit() and not name.startswith("  "):  # top-level imports only
                rows.append((int(cumulative) / 1e6, name.strip()))
    return sorted(rows, reverse=True)[:count]


BARE_IMPORTS = "import numpy, pyarrow, openvino"


def cpu_name() -> str:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    return f"{name}, {os.cpu_count()} CPUs, {'with' if 'avx512_bf16' in info else 'without'} avx512_bf16"


def timed(command: list[str], runs: int, **variables: str) -> tuple[float, float]:
    """Median wall seconds and least CPU seconds of `command` over `runs` runs (after one untimed)."""
    environment = dict(ENVIRONMENT, **variables)
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


@contextmanager
def serving(db: Path) -> Iterator[str]:
    """`vindex serve` of `db` on a free port, running until the block ends; yields host:port."""
    process = subprocess.Popen([sys.executable, "-m", "vindex", "serve", "--db", str(db), "--port", "0", "-q"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=ENVIRONMENT)
    try:
        line = process.stdout.readline()
        assert line.startswith("vindex serve: http://"), f"vindex serve did not start: {line!r}"
        yield line.split()[2].removeprefix("http://").rstrip("/")
    finally:
        process.terminate()
        process.wait(timeout=60)


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
    bare_wall, bare_cpu = timed([sys.executable, "-c", BARE_IMPORTS], args.runs)
    local_wall, local_cpu = timed(query, args.runs, VINDEX_NO_SERVER="1")
    with serving(db) as address:
        served = json.loads(subprocess.run([*query, "--json"], check=True, capture_output=True, text=True,
                                           env=ENVIRONMENT).stdout)
        assert served.get("served_by") == address, f"the query was not answered by the server at {address}"
        served_wall, served_cpu = timed(query, args.runs)
    print(f"  on {cpu_name()}")
    print(f"  `python -c \"{BARE_IMPORTS}\"`: {bare_wall:6.2f} s wall, {bare_cpu:5.2f} s CPU")
    print(f"  {'way':<38} {'wall':>7} {'CPU':>7} {'ratio wall':>11} {'ratio CPU':>10}")
    for way, wall, cpu in (("local (VINDEX_NO_SERVER=1, openvino)", local_wall, local_cpu),
                           (f"by `vindex serve` at {address}", served_wall, served_cpu)):
        print(f"  {way:<38} {wall:6.2f}s {cpu:6.2f}s {wall / bare_wall:10.2f}x {cpu / bare_cpu:9.2f}x")
    print("slowest top-level imports of a cold query (auto backend), cumulative seconds:")
    for seconds, name in slowest_imports(db):
        print(f"  {seconds:6.2f}  {name}")


if __name__ == "__main__":
    main()

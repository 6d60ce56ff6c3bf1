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
(`VINDEX_NO_SERVER=1`) and by a running `vindex serve` of the index (found through INDEX/serve.json),
the three commands taking turns in each round.
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


def slowest_imports(db: Path, count: int = 6, served: bool = False) -> list[tuple[float, str]]:
    """The slowest top-level imports of a cold query, answered locally or (`served`) by a running server."""
    command = [sys.executable, "-X", "importtime", "-m", "vindex", "query", "a cat", "--db", str(db), "-n", "5"]
    result = subprocess.run(command, check=True, capture_output=True, text=True,
                            env=ENVIRONMENT if served else dict(ENVIRONMENT, VINDEX_NO_SERVER="1"))
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


def timed_side_by_side(commands: dict[str, tuple[list[str], dict[str, str]]], runs: int) -> dict[str, tuple[float, float]]:
    """Median wall seconds and least CPU seconds of each (command, variables) over `runs` rounds
    (after one untimed round), the commands taking turns in each round so that a change in the
    machine's load falls on all of them alike."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(runs + 1):
        for name, (command, variables) in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=dict(ENVIRONMENT, **variables))
            if round_:
                walls[name].append(time.perf_counter() - started)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {name: (statistics.median(walls[name]), min(cpus[name])) for name in commands}


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
    with serving(db) as address:
        served = json.loads(subprocess.run([*query, "--json"], check=True, capture_output=True, text=True,
                                           env=ENVIRONMENT).stdout)
        assert served.get("served_by") == address, f"the query was not answered by the server at {address}"
        figures = timed_side_by_side({
            "bare": ([sys.executable, "-c", BARE_IMPORTS], {}),
            "local (VINDEX_NO_SERVER=1, openvino)": (query, {"VINDEX_NO_SERVER": "1"}),
            f"by `vindex serve` at {address}": (query, {}),
        }, args.runs)
        served_imports = slowest_imports(db, served=True)
    bare_wall, bare_cpu = figures.pop("bare")
    print(f"  on {cpu_name()}")
    print(f"  `python -c \"{BARE_IMPORTS}\"`: {bare_wall:6.2f} s wall, {bare_cpu:5.2f} s CPU")
    print(f"  {'way':<38} {'wall':>7} {'CPU':>7} {'ratio wall':>11} {'ratio CPU':>10}")
    for way, (wall, cpu) in figures.items():
        print(f"  {way:<38} {wall:6.2f}s {cpu:6.2f}s {wall / bare_wall:10.2f}x {cpu / bare_cpu:9.2f}x")
    for served, imports in ((False, slowest_imports(db)), (True, served_imports)):
        print(f"slowest top-level imports of a cold query {'a server answers' if served else 'answered locally'}, "
              "cumulative seconds:")
        for seconds, name in imports:
            print(f"  {seconds:6.2f}  {name}")

if __name__ == "__main__":
    main()

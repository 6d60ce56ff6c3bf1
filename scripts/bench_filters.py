#!/usr/bin/env python
"""Benchmark the `--under` / `--name` filter: the videos-table query that resolves it to ids
(before the vector search), on a synthetic videos table, beside a channel filter of the same size.

    python scripts/bench_filters.py                  # 100,000 rows
    python scripts/bench_filters.py --rows 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time

import lancedb
import pyarrow as pa

from vindex.store.filters import video_filter


def best_of(table, where: str, repeats: int = 5) -> tuple[int, float]:
    best, found = float("inf"), 0
    for _ in range(repeats):
        started = time.perf_counter()
        found = table.search().where(where).select(["id"]).limit(None).to_arrow().num_rows
        best = min(best, time.perf_counter() - started)
    return found, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    paths = [f"ch{i % 100:03d}/{2015 + i % 10}/clip_{i:07d}{'_beach' if i % 50 == 0 else ''}.mp4" for i in range(rows)]
    with tempfile.TemporaryDirectory() as folder:
        table = lancedb.connect(folder).create_table(
            "videos", pa.table({"id": [f"{i:016x}" for i in range(rows)], "path": paths,
                                "channel": [path.split("/")[0] for path in paths]}))
        for label, where in [
            ("--channel ch007", "channel IN ('ch007')"),
            ("--under ch007/2022", video_filter("/videos", under="ch007/2022")),
            ("--name '*beach*'", video_filter("/videos", name="*beach*")),
            ("--under ch000 --name '*beach*'", video_filter("/videos", under="ch000", name="*beach*")),
        ]:
            found, seconds = best_of(table, where)
            print(f"{label:<32} {found:>7,} of {rows:,} rows in {seconds * 1000:7.1f} ms")


if __name__ == "__main__":
    main()

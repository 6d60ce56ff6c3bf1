"""Latency of `vindex serve` from a client on 127.0.0.1: warm text queries, and cluster pages of
60 thumbnails fetched cold (nothing in the thumbnail cache) the way a browser fetches them.

    python scripts/bench_serve.py --videos 10000          # builds (once) a corpus of small clips, tiny model
    python scripts/bench_serve.py --db demo/.vindex       # an existing index (clustered, or it is clustered)

The server runs as `vindex serve --port 0` in a subprocess, so the figures include HTTP, JSON and
the thread pool, as a browser sees them. Percentiles are over a fixed number of requests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from vindex.defaults import SERVE_PAGE_SIZE, TINY_MODEL

BROWSER_CONNECTIONS = 6  # what Chromium opens per host over HTTP/1.1
WORDS = ("city", "night", "neon", "forest", "ocean", "abstract", "stripes", "crowd", "snow", "sunset", "cat", "car",
         "rings", "pastel", "dark", "bright", "slow", "fast", "close-up", "aerial")


def build(work: Path, videos: int) -> Path:
    """A corpus of `videos` small generated clips in 10 channels, indexed with the tiny model (kept for reruns)."""
    from vindex.demo import make_corpus
    from vindex.embedding import ModelSpec
    from vindex.index import Index

    db, corpus = work / "index.vindex", work / "channels"
    marker = work / f"built-{videos}"
    if marker.exists():
        return db
    shutil.rmtree(work, ignore_errors=True)
    started = time.perf_counter()
    make_corpus(corpus, channels=10, videos_per_channel=videos // 10, seed=1, size=(64, 48), seconds=(1.0, 2.0), fps=8)
    print(f"generated {videos} clips in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    Index(str(db)).add(corpus, model=ModelSpec(TINY_MODEL))
    print(f"indexed them in {time.perf_counter() - started:.0f} s", flush=True)
    marker.touch()
    return db


def ensure_clustered(db: Path) -> None:
    from vindex.index import Index

    if Index(str(db)).meta.clustering is None:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vindex", "cluster", "--db", str(db), "--min-size", "10", "--no-report",
                        "-q"], check=True)
        print(f"clustered in {time.perf_counter() - started:.0f} s", flush=True)


def start_server(db: Path) -> tuple[subprocess.Popen, str, float]:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "vindex", "serve", "--db", str(db), "--port", "0", "-q"],
                               stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.startswith("vindex serve: http://"):
            return process, line.split()[2].rstrip("/"), time.perf_counter() - started
    raise SystemExit(f"the server did not start (exit {process.wait()})")


def get(url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url) as response:
        body = response.read()
    return time.perf_counter() - started, body


def percentiles(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    cut = statistics.quantiles(ms, n=100, method="inclusive")
    return f"p50 {cut[49]:.0f} ms · p90 {cut[89]:.0f} ms · p99 {cut[98]:.0f} ms · max {ms[-1]:.0f} ms (n={len(ms)})"


def bench_queries(base: str, count: int) -> list[float]:
    texts = [f"{WORDS[i % len(WORDS)]} {WORDS[(i * 7 + 3) % len(WORDS)]} {i}" for i in range(count)]
    for text in texts[:3]:  # warm-up: the first requests open the tables' files
        get(f"{base}/api/query?" + urllib.parse.urlencode({"q": text, "limit": 10}))
    return [get(f"{base}/api/query?" + urllib.parse.urlencode({"q": text, "limit": 10}))[0] for text in texts]


def cluster_page(base: str, cluster: int, page: int) -> tuple[float, int]:
    """Seconds until the page's HTML and all its thumbnails are in, fetched over browser-like connections."""
    started = time.perf_counter()
    _, html = get(f"{base}/clusters/{cluster}?page={page}")
    thumbnails = [part.split('"')[0] for part in html.decode().split('src="/media/thumb/')[1:]]
    with ThreadPoolExecutor(BROWSER_CONNECTIONS) as pool:
        list(pool.map(lambda path: get(f"{base}/media/thumb/{path}"), thumbnails))
    return time.perf_counter() - started, len(thumbnails)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="an existing index (default: build one of --videos clips)")
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/vindex-bench-serve"))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--pages", type=int, default=5, help="cold cluster pages to load")
    args = parser.parse_args()
    db = args.db or build(args.work, args.videos)
    ensure_clustered(db)
    thumbnails = db.resolve().with_name(db.resolve().name + "-thumbnails")
    shutil.rmtree(thumbnails, ignore_errors=True)  # cold: nothing decoded yet
    process, base, ready = start_server(db)
    try:
        info = json.loads(get(f"{base}/api/info")[1])
        print(f"index: {info['videos']} videos, {info['frames']} frames, model {info['model']} "
              f"({os.cpu_count()} CPUs); server ready in {ready:.1f} s (model loaded, one query run)")
        print(f"warm text query, /api/query limit 10: {percentiles(bench_queries(base, args.queries))}")
        clusters = [row for row in json.loads(get(f"{base}/api/clusters")[1]) if row["id"] >= 0]
        pages = [(row["id"], page) for row in clusters
                 for page in range(1, row["size"] // SERVE_PAGE_SIZE + 1)][: args.pages]
        if not pages:
            print(f"no cluster has {SERVE_PAGE_SIZE} videos: no full cluster page to measure")
            return
        cold = [cluster_page(base, cluster, page) for cluster, page in pages]
        warm = [cluster_page(base, cluster, page) for cluster, page in pages]
        print(f"cluster page + {cold[0][1]} thumbnails, cold: {percentiles([s for s, _ in cold])}")
        print(f"cluster page + {warm[0][1]} thumbnails, cached: {percentiles([s for s, _ in warm])}")
        cluster = clusters[0]["id"]
        json_page = [get(f"{base}/api/clusters/{cluster}?page=1")[0] for _ in range(args.queries // 4)]
        print(f"/api/clusters/{cluster}?page=1 (JSON): {percentiles(json_page)}")
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Poll `vindex serve`'s /api/info while `vindex add --reembed --commit-every 2` rewrites the
index, and count the answers no consistent state could give (frames != frames per video x videos)
and the requests answered "damaged". Prints one line per run.

    python scripts/bench_reads_during_write.py              # 24 tiny videos, 2 re-embeds, vindex-tiny
    python scripts/bench_reads_during_write.py --videos 48 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from vindex.demo import make_corpus

FRAMES = 5  # the synthetic videos are long enough for the default 5 frames each


def vindex(*arguments: str, **options) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vindex", *arguments], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vindex-reads-"))
    folder, db = work / "videos", work / "index.vindex"
    make_corpus(folder, channels=2, videos_per_channel=args.videos // 2, seed=5, size=(64, 48), seconds=(1.0, 1.5),
                fps=10)
    adding = ["add", str(folder), "--db", str(db), "--model", "vindex-tiny", "-q", "--commit-every", "2"]
    vindex(*adding).wait()
    server = vindex("serve", "--db", str(db), "--port", str(args.port), "-q")
    url = f"http://127.0.0.1:{args.port}/api/info"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    try:
        for run in range(args.runs):
            writer, total, impossible, damaged = vindex(*adding, "--reembed"), 0, 0, 0
            while writer.poll() is None:
                total += 1
                try:
                    info = json.load(urllib.request.urlopen(url, timeout=5))
                    impossible += info["frames"] != FRAMES * info["videos"]
                except urllib.error.HTTPError as error:
                    damaged += "damaged" in error.read().decode()
            print(f"re-embed {run + 1}: {total} requests, {impossible} impossible answers, {damaged} 'damaged'")
    finally:
        server.terminate()


if __name__ == "__main__":
    os.environ.setdefault("VINDEX_CACHE", tempfile.mkdtemp(prefix="vindex-cache-"))
    main()
